// The reference backend: plain TypeScript loops, written to be read. Every faster kernel is held
// to these results by property tests. Strided inputs are first copied to contiguous order, so each
// kernel below is a flat loop.

import {
  allocStorage,
  registerBackend,
  type Backend,
  type BinaryOp,
  type ReduceOp,
  type Storage,
  type UnaryOp,
  type View,
} from "../backend.ts";
import { erf } from "../prng.ts";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function isContiguous(v: View): boolean {
  let expected = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

/** Copies a strided view into row-major order (an odometer over the outer dims, a loop over the last). */
export function copyStrided(v: View, out: Storage = allocStorage(size(v.shape))): Storage {
  const n = size(v.shape);
  const rank = v.shape.length;
  if (n === 0) return out;
  if (rank === 0) {
    out[0] = v.buffer[v.offset];
    return out;
  }
  if (isContiguous(v)) {
    out.set(v.buffer.subarray(v.offset, v.offset + n));
    return out;
  }
  const inner = v.shape[rank - 1];
  const innerStride = v.strides[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  let base = v.offset;
  for (let o = 0; o < n; ) {
    for (let j = 0; j < inner; j++) out[o++] = v.buffer[base + j * innerStride];
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      base += v.strides[d];
      if (index[d] < v.shape[d]) break;
      base -= v.strides[d] * v.shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** A contiguous array of the view's elements (the storage itself when already contiguous). */
export function contiguous(v: View): Storage {
  const n = size(v.shape);
  return isContiguous(v) ? v.buffer.subarray(v.offset, v.offset + n) : copyStrided(v);
}

export const unaryFns: { [P in UnaryOp]: (x: number) => number } = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  tanh: Math.tanh,
  erf,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => (x > 0 ? x : x === x ? 0 : x),
  sin: Math.sin,
  cos: Math.cos,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  floor: Math.floor,
};

export const binaryFns: { [P in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
};

/** Moves the given axes to the end (a strided view: no copy). */
export function axesLast(v: View, axes: readonly number[]): View {
  const keep = v.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const order = [...keep, ...axes];
  return {
    buffer: v.buffer,
    offset: v.offset,
    shape: order.map((i) => v.shape[i]),
    strides: order.map((i) => v.strides[i]),
  };
}

export const referenceBackend: Backend = {
  name: "reference",

  unary(op, x) {
    const f = unaryFns[op];
    const src = contiguous(x);
    const out = allocStorage(src.length);
    for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
    return out;
  },

  binary(op, a, b) {
    const f = binaryFns[op];
    const x = contiguous(a);
    const y = contiguous(b);
    const out = allocStorage(x.length);
    for (let i = 0; i < x.length; i++) out[i] = f(x[i], y[i]);
    return out;
  },

  where(cond, a, b) {
    const c = contiguous(cond);
    const x = contiguous(a);
    const y = contiguous(b);
    const out = allocStorage(c.length);
    for (let i = 0; i < c.length; i++) out[i] = c[i] !== 0 ? x[i] : y[i];
    return out;
  },

  reduce(op: ReduceOp, x, axes) {
    // Reduced axes last, then each output element reduces one contiguous run of r elements.
    const src = copyStrided(axesLast(x, axes));
    const r = axes.reduce((acc, a) => acc * x.shape[a], 1);
    const n = r === 0 ? size(x.shape.filter((_, i) => !axes.includes(i))) : src.length / r;
    const out = allocStorage(n);
    for (let o = 0; o < n; o++) {
      let acc = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
      for (let j = o * r; j < (o + 1) * r; j++) {
        const v = src[j];
        if (op === "sum") acc += v;
        else if (v !== v) acc = NaN;
        else if (op === "max" ? v > acc : v < acc) acc = v;
        if (acc !== acc && op !== "sum") break;
      }
      out[o] = acc;
    }
    return out;
  },

  matmul(a, b) {
    const rank = a.shape.length;
    const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
    const x = contiguous(a);
    const y = contiguous(b);
    const batch = m * k === 0 ? size(a.shape.slice(0, -2)) : x.length / (m * k);
    const out = allocStorage(batch * m * n);
    const row = new Float64Array(n);
    for (let t = 0; t < batch; t++) {
      for (let i = 0; i < m; i++) {
        row.fill(0);
        for (let p = 0; p < k; p++) {
          const aip = x[t * m * k + i * k + p];
          const yo = t * k * n + p * n;
          for (let j = 0; j < n; j++) row[j] += aip * y[yo + j];
        }
        out.set(row, t * m * n + i * n);
      }
    }
    return out;
  },

  copy: (x) => copyStrided(x),

  gather(x, index, axis) {
    const src = contiguous(x);
    const idx = contiguous(index);
    const outer = size(index.shape.slice(0, axis));
    const inner = size(index.shape.slice(axis + 1));
    const ni = index.shape[axis];
    const nx = x.shape[axis];
    const out = allocStorage(idx.length);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < ni; i++)
        for (let r = 0; r < inner; r++) {
          const at = (o * ni + i) * inner + r;
          out[at] = src[(o * nx + idx[at]) * inner + r];
        }
    return out;
  },

  scatterAdd(base, index, src, axis) {
    const out = copyStrided(base);
    const idx = contiguous(index);
    const s = contiguous(src);
    const outer = size(index.shape.slice(0, axis));
    const inner = size(index.shape.slice(axis + 1));
    const ni = index.shape[axis];
    const nb = base.shape[axis];
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < ni; i++)
        for (let r = 0; r < inner; r++) {
          const at = (o * ni + i) * inner + r;
          out[(o * nb + idx[at]) * inner + r] += s[at];
        }
    return out;
  },
};

registerBackend("reference", () => referenceBackend);
