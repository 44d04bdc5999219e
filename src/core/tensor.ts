// The Tensor: an immutable, strided view of float32 storage (ndarray), with its shape in its type.

import ndarray from "ndarray";
import { allocStorage, type Storage, type View } from "./backend.ts";
import { copyStrided } from "./backends/reference.ts";
import { checkShape, contiguousStrides, fmt, shapeSize, ShapeError, type Shape } from "./shape.ts";
import type { Node } from "./tape.ts";

/** Nested arrays of numbers whose depth is the rank of S. */
export type Nested<S extends Shape> = S extends readonly [number, ...infer R extends number[]]
  ? Nested<R>[]
  : S extends readonly []
    ? number
    : unknown;

export class Tensor<S extends Shape = Shape> implements View {
  /** The dims; a frozen array. */
  readonly shape: S;
  readonly strides: readonly number[];
  readonly offset: number;
  readonly buffer: Storage;
  readonly size: number;
  /** Set when an op recorded this tensor in a trace (reverse mode). */
  readonly node: Node | undefined;

  /** @internal Tensors are made by ops and creation functions, never by callers. */
  constructor(buffer: Storage, shape: S, strides: readonly number[], offset: number, node?: Node) {
    this.buffer = buffer;
    this.shape = Object.freeze([...shape]) as unknown as S; // the array is a copy; its type is the caller's S
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.size = shapeSize(shape);
    this.node = node;
  }

  get rank(): S["length"] {
    return this.shape.length;
  }

  get dtype(): "float32" | "float64" {
    return this.buffer instanceof Float64Array ? "float64" : "float32";
  }

  /** The ndarray view of this tensor's storage (no copy). */
  get nd(): ndarray.NdArray<Storage> {
    return ndarray(this.buffer, [...this.shape], [...this.strides], this.offset);
  }

  /** The values in row-major order, as a new Float32Array (never the storage itself). */
  toArray(): Float32Array {
    return copyStrided(this, new Float32Array(this.size)) as Float32Array;
  }

  /** The values in row-major order as float64 (exact for float64 tensors). */
  toFloat64Array(): Float64Array {
    return copyStrided(this, new Float64Array(this.size)) as Float64Array;
  }

  /** Synchronous read-back (every CPU backend allows it). */
  dataSync(): Float32Array {
    return this.toArray();
  }

  /** Asynchronous read-back, as GPU backends need. */
  async data(): Promise<Float32Array> {
    return this.toArray();
  }

  /** Nested arrays, as fromNested takes them. */
  toNested(): Nested<S> {
    const flat = this.toFloat64Array();
    const build = (dim: number, at: number): unknown => {
      if (dim === this.shape.length) return flat[at];
      const stride = shapeSize(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, at + i * stride));
    };
    return build(0, 0) as Nested<S>;
  }

  /** The single value of a size-1 tensor. */
  item(): number {
    if (this.size !== 1)
      throw new ShapeError(`item: tensor of shape ${fmt(this.shape)} has ${this.size} elements, not 1`);
    return this.buffer[this.offset];
  }

  toString(): string {
    return `Tensor${fmt(this.shape)} ${this.dtype}`;
  }
}

/** @internal A tensor owning fresh contiguous storage. */
export function fromStorage<S extends Shape>(data: Storage, shape: S, node?: Node): Tensor<S> {
  return new Tensor(data, shape, contiguousStrides(shape), 0, node);
}

// ---- Creation ----

export function zeros<const S extends Shape>(shape: S): Tensor<S> {
  checkShape("zeros", shape);
  return fromStorage(allocStorage(shapeSize(shape)), shape);
}

export function full<const S extends Shape>(shape: S, value: number): Tensor<S> {
  checkShape("full", shape);
  const data = allocStorage(shapeSize(shape));
  data.fill(value);
  return fromStorage(data, shape);
}

export const ones = <const S extends Shape>(shape: S): Tensor<S> => full(shape, 1);

/** A 0-d tensor. */
export const scalar = (value: number): Tensor<[]> => full([], value);

/** A tensor from flat row-major data; the data is copied. */
export function fromArray<const S extends Shape>(data: ArrayLike<number>, shape: S): Tensor<S> {
  checkShape("fromArray", shape);
  if (data.length !== shapeSize(shape)) {
    throw new ShapeError(
      `fromArray: ${data.length} values do not fill shape ${fmt(shape)} (${shapeSize(shape)} elements)`,
    );
  }
  const storage = allocStorage(data.length);
  storage.set(data);
  return fromStorage(storage, shape);
}

/** A tensor from nested arrays; every row at one depth must have the same length. */
export function fromNested(values: unknown): Tensor {
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
  return fromArray(flat, shape);
}

/** [start, start+step, …) below stop, as float32. */
export function arange(start: number, stop?: number, step = 1): Tensor<[number]> {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0 || !Number.isFinite(step))
    throw new RangeError(`arange: step must be finite and non-zero, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocStorage(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return fromStorage(data, [n]);
}

/** The n×m identity (m defaults to n). */
export function eye<const N extends number, const M extends number = N>(n: N, m?: M): Tensor<[N, M]> {
  const cols = (m ?? n) as M;
  const t = zeros([n, cols] as [N, M]);
  for (let i = 0; i < Math.min(n, cols); i++) t.buffer[i * cols + i] = 1;
  return t;
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

/** Throws a TypeError naming `where` unless `v` is a Tensor. */
export function checkTensor(v: unknown, where: string): Tensor {
  if (!(v instanceof Tensor)) throw new TypeError(`${where}: expected a Tensor, got ${v === null ? "null" : typeof v}`);
  return v;
}

/**
 * Re-labels a tensor's shape type (no run-time effect). Ops on erased shapes return `Tensor`; the
 * typed public signatures use this once at their boundary, where the run-time checks already hold.
 */
export const typed = <S extends Shape>(t: Tensor): Tensor<S> => t as unknown as Tensor<S>;
