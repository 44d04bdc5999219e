// Indexing: takeAlongAxis (gather) and its adjoint scatterAdd are primitives; take, argsort and
// argmax build on them. Indices are carried in float tensors (exact up to 2^24).

import { backend } from "../backend.ts";
import { fmt, normalizeAxis, ShapeError, type Shape } from "../shape.ts";
import { fromArray, Tensor, zeros } from "../tensor.ts";
import { broadcastTo, reshape } from "./movement.ts";
import { emit } from "./primitive.ts";

function checkIndex(op: string, x: Tensor, index: Tensor, axis: number): number {
  const ax = normalizeAxis(op, axis, x.shape.length);
  if (index.shape.length !== x.shape.length || index.shape.some((d, i) => i !== ax && d !== x.shape[i])) {
    throw new ShapeError(`${op}: index shape ${fmt(index.shape)} must equal ${fmt(x.shape)} outside axis ${ax}`);
  }
  const n = x.shape[ax];
  for (const v of index.toFloat64Array()) {
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      throw new RangeError(`${op}: index ${v} out of range for axis ${ax} of size ${n} (shape ${fmt(x.shape)})`);
    }
  }
  return ax;
}

/** out[..., i, ...] = x[..., index[..., i, ...], ...] along `axis` (numpy take_along_axis). */
export function takeAlongAxis<S extends Shape>(x: Tensor, index: Tensor<S>, axis: number): Tensor<S> {
  const ax = checkIndex("takeAlongAxis", x, index, axis);
  // d(take) = scatterAdd of dy into zeros at the same indices
  return emit("takeAlongAxis", backend().gather(x, index, ax), index.shape, [x], (dy) => [
    scatterAdd(zeros(x.shape), index, dy, ax),
  ]);
}

/** base with src added at `index` along `axis` (repeated indices accumulate). */
export function scatterAdd<S extends Shape>(base: Tensor<S>, index: Tensor, src: Tensor, axis: number): Tensor<S> {
  const ax = checkIndex("scatterAdd", base, index, axis);
  if (src.shape.length !== index.shape.length || src.shape.some((d, i) => d !== index.shape[i])) {
    throw new ShapeError(`scatterAdd: src shape ${fmt(src.shape)} must equal index shape ${fmt(index.shape)}`);
  }
  return emit("scatterAdd", backend().scatterAdd(base, index, src, ax), base.shape, [base, src], (dy, needs) => [
    dy,
    needs[1] ? takeAlongAxis(dy, index, ax) : null,
  ]);
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
  return alongAxis("argsort", x, axis, (values) => {
    const order = Array.from(values, (_, i) => i);
    const key = (v: number) => (Number.isNaN(v) ? Infinity : opts.descending ? -v : v);
    order.sort(
      (i, j) =>
        key(values[i]) - key(values[j]) ||
        (Number.isNaN(values[i]) ? 1 : 0) - (Number.isNaN(values[j]) ? 1 : 0) ||
        i - j,
    );
    return order;
  });
}

/** Index of the largest value along `axis` (the first one on ties). */
export function argmax(x: Tensor, axis = -1): Tensor {
  const ax = normalizeAxis("argmax", axis, x.shape.length);
  if (x.shape[ax] === 0) throw new ShapeError(`argmax: cannot reduce over an empty axis of ${fmt(x.shape)}`);
  const full = alongAxis("argmax", x, ax, (values) => {
    let best = 0;
    for (let i = 1; i < values.length; i++)
      if (values[i] > values[best] || (Number.isNaN(values[i]) && !Number.isNaN(values[best]))) best = i;
    return new Array(values.length).fill(best);
  });
  return reshape(
    takeFirst(full, ax),
    x.shape.filter((_, i) => i !== ax),
  );
}

function takeFirst(x: Tensor, ax: number): Tensor {
  const idx = fromArray([0], [1]);
  return take(x, idx as Tensor<[number]>, ax);
}

/** Applies a per-line function to every 1-d line of x along `axis`; no gradient. */
function alongAxis(op: string, x: Tensor, axis: number, f: (values: Float64Array) => ArrayLike<number>): Tensor {
  const ax = normalizeAxis(op, axis, x.shape.length);
  const n = x.shape[ax];
  const data = x.toFloat64Array();
  const inner = x.shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  const outer = x.size / Math.max(1, n * inner);
  const out = new Float64Array(x.size);
  const line = new Float64Array(n);
  for (let o = 0; o < outer; o++)
    for (let r = 0; r < inner; r++) {
      for (let i = 0; i < n; i++) line[i] = data[(o * n + i) * inner + r];
      const res = f(line);
      for (let i = 0; i < n; i++) out[(o * n + i) * inner + r] = res[i];
    }
  return fromArray(out, x.shape);
}
