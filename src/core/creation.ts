// Creating tensors: filled, from host data, ranges — on the chosen backend (setBackend), in the
// default dtype (float32; float64 inside withFloat64) unless told otherwise.

import { backend, defaultDtype, getBackend, type Backend, type DType } from "./backend.ts";
import { emit } from "./ops/primitive.ts";
import { checkShape, fmt, shapeSize, ShapeError, type Shape } from "./shape.ts";
import { fromStorage, type Tensor } from "./tensor.ts";

export interface CreateOptions {
  dtype?: DType;
  /** A registered backend's name; default: the one chosen with setBackend. */
  backend?: string;
}

/** The backend and dtype a new tensor gets (float64 goes to the reference backend where needed). */
function placement(opts: CreateOptions): { be: Backend; dtype: DType } {
  const dtype = opts.dtype ?? defaultDtype();
  const be = opts.backend ? getBackend(opts.backend) : backend();
  if (be.dtypes.includes(dtype)) return { be, dtype };
  if (opts.backend)
    throw new TypeError(`the ${be.name} backend cannot hold ${dtype} tensors (it has ${be.dtypes.join(", ")})`);
  return { be: getBackend("reference"), dtype };
}

/** Elements that one tensor may have: beyond this, creation refuses before allocating. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

function checkCreate(op: string, shape: Shape): void {
  checkShape(op, shape);
  if (shapeSize(shape) > MAX_ELEMENTS) {
    throw new RangeError(
      `${op}: shape ${fmt(shape)} has ${shapeSize(shape)} elements, more than one tensor may hold (${MAX_ELEMENTS})`,
    );
  }
}

/** A tensor of `shape` with every element `value` (recorded, not baked in, inside jit). */
export const full = <const S extends Shape>(shape: S, value: number, opts: CreateOptions = {}): Tensor<S> =>
  filled("full", shape, value, opts);

function filled<S extends Shape>(op: string, shape: S, value: number, opts: CreateOptions = {}): Tensor<S> {
  checkCreate(op, shape);
  if (typeof value !== "number") throw new TypeError(`${op}: value must be a number, got ${typeof value}`);
  const { be, dtype } = placement(opts);
  const fill = { code: [{ op: "const", value }], outputs: [0] } as const;
  return emit({
    op: "full",
    inputs: [],
    shape,
    dtype,
    backend: be,
    launch: (b, _in, outs) => b.elementwise(fill, [], shape, outs),
    vjp: null,
    program: fill,
    alwaysRecord: true,
  });
}

export const zeros = <const S extends Shape>(shape: S, opts?: CreateOptions): Tensor<S> =>
  filled("zeros", shape, 0, opts);
export const ones = <const S extends Shape>(shape: S, opts?: CreateOptions): Tensor<S> =>
  filled("ones", shape, 1, opts);

/** A 0-d tensor. */
export const scalar = (value: number, opts?: CreateOptions): Tensor<[]> => filled("scalar", [], value, opts);

/** The backend and dtype creation functions use for these options. */
export const placementOf = placement;

/** A tensor from flat row-major data; the data is copied. */
export function fromArray<const S extends Shape>(
  data: ArrayLike<number>,
  shape: S,
  opts: CreateOptions = {},
): Tensor<S> {
  checkCreate("fromArray", shape);
  if (data.length !== shapeSize(shape)) {
    throw new ShapeError(
      `fromArray: ${data.length} values do not fill shape ${fmt(shape)} (${shapeSize(shape)} elements)`,
    );
  }
  const { be, dtype } = placement(opts);
  return fromStorage(be.upload(data, dtype), shape);
}

/** A tensor from nested arrays; every row at one depth must have the same length. */
export function fromNested(values: unknown, opts?: CreateOptions): Tensor {
  const shape: number[] = [];
  for (let v = values; Array.isArray(v); v = v[0]) shape.push(v.length);
  const flat: number[] = [];
  const walk = (v: unknown, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof v !== "number") throw new ShapeError(`fromNested: expected a number at ${path}, got ${typeof v}`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new ShapeError(`fromNested: ragged array at ${path} (expected ${shape[dim]} elements at depth ${dim})`);
    }
    v.forEach((x, i) => walk(x, dim + 1, `${path}[${i}]`));
  };
  walk(values, 0, "values");
  return fromArray(flat, shape, opts);
}

/** [start, start+step, …) below stop. */
export function arange(start: number, stop?: number, step = 1, opts?: CreateOptions): Tensor<[number]> {
  if (stop === undefined) [start, stop] = [0, start];
  for (const [name, v] of [
    ["start", start],
    ["stop", stop],
    ["step", step],
  ] as const) {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new RangeError(`arange: ${name} must be a finite number, got ${v}`);
  }
  if (step === 0) throw new RangeError("arange: step must be non-zero");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > MAX_ELEMENTS) throw new RangeError(`arange: ${n} elements, more than one tensor may hold (${MAX_ELEMENTS})`);
  return fromArray(
    Array.from({ length: n }, (_, i) => start + i * step),
    [n],
    opts,
  );
}

/** The n×m identity (m defaults to n). */
export function eye<const N extends number, const M extends number = N>(
  n: N,
  m?: M,
  opts?: CreateOptions,
): Tensor<[N, M]> {
  const cols = (m ?? n) as M;
  checkCreate("eye", [n, cols]);
  const data = new Float64Array(n * cols);
  for (let i = 0; i < Math.min(n, cols); i++) data[i * cols + i] = 1;
  return fromArray(data, [n, cols] as [N, M], opts);
}
