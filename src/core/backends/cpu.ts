// The fast CPU backend: WebAssembly SIMD matmul over both cores (src/core/wasm) and tight strided
// JS loops for the rest, generated per op from one-line expressions. Falls back to the reference
// backend for what it does not specialise; property tests hold it to the reference.

import {
  allocStorage,
  registerBackend,
  setDefaultBackend,
  type Backend,
  type BinaryOp,
  type Storage,
  type UnaryOp,
  type View,
} from "../backend.ts";
import { erf } from "../prng.ts";
import { gemm, gemmBatched, wasmAvailable } from "../wasm/gemm.ts";
import { isContiguous, referenceBackend } from "./reference.ts";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// ---- Elementwise kernels: one compiled loop per op, over strided operands ----

const UNARY_EXPR: { [P in UnaryOp]: string } = {
  neg: "-x",
  exp: "Math.exp(x)",
  log: "Math.log(x)",
  sqrt: "Math.sqrt(x)",
  rsqrt: "1 / Math.sqrt(x)",
  abs: "Math.abs(x)",
  tanh: "Math.tanh(x)",
  erf: "erf(x)",
  sigmoid: "1 / (1 + Math.exp(-x))",
  relu: "(x > 0 ? x : x === x ? 0 : x)",
  sin: "Math.sin(x)",
  cos: "Math.cos(x)",
  sign: "(x > 0 ? 1 : x < 0 ? -1 : x)",
  floor: "Math.floor(x)",
};

const BINARY_EXPR: { [P in BinaryOp]: string } = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  pow: "Math.pow(x, y)",
  maximum: "(x !== x || y !== y ? NaN : x > y ? x : y)",
  minimum: "(x !== x || y !== y ? NaN : x < y ? x : y)",
  eq: "+(x === y)",
  ne: "+(x !== y)",
  lt: "+(x < y)",
  le: "+(x <= y)",
  gt: "+(x > y)",
  ge: "+(x >= y)",
};

type Zip = (out: Storage, a: View, b: View) => void;
type Map1 = (out: Storage, x: Storage, from: number) => void;

/** out[i] = f(a[i], b[i]) with an odometer over the outer dims and a strided inner loop. */
function compileZip(expr: string): Zip {
  // A kernel generated from a fixed table above (no user input reaches the source).
  return new Function(
    "out",
    "a",
    "b",
    `
    const shape = a.shape, rank = shape.length, n = out.length;
    if (n === 0) return;
    if (rank === 0) { const x = a.buffer[a.offset], y = b.buffer[b.offset]; out[0] = ${expr}; return; }
    const inner = shape[rank - 1], sa = a.strides[rank - 1], sb = b.strides[rank - 1];
    const A = a.buffer, B = b.buffer, idx = new Array(rank).fill(0);
    let ia = a.offset, ib = b.offset, o = 0;
    while (o < n) {
      if (sa === 1 && sb === 1) for (let j = 0; j < inner; j++) { const x = A[ia + j], y = B[ib + j]; out[o++] = ${expr}; }
      else if (sb === 0) { const y = B[ib]; for (let j = 0; j < inner; j++) { const x = A[ia + j * sa]; out[o++] = ${expr}; } }
      else if (sa === 0) { const x = A[ia]; for (let j = 0; j < inner; j++) { const y = B[ib + j * sb]; out[o++] = ${expr}; } }
      else for (let j = 0; j < inner; j++) { const x = A[ia + j * sa], y = B[ib + j * sb]; out[o++] = ${expr}; }
      for (let d = rank - 2; d >= 0; d--) {
        ia += a.strides[d]; ib += b.strides[d];
        if (++idx[d] < shape[d]) break;
        ia -= a.strides[d] * shape[d]; ib -= b.strides[d] * shape[d]; idx[d] = 0;
      }
    }`,
  ) as Zip;
}

function compileMap(expr: string): Map1 {
  // A kernel generated from a fixed table above (no user input reaches the source).
  return new Function(
    "erf",
    `return (out, src, from) => { for (let i = 0; i < out.length; i++) { const x = src[from + i]; out[i] = ${expr}; } };`,
  )(erf) as Map1;
}

const zips = Object.fromEntries(Object.entries(BINARY_EXPR).map(([op, e]) => [op, compileZip(e)])) as Record<
  BinaryOp,
  Zip
>;
const maps = Object.fromEntries(Object.entries(UNARY_EXPR).map(([op, e]) => [op, compileMap(e)])) as Record<
  UnaryOp,
  Map1
>;

// ---- Matmul on the wasm GEMM, reading strided views in place (transposes cost nothing) ----

function matmul(a: View, b: View): Storage {
  const rank = a.shape.length;
  const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
  const batchShape = a.shape.slice(0, -2);
  const batch = size(batchShape);
  const out = allocStorage(batch * m * n);
  if (out.length === 0) return out;
  if (k === 0) return out;
  const A = a.buffer as Float32Array;
  const B = b.buffer as Float32Array;
  const base = {
    m,
    n,
    k,
    a: A,
    aRowStride: a.strides[rank - 2],
    aColStride: a.strides[rank - 1],
    b: B,
    bRowStride: b.strides[rank - 2],
    bColStride: b.strides[rank - 1],
    c: out as Float32Array,
  };
  if (batchShape.length === 0) {
    gemm({ ...base, aOffset: a.offset, bOffset: b.offset, cOffset: 0 });
    return out;
  }
  // The innermost batch dim goes to gemmBatched; outer batch dims are walked here.
  const last = batchShape.length - 1;
  const inner = batchShape[last];
  const outerShape = batchShape.slice(0, last);
  if (inner === 0) return out;
  for (const [t, ao, bo] of batchOffsets(outerShape, a, b)) {
    gemmBatched(inner, {
      ...base,
      aOffset: ao,
      bOffset: bo,
      cOffset: t * inner * m * n,
      aBatchStride: a.strides[last],
      bBatchStride: b.strides[last],
      cBatchStride: m * n,
    });
  }
  return out;
}

/** For each index t over the leading `batchShape` dims (row-major): t and the offsets of a and b there. */
function* batchOffsets(batchShape: readonly number[], a: View, b: View): Generator<[number, number, number]> {
  const idx = new Array<number>(batchShape.length).fill(0);
  const count = size(batchShape);
  for (let t = 0; t < count; t++) {
    let ao = a.offset;
    let bo = b.offset;
    for (let d = 0; d < batchShape.length; d++) {
      ao += idx[d] * a.strides[d];
      bo += idx[d] * b.strides[d];
    }
    yield [t, ao, bo];
    for (let d = batchShape.length - 1; d >= 0; d--) {
      if (++idx[d] < batchShape[d]) break;
      idx[d] = 0;
    }
  }
}

// ---- Small matmuls stay in JS: strided reads in place, no staging ----

const SMALL_MATMUL_MACS = 1 << 14;

function smallMatmul(a: View, b: View): Storage {
  const rank = a.shape.length;
  const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
  const batchShape = a.shape.slice(0, -2);
  const out = allocStorage(size(batchShape) * m * n);
  const [ar, ac, br, bc] = [a.strides[rank - 2], a.strides[rank - 1], b.strides[rank - 2], b.strides[rank - 1]];
  for (const [t, ao, bo] of batchOffsets(batchShape, a, b)) {
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a.buffer[ao + i * ar + p * ac] * b.buffer[bo + p * br + j * bc];
        out[(t * m + i) * n + j] = acc;
      }
  }
  return out;
}

// ---- Reductions over the last axis (the common case: softmax, layer norm, loss) ----

function reduceLast(op: "sum" | "max" | "min", x: View): Storage {
  const r = x.shape[x.shape.length - 1];
  const n = size(x.shape) / r;
  const out = allocStorage(n);
  const src = x.buffer;
  for (let o = 0; o < n; o++) {
    const from = x.offset + o * r;
    if (op === "sum") {
      let acc = 0;
      for (let j = 0; j < r; j++) acc += src[from + j];
      out[o] = acc;
    } else {
      let acc = op === "max" ? -Infinity : Infinity;
      for (let j = 0; j < r; j++) {
        const v = src[from + j];
        if (v !== v) {
          acc = NaN;
          break;
        }
        if (op === "max" ? v > acc : v < acc) acc = v;
      }
      out[o] = acc;
    }
  }
  return out;
}

/** Sum over the leading axes (bias gradients: Σ over batch and tokens): out[j] = Σ_i x[i·inner + j]. */
function sumLeading(x: View, lead: number): Storage {
  const inner = size(x.shape.slice(lead));
  const outer = size(x.shape.slice(0, lead));
  const acc = new Float64Array(inner);
  const src = x.buffer;
  for (let i = 0; i < outer; i++) {
    const from = x.offset + i * inner;
    for (let j = 0; j < inner; j++) acc[j] += src[from + j];
  }
  const out = allocStorage(inner);
  out.set(acc);
  return out;
}

const wasm = wasmAvailable();

export const cpuBackend: Backend = {
  ...referenceBackend,
  name: "cpu",

  unary(op, x) {
    if (!isContiguous(x)) return referenceBackend.unary(op, x);
    const out = allocStorage(size(x.shape));
    maps[op](out, x.buffer, x.offset);
    return out;
  },

  binary(op, a, b) {
    const out = allocStorage(size(a.shape));
    zips[op](out, a, b);
    return out;
  },

  reduce(op, x, axes) {
    const rank = x.shape.length;
    const lastOnly = axes.length === 1 && axes[0] === rank - 1 && x.shape[rank - 1] > 0;
    if (lastOnly && isContiguous(x)) return reduceLast(op, x);
    const leading = axes.every((a, i) => a === i) && axes.length < rank;
    if (op === "sum" && leading && isContiguous(x)) return sumLeading(x, axes.length);
    return referenceBackend.reduce(op, x, axes);
  },

  matmul(a, b) {
    if (!wasm || a.buffer instanceof Float64Array || b.buffer instanceof Float64Array)
      return referenceBackend.matmul(a, b);
    const rank = a.shape.length;
    const macs = size(a.shape) * b.shape[rank - 1];
    if (macs < SMALL_MATMUL_MACS) return smallMatmul(a, b); // staging into wasm memory costs more than it saves
    return matmul(a, b);
  },
};

registerBackend("cpu", () => cpuBackend);
if (wasm) setDefaultBackend("cpu");
