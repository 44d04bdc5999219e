// The cpu backend's indexing kernels, in JavaScript over the resident data (they move memory rather
// than compute): gather and scatterAdd copy whole contiguous runs where the index is constant along
// the inner dims (a token gather: rows of the hidden size), element by element otherwise; argsort
// and argmax are the reference loops. Every index is checked first: a non-integer or out-of-range
// one throws a RangeError naming the kernel, axis, value and size, so nothing is read or written
// outside a tensor.
import type { Target, View } from "../../backend.ts";
import * as K from "../hostKernels.ts";
import type { HostArray } from "../hostKernels.ts";
import { hostTarget, hostView } from "./hostViews.ts";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Throws unless every element of `index` is an integer in [0, n). Stride-0 dims are visited once
 * (their elements are one element).
 */
function checkIndices(kernel: string, index: View, axis: number, n: number): void {
  const v = hostView(index);
  const shape = v.shape.map((s, d) => (v.strides[d] === 0 ? Math.min(s, 1) : s));
  K.forEachIndex({ ...v, shape }, (_, at) => {
    const i = v.data[at];
    if (!(Number.isInteger(i) && i >= 0 && i < n)) {
      const what = Number.isInteger(i) ? "out of range" : "not an integer";
      throw new RangeError(`${kernel}: index ${i} along axis ${axis} is ${what} for a dimension of size ${n}`);
    }
  });
}

/** outer × n × inner around `axis`. */
const around = (shape: readonly number[], axis: number) => ({
  outer: size(shape.slice(0, axis)),
  n: shape[axis],
  inner: size(shape.slice(axis + 1)),
});

/** The index as [outer, n] when it is constant along the inner dims (strides 0 there), else null. */
function rowIndex(index: View, axis: number): Float64Array | null {
  for (let d = axis + 1; d < index.shape.length; d++) if (index.strides[d] !== 0 && index.shape[d] !== 1) return null;
  const { outer, n } = around(index.shape, axis);
  const v = hostView(index);
  const rows = new Float64Array(outer * n);
  K.forEachIndex(
    { ...v, shape: index.shape.slice(0, axis + 1), strides: index.strides.slice(0, axis + 1) },
    (i, at) => {
      rows[i] = v.data[at];
    },
  );
  return rows;
}

export function gather(x: View, index: View, axis: number, out: Target): void {
  checkIndices("gather", index, axis, x.shape[axis]);
  const rows = rowIndex(index, axis);
  const [o, oAt] = hostTarget(out);
  if (!rows) {
    K.gather(hostView(x), hostView(index), axis, o, oAt);
    return;
  }
  // Whole runs of `inner` elements: x's rows (contiguous in x, or copied so) into out's.
  const { outer, n, inner } = around(index.shape, axis);
  const nx = x.shape[axis];
  const src = K.contiguous(hostView(x));
  for (let a = 0; a < outer; a++)
    for (let i = 0; i < n; i++) {
      const from = (a * nx + rows[a * n + i]) * inner;
      copyRun(src, from, o, oAt + (a * n + i) * inner, inner);
    }
}

export function scatterAdd(base: View, index: View, src: View, axis: number, out: Target): void {
  checkIndices("scatterAdd", index, axis, base.shape[axis]);
  const rows = rowIndex(index, axis);
  const [o, oAt] = hostTarget(out);
  if (!rows) {
    K.scatterAdd(hostView(base), hostView(index), hostView(src), axis, o, oAt);
    return;
  }
  const { outer, n, inner } = around(index.shape, axis);
  const nb = base.shape[axis];
  const b = K.contiguous(hostView(base));
  copyRun(b, 0, o, oAt, b.length);
  const s = K.contiguous(hostView(src));
  for (let a = 0; a < outer; a++)
    for (let i = 0; i < n; i++) {
      const to = oAt + (a * nb + rows[a * n + i]) * inner;
      const from = (a * n + i) * inner;
      for (let r = 0; r < inner; r++) o[to + r] += s[from + r];
    }
}

/** dst[to …] = src[from …] for `count` floats (memmove within one buffer, no temporary copy). */
function copyRun(src: HostArray, from: number, dst: HostArray, to: number, count: number): void {
  if (src.buffer !== dst.buffer) {
    dst.set(src.subarray(from, from + count), to);
    return;
  }
  const at = (src.byteOffset - dst.byteOffset) / src.BYTES_PER_ELEMENT + from;
  if (at !== to) dst.copyWithin(to, at, at + count);
}

export function argsort(x: View, axis: number, descending: boolean, out: Target): void {
  K.argsort(hostView(x), axis, descending, ...hostTarget(out));
}

export function argmax(x: View, axis: number, out: Target): void {
  K.argmax(hostView(x), axis, ...hostTarget(out));
}
