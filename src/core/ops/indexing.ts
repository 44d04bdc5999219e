// Indexing: takeAlongAxis (gather) and its adjoint scatterAdd are primitives; take builds on them;
// argsort and argmax are kernels with no gradient. Indices are carried in float tensors (exact up to
// 2^24); the kernels check that each is an integer in range.

import { fmt, normalizeAxis, ShapeError, type Shape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { fromArray, zeros } from "../creation.ts";
import { broadcastTo, reshape } from "./movement.ts";
import { emit } from "./primitive.ts";

function checkIndex(op: string, x: Tensor, index: Tensor, axis: number): number {
  const ax = normalizeAxis(op, axis, x.shape.length);
  if (index.shape.length !== x.shape.length || index.shape.some((d, i) => i !== ax && d !== x.shape[i])) {
    throw new ShapeError(`${op}: index shape ${fmt(index.shape)} must equal ${fmt(x.shape)} outside axis ${ax}`);
  }
  return ax;
}

/** out[..., i, ...] = x[..., index[..., i, ...], ...] along `axis` (numpy take_along_axis). */
export function takeAlongAxis<S extends Shape>(x: Tensor, index: Tensor<S>, axis: number): Tensor<S> {
  const ax = checkIndex("takeAlongAxis", x, index, axis);
  return emit({
    op: "takeAlongAxis",
    inputs: [x, index],
    shape: index.shape,
    dtype: x.dtype,
    launch: (be, [v, i], [out]) => be.gather(v, i, ax, out),
    // d(take) = scatterAdd of dy into zeros at the same indices
    vjp: (dy, needs) => [
      needs[0] ? scatterAdd(zeros(x.shape, { dtype: dy.dtype, backend: dy.backend.name }), index, dy, ax) : null,
      null,
    ],
  });
}

/** base with src added at `index` along `axis` (repeated indices accumulate). */
export function scatterAdd<S extends Shape>(base: Tensor<S>, index: Tensor, src: Tensor, axis: number): Tensor<S> {
  const ax = checkIndex("scatterAdd", base, index, axis);
  if (src.shape.length !== index.shape.length || src.shape.some((d, i) => d !== index.shape[i])) {
    throw new ShapeError(`scatterAdd: src shape ${fmt(src.shape)} must equal index shape ${fmt(index.shape)}`);
  }
  return emit({
    op: "scatterAdd",
    inputs: [base, index, src],
    shape: base.shape,
    dtype: base.dtype === "float64" || src.dtype === "float64" ? "float64" : "float32",
    launch: (be, [b, i, s], [out]) => be.scatterAdd(b, i, s, ax, out),
    vjp: (dy, needs) => [needs[0] ? dy : null, null, needs[2] ? takeAlongAxis(dy, index, ax) : null],
  });
}

/** Rows (or slices) of x at the given 1-d indices along `axis` (numpy take). */
export function take(x: Tensor, indices: Tensor<[number]> | readonly number[], axis = 0): Tensor {
  const ax = normalizeAxis("take", axis, x.shape.length);
  const idx = indices instanceof Tensor ? indices : fromArray(indices, [indices.length]);
  const shape = x.shape.map((d, i) => (i === ax ? idx.size : d));
  const along = reshape(
    idx,
    x.shape.map((_, i) => (i === ax ? idx.size : 1)),
  );
  return takeAlongAxis(x, broadcastTo(along, shape), ax);
}

/** Indices that sort x along `axis`: ascending, stable (ties keep index order), NaN last. */
export function argsort(x: Tensor, axis = -1, opts: { descending?: boolean } = {}): Tensor {
  const ax = normalizeAxis("argsort", axis, x.shape.length);
  const descending = opts.descending === true;
  return emit({
    op: "argsort",
    inputs: [x],
    shape: x.shape,
    launch: (be, [v], [out]) => be.argsort(v, ax, descending, out),
    vjp: null,
  });
}

/** Index of the largest value along `axis` (the first one on ties; the first NaN if any). */
export function argmax(x: Tensor, axis = -1): Tensor {
  const ax = normalizeAxis("argmax", axis, x.shape.length);
  if (x.shape[ax] === 0) throw new ShapeError(`argmax: cannot reduce over an empty axis of ${fmt(x.shape)}`);
  return emit({
    op: "argmax",
    inputs: [x],
    shape: x.shape.filter((_, i) => i !== ax),
    launch: (be, [v], [out]) => be.argmax(v, ax, out),
    vjp: null,
  });
}
