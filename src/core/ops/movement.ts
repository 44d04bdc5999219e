// Movement primitives: reshape, permute, broadcast, slice, concat. Most are strided views of their
// input (no copy); each VJP moves the cotangent back the other way.

import type { Program } from "../backend.ts";
import { contiguousStrides, fmt, isContiguous, normalizeAxis, shapeSize, ShapeError, type Shape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { emit, emitView } from "./primitive.ts";
import { sum } from "./reduce.ts";

/** The one-instruction programs movement needs: a copy, and a fill with zeros. */
const COPY: Program = {
  code: [
    { op: "input", index: 0 },
    { op: "identity", x: 0 },
  ],
  outputs: [1],
};
const ZERO: Program = { code: [{ op: "const", value: 0 }], outputs: [0] };

/** A contiguous copy of x (the same values; gradients pass straight through). */
export function contiguous<S extends Shape>(x: Tensor<S>): Tensor<S> {
  if (isContiguous(x)) return x;
  return emit({
    op: "copy",
    inputs: [x],
    shape: x.shape,
    launch: (be, ins, outs) => be.elementwise(COPY, ins, x.shape, outs),
    vjp: (dy) => [dy],
    program: COPY,
  });
}

/** Replaces each -1 (at most one) by the dim that keeps the size. */
type Resolved<S extends Shape> = { [K in keyof S]: S[K] extends -1 ? number : S[K] };

/** Same elements, new shape (a view when the tensor is contiguous). One dim may be -1. */
export function reshape<const S extends Shape>(x: Tensor, shape: S): Tensor<Resolved<S>> {
  const target = resolveShape(x, shape);
  const back = (dy: Tensor) => [reshape(dy, x.shape)];
  const src = isContiguous(x) ? x : contiguous(x);
  return emitView("reshape", src, target as Resolved<S>, contiguousStrides(target), src.offset, back);
}

function resolveShape(x: Tensor, shape: Shape): number[] {
  const free = shape.filter((d) => d === -1).length;
  const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
  // With 0 known elements, a -1 could be any size (numpy and torch refuse it too).
  const bad = free > 1 || (free === 1 && known === 0) || shape.some((d) => !Number.isInteger(d) || d < -1);
  const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (bad || !Number.isInteger(resolved[shape.indexOf(-1)] ?? 0) || shapeSize(resolved) !== x.size) {
    throw new ShapeError(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  }
  return resolved;
}

/** Reorders the axes: out.shape[i] = x.shape[axes[i]] (a view). */
export function permute<S extends Shape>(x: Tensor<S>, axes: readonly number[]): Tensor {
  const rank = x.shape.length;
  const perm = axes.map((a) => normalizeAxis("permute", a, rank));
  if (perm.length !== rank || new Set(perm).size !== rank) {
    throw new ShapeError(
      `permute: axes [${axes.join(", ")}] are not a permutation of the ${rank} axes of ${fmt(x.shape)}`,
    );
  }
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => (inverse[p] = i));
  return emitView(
    "permute",
    x,
    perm.map((p) => x.shape[p]),
    perm.map((p) => x.strides[p]),
    x.offset,
    (dy) => [permute(dy, inverse)],
  );
}

/** Moves axis `from` to position `to`, keeping the others in order (a view). */
export function moveAxis(x: Tensor, from: number, to: number): Tensor {
  const rank = x.shape.length;
  const [f, t] = [normalizeAxis("moveAxis", from, rank), normalizeAxis("moveAxis", to, rank)];
  const order = x.shape.map((_, i) => i).filter((i) => i !== f);
  order.splice(t, 0, f);
  return permute(x, order);
}

/** Swaps two axes (the last two by default). */
export function transpose(x: Tensor, axis1 = -2, axis2 = -1): Tensor {
  const rank = x.shape.length;
  const [a, b] = [normalizeAxis("transpose", axis1, rank), normalizeAxis("transpose", axis2, rank)];
  const perm = Array.from({ length: rank }, (_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, perm);
}

/** Broadcasts to `shape` with numpy rules (a view with stride 0 on the broadcast dims). */
export function broadcastTo<const S extends Shape>(x: Tensor, shape: S): Tensor<S> {
  const rank = shape.length;
  const lead = rank - x.shape.length;
  if (lead < 0) throw new ShapeError(`broadcastTo: cannot broadcast ${fmt(x.shape)} to lower rank ${fmt(shape)}`);
  const strides = shape.map((d, i) => {
    const src = x.shape[i - lead];
    if (i < lead || (src === 1 && d !== 1)) return 0;
    if (src !== d) throw new ShapeError(`broadcastTo: cannot broadcast ${fmt(x.shape)} to ${fmt(shape)}`);
    return x.strides[i - lead];
  });
  if (lead === 0 && shape.every((d, i) => d === x.shape[i])) return x as unknown as Tensor<S>;
  return emitView("broadcastTo", x, shape, strides, x.offset, (dy) => [unbroadcast(dy, x.shape)]);
}

/** The adjoint of broadcasting: sums dy over the dims that broadcasting created. */
export function unbroadcast(dy: Tensor, shape: Shape): Tensor {
  const lead = dy.shape.length - shape.length;
  const axes = dy.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1));
  if (axes.length === 0) return dy;
  return reshape(sum(dy, axes), shape);
}

/** Inserts a size-1 axis at `axis`. */
export function expandDims(x: Tensor, axis: number): Tensor {
  const at = normalizeAxis("expandDims", axis, x.shape.length + 1);
  return reshape(x, [...x.shape.slice(0, at), 1, ...x.shape.slice(at)]);
}

/** Removes size-1 axes (the given ones, or all). */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const rank = x.shape.length;
  const list =
    axes === undefined
      ? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))
      : (typeof axes === "number" ? [axes] : axes).map((a) => normalizeAxis("squeeze", a, rank));
  for (const a of list)
    if (x.shape[a] !== 1) throw new ShapeError(`squeeze: axis ${a} of ${fmt(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => !list.includes(i)),
  );
}

/** Collapses all dims into one. */
export const flatten = (x: Tensor): Tensor<[number]> => reshape(x, [-1]) as Tensor<[number]>;

/** One axis of a slice: [start, stop) with a step (negative steps walk backwards), as Python's. */
export interface SliceSpec {
  start?: number;
  stop?: number;
  step?: number;
}

/** Slices each axis (missing axes are taken whole); a view. `null` takes an axis whole. */
export function slice(x: Tensor, specs: readonly (SliceSpec | null | undefined)[]): Tensor {
  const rank = x.shape.length;
  if (specs.length > rank)
    throw new ShapeError(`slice: ${specs.length} slice specs for a tensor of rank ${rank} ${fmt(x.shape)}`);
  let offset = x.offset;
  const shape: number[] = [];
  const strides: number[] = [];
  const ranges: [number, number, number][] = [];
  for (let d = 0; d < rank; d++) {
    const [start, count, step] = sliceRange(x.shape[d], specs[d] ?? {}, d);
    ranges.push([start, count, step]);
    offset += count > 0 ? start * x.strides[d] : 0;
    shape.push(count);
    strides.push(x.strides[d] * step);
  }
  return emitView("slice", x, shape, strides, offset, (dy) => [unslice(dy, x.shape, ranges)]);
}

function sliceRange(n: number, spec: SliceSpec, axis: number): [number, number, number] {
  if (spec === null || typeof spec !== "object")
    throw new ShapeError(`slice: spec for axis ${axis} must be an object, got ${spec}`);
  const step = spec.step ?? 1;
  if (!Number.isInteger(step) || step === 0)
    throw new ShapeError(`slice: step must be a non-zero integer on axis ${axis}, got ${step}`);
  for (const key of ["start", "stop"] as const) {
    const v = spec[key];
    if (v !== undefined && !Number.isInteger(v))
      throw new ShapeError(`slice: ${key} must be an integer on axis ${axis}, got ${v}`);
  }
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const norm = (v: number, lo: number, hi: number) => clamp(v < 0 ? v + n : v, lo, hi);
  const start =
    spec.start === undefined ? (step > 0 ? 0 : n - 1) : step > 0 ? norm(spec.start, 0, n) : norm(spec.start, -1, n - 1);
  const stop =
    spec.stop === undefined ? (step > 0 ? n : -1) : step > 0 ? norm(spec.stop, 0, n) : norm(spec.stop, -1, n - 1);
  const count = Math.max(0, Math.ceil((stop - start) / step));
  return [start, count, step];
}

/** The adjoint of slice: dy placed into zeros of the input's shape. */
function unslice(dy: Tensor, shape: Shape, ranges: readonly [number, number, number][]): Tensor {
  const strides = contiguousStrides(shape);
  const offset = ranges.reduce((o, [start, count], d) => o + (count > 0 ? start * strides[d] : 0), 0);
  const partStrides = ranges.map(([, , step], d) => strides[d] * step);
  return emit({
    op: "unslice",
    inputs: [dy],
    shape,
    launch: (be, ins, [out]) => {
      be.elementwise(ZERO, [], shape, [out]);
      be.elementwise(COPY, ins, dy.shape, [
        { ...out, shape: dy.shape, strides: partStrides, offset: out.offset + offset },
      ]);
    },
    vjp: (g) => [
      slice(
        g,
        ranges.map(([start, count, step]) => ({
          start,
          stop: start + count * step < 0 ? undefined : start + count * step,
          step,
        })),
      ),
    ],
  });
}

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError("concat: needs at least one tensor");
  const rank = xs[0].shape.length;
  const ax = normalizeAxis("concat", axis, rank);
  for (const x of xs) {
    if (x.shape.length !== rank || x.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      throw new ShapeError(`concat: shapes ${xs.map((t) => fmt(t.shape)).join(", ")} differ outside axis ${ax}`);
    }
  }
  const shape = xs[0].shape.map((d, i) => (i === ax ? xs.reduce((s, x) => s + x.shape[ax], 0) : d));
  const strides = contiguousStrides(shape);
  const starts = xs.map((_, i) => xs.slice(0, i).reduce((s, x) => s + x.shape[ax], 0));
  return emit({
    op: "concat",
    inputs: xs,
    shape,
    launch: (be, ins, [out]) =>
      ins.forEach((x, i) =>
        be.elementwise(COPY, [x], x.shape, [
          { ...out, shape: x.shape, strides, offset: out.offset + starts[i] * strides[ax] },
        ]),
      ),
    vjp: (dy, needs) =>
      xs.map((x, i) =>
        needs[i]
          ? slice(
              dy,
              shape.map((_, d) => (d === ax ? { start: starts[i], stop: starts[i] + x.shape[ax] } : null)),
            )
          : null,
      ),
  });
}
/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError("stack: needs at least one tensor");
  const ax = normalizeAxis("stack", axis, xs[0].shape.length + 1);
  if (xs.some((x) => fmt(x.shape) !== fmt(xs[0].shape)))
    throw new ShapeError(`stack: shapes ${xs.map((t) => fmt(t.shape)).join(", ")} differ`);
  return concat(
    xs.map((x) => expandDims(x, ax)),
    ax,
  );
}

/** Splits along an axis into `sections` equal parts, or at the given sizes. */
export function split(x: Tensor, sections: number | readonly number[], axis = 0): Tensor[] {
  const ax = normalizeAxis("split", axis, x.shape.length);
  const n = x.shape[ax];
  let sizes: number[];
  if (typeof sections === "number") {
    if (!Number.isInteger(sections) || sections <= 0 || n % sections !== 0) {
      throw new ShapeError(
        `split: axis ${ax} of ${fmt(x.shape)} (size ${n}) does not split into ${sections} equal parts`,
      );
    }
    sizes = new Array(sections).fill(n / sections);
  } else {
    sizes = [...sections];
    if (sizes.reduce((a, b) => a + b, 0) !== n || sizes.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new ShapeError(`split: sizes [${sizes.join(", ")}] do not add up to ${n} (axis ${ax} of ${fmt(x.shape)})`);
    }
  }
  let start = 0;
  return sizes.map((s) => {
    const part = slice(
      x,
      x.shape.map((_, d) => (d === ax ? { start, stop: start + s } : null)),
    );
    start += s;
    return part;
  });
}
