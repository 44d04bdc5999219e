// The reference kernels: plain TypeScript loops over host typed arrays, written to be read. They are
// the spec every fast kernel is held to (and the fallback the cpu backend uses where it has none).
// Strided inputs are first walked into row-major order, so each kernel below is a flat loop.

import type { BinaryOp, Program, ReduceOp, UnaryOp } from "../backend.ts";
import { erf } from "../prng.ts";
import { isContiguous } from "../shape.ts";

/** Host elements: float32 or float64. */
export type HostArray = Float32Array | Float64Array;

/** A strided view of a host array (the reference backend's View, with its array in hand). */
export interface HostView {
  readonly data: HostArray;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Calls visit(i, at) for every element in row-major order: i counts, `at` is its index into data. */
export function forEachIndex(v: Omit<HostView, "data">, visit: (i: number, at: number) => void): void {
  const n = size(v.shape);
  const rank = v.shape.length;
  if (n === 0) return;
  const index = new Array<number>(rank).fill(0);
  let at = v.offset;
  for (let i = 0; i < n; i++) {
    visit(i, at);
    for (let d = rank - 1; d >= 0; d--) {
      at += v.strides[d];
      if (++index[d] < v.shape[d]) break;
      at -= v.strides[d] * v.shape[d];
      index[d] = 0;
    }
  }
}

/** The view's elements in row-major order, in a new array of the given type. */
export function gatherView<A extends HostArray>(v: HostView, out: A): A {
  if (isContiguous(v)) out.set(v.data.subarray(v.offset, v.offset + size(v.shape)));
  else forEachIndex(v, (i, at) => (out[i] = v.data[at]));
  return out;
}

/** A row-major array of the view's elements (the data itself when already contiguous). */
export function contiguous(v: HostView): HostArray {
  const n = size(v.shape);
  if (isContiguous(v)) return v.data.subarray(v.offset, v.offset + n);
  return gatherView(v, v.data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));
}

// ---- Elementwise programs ----

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const phi = (x: number) => INV_SQRT_2PI * Math.exp(-0.5 * x * x); // standard normal density
const Phi = (x: number) => 0.5 * (1 + erf(x * Math.SQRT1_2)); //    its CDF

export const unaryFns: { [P in UnaryOp]: (x: number) => number } = {
  identity: (x) => x,
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
  gelu: (x) => x * Phi(x),
  geluDerivative: (x) => (x === Infinity ? 1 : x === -Infinity ? 0 : Phi(x) + x * phi(x)),
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

/**
 * Runs the program per element in float64; each output rounds to its array's type on store. (Fast
 * backends computing in float32 agree within float32 rounding per instruction.)
 */
export function runProgram(
  program: Program,
  inputs: readonly HostView[],
  shape: readonly number[],
  outputs: readonly HostView[],
): void {
  const n = size(shape);
  const ins = inputs.map((v) => contiguous({ ...v, shape }));
  const outs = outputs.map((o) => (isContiguous({ shape, strides: o.strides }) ? null : new Float64Array(n)));
  const regs = new Float64Array(program.code.length);
  for (let i = 0; i < n; i++) {
    program.code.forEach((ins_, r) => (regs[r] = step(ins_, regs, ins, i)));
    program.outputs.forEach((reg, j) => {
      const buf = outs[j];
      if (buf) buf[i] = regs[reg];
      else outputs[j].data[outputs[j].offset + i] = regs[reg];
    });
  }
  outs.forEach((buf, j) => {
    if (buf) forEachIndex({ ...outputs[j], shape }, (i, at) => (outputs[j].data[at] = buf[i]));
  });
}

function step(ins: Program["code"][number], regs: Float64Array, inputs: readonly HostArray[], i: number): number {
  switch (ins.op) {
    case "input":
      return inputs[ins.index][i];
    case "const":
      return ins.value;
    case "where":
      return regs[ins.cond] !== 0 ? regs[ins.x] : regs[ins.y];
    default:
      if ("y" in ins) return binaryFns[ins.op](regs[ins.x], regs[ins.y]);
      return unaryFns[ins.op](regs[ins.x]);
  }
}

// ---- Reductions ----

/** Moves the given axes to the end (a strided view: no copy). */
export function axesLast<V extends Omit<HostView, "data">>(v: V, axes: readonly number[]): V {
  const keep = v.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const order = [...keep, ...axes];
  return { ...v, shape: order.map((i) => v.shape[i]), strides: order.map((i) => v.strides[i]) };
}

/** Each output element reduces one run of r elements once the reduced axes are last. */
export function reduce(op: ReduceOp, x: HostView, axes: readonly number[], out: HostArray, at: number): void {
  const src = contiguous(axesLast(x, axes));
  const r = axes.reduce((acc, a) => acc * x.shape[a], 1);
  const n = size(x.shape.filter((_, i) => !axes.includes(i)));
  for (let o = 0; o < n; o++) {
    let acc = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
    for (let j = o * r; j < (o + 1) * r; j++) {
      const v = src[j];
      if (op === "sum") acc += v;
      else if (v !== v) {
        acc = NaN;
        break;
      } else if (op === "max" ? v > acc : v < acc) acc = v;
    }
    out[at + o] = acc;
  }
}

// ---- Matmul ----

/** Batched [.., m, k] @ [.., k, n], accumulating each row in float64. */
export function matmul(a: HostView, b: HostView, out: HostArray, at: number): void {
  const rank = a.shape.length;
  const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
  const x = contiguous(a);
  const y = contiguous(b);
  const batch = size(a.shape.slice(0, -2));
  const row = new Float64Array(n);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = x[t * m * k + i * k + p];
        const yo = t * k * n + p * n;
        for (let j = 0; j < n; j++) row[j] += aip * y[yo + j];
      }
      out.set(row, at + t * m * n + i * n);
    }
  }
}

// ---- Indexing ----

/** Splits a shape around `axis`: outer × n × inner. */
const around = (shape: readonly number[], axis: number) => ({
  outer: size(shape.slice(0, axis)),
  n: shape[axis],
  inner: size(shape.slice(axis + 1)),
});

/** Indices must be integers in [0, n): anything else is an error, never a read outside the tensor. */
export function checkIndices(kernel: string, idx: ArrayLike<number>, axis: number, n: number): void {
  for (let k = 0; k < idx.length; k++) {
    const j = idx[k];
    if (!(Number.isInteger(j) && j >= 0 && j < n)) {
      throw new RangeError(`${kernel}: index ${j} out of range for axis ${axis} of size ${n}`);
    }
  }
}

export function gather(x: HostView, index: HostView, axis: number, out: HostArray, at: number): void {
  const src = contiguous(x);
  const idx = contiguous(index);
  const { outer, n: ni, inner } = around(index.shape, axis);
  const nx = x.shape[axis];
  checkIndices("takeAlongAxis", idx, axis, nx);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < ni; i++)
      for (let r = 0; r < inner; r++) {
        const k = (o * ni + i) * inner + r;
        out[at + k] = src[(o * nx + idx[k]) * inner + r];
      }
}

export function scatterAdd(
  base: HostView,
  index: HostView,
  src: HostView,
  axis: number,
  out: HostArray,
  at: number,
): void {
  out.set(contiguous(base), at);
  const idx = contiguous(index);
  const s = contiguous(src);
  const { outer, n: ni, inner } = around(index.shape, axis);
  const nb = base.shape[axis];
  checkIndices("scatterAdd", idx, axis, nb);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < ni; i++)
      for (let r = 0; r < inner; r++) {
        const k = (o * ni + i) * inner + r;
        out[at + (o * nb + idx[k]) * inner + r] += s[k];
      }
}

/** Applies a per-line function to every 1-d line along `axis`, writing one value per element. */
function alongAxis(
  x: HostView,
  axis: number,
  out: HostArray,
  at: number,
  f: (line: Float64Array) => ArrayLike<number>,
): void {
  const data = contiguous(x);
  const { outer, n, inner } = around(x.shape, axis);
  const line = new Float64Array(n);
  for (let o = 0; o < outer; o++)
    for (let r = 0; r < inner; r++) {
      for (let i = 0; i < n; i++) line[i] = data[(o * n + i) * inner + r];
      const res = f(line);
      for (let i = 0; i < n; i++) out[at + (o * n + i) * inner + r] = res[i];
    }
}

export function argsort(x: HostView, axis: number, descending: boolean, out: HostArray, at: number): void {
  alongAxis(x, axis, out, at, (values) => {
    const order = Array.from(values, (_, i) => i);
    const key = (v: number) => (descending ? -v : v);
    const nan = (i: number) => (Number.isNaN(values[i]) ? 1 : 0);
    order.sort((i, j) => nan(i) - nan(j) || (nan(i) ? 0 : key(values[i]) - key(values[j])) || i - j);
    return order;
  });
}

export function argmax(x: HostView, axis: number, out: HostArray, at: number): void {
  const data = contiguous(x);
  const { outer, n, inner } = around(x.shape, axis);
  for (let o = 0; o < outer; o++)
    for (let r = 0; r < inner; r++) {
      let best = 0;
      for (let i = 1; i < n; i++) {
        const v = data[(o * n + i) * inner + r];
        const b = data[(o * n + best) * inner + r];
        if (Number.isNaN(b)) break;
        if (v > b || Number.isNaN(v)) best = i;
      }
      out[at + o * inner + r] = best;
    }
}
