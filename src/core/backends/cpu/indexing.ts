// The cpu backend's indexing kernels. gather and scatterAdd run as wasm kernels over the pool
// (wasm/indexKernels.ts) on contiguous [outer, n, inner] operands: by whole rows where the index is
// constant along the inner dims (stride 0 there: a token gather moves rows of the hidden size),
// else element by element. Every index is checked first: a non-integer or out-of-range one throws
// a RangeError naming the kernel, axis, value and size, before anything is written. argsort and
// argmax are the reference loops over the resident data.
import type { Target, View } from "../../backend.ts";
import { cpuThreads, queueTask, runQueue, runtime } from "../../wasm/runtime.ts";
import * as K from "../hostKernels.ts";
import { hostTarget, hostView } from "./hostViews.ts";
import { baseIndex, WasmStorage } from "./storage.ts";
import { isContiguous } from "../../shape.ts";
import { contiguousAt, tempFree } from "./temporaries.ts";

/**
 * Below this many elements one thread is faster than the pool: gather and scatterAdd move memory,
 * like a plain add (pool slower up to 256K elements on these 2 cores, bench/kernels.ts).
 */
const DEFAULT_PARALLEL_MIN = 1 << 18;
let parallelMin = DEFAULT_PARALLEL_MIN;
export function setIndexingParallelThreshold(elements = DEFAULT_PARALLEL_MIN): void {
  parallelMin = elements;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** outer × n × inner around `axis`. */
const around = (shape: readonly number[], axis: number) => ({
  outer: size(shape.slice(0, axis)),
  n: shape[axis],
  inner: size(shape.slice(axis + 1)),
});

function badIndex(kernel: string, i: number, axis: number, n: number): RangeError {
  const what = Number.isInteger(i) ? "out of range" : "not an integer";
  return new RangeError(`${kernel}: index ${i} along axis ${axis} is ${what} for a dimension of size ${n}`);
}

/** Throws unless every element of `index` is an integer in [0, n) (stride-0 dims visited once). */
function checkIndexView(kernel: string, index: View, axis: number, n: number): void {
  const v = hostView(index);
  const shape = v.shape.map((s, d) => (v.strides[d] === 0 ? Math.min(s, 1) : s));
  K.forEachIndex({ ...v, shape }, (_, at) => {
    const i = v.data[at];
    if (!(Number.isInteger(i) && i >= 0 && i < n)) throw badIndex(kernel, i, axis, n);
  });
}

/** Whether the index is constant along the dims after `axis` (one index per row of `inner`). */
function byRows(index: View, axis: number): boolean {
  for (let d = axis + 1; d < index.shape.length; d++) if (index.strides[d] !== 0 && index.shape[d] !== 1) return false;
  return true;
}

const temps: number[] = [];
function contiguous(v: View, what: string): number {
  if (isContiguous(v)) return baseIndex(v.storage as WasmStorage) + v.offset;
  const c = contiguousAt(v, what);
  temps.push(c.temp);
  return c.at;
}
function freeTemps(): void {
  for (const t of temps) tempFree(t);
  temps.length = 0;
}

/**
 * The index's values, contiguous: [outer, n] when `rows`, else [outer, n, inner]; each checked to
 * be an integer in [0, limit).
 */
function indexValues(kernel: string, index: View, axis: number, rows: boolean, limit: number): number {
  const v = rows
    ? { ...index, shape: index.shape.slice(0, axis + 1), strides: index.strides.slice(0, axis + 1) }
    : index;
  const at = contiguous(v, kernel);
  const f32 = runtime().f32;
  const end = at + size(v.shape);
  for (let k = at; k < end; k++) {
    const i = f32[k];
    if (!(Number.isInteger(i) && i >= 0 && i < limit)) throw badIndex(kernel, i, axis, limit);
  }
  return at;
}

const inHeap = (v: { storage: unknown }) => v.storage instanceof WasmStorage;

export function gather(x: View, index: View, axis: number, out: Target): void {
  const nx = x.shape[axis];
  if (!inHeap(x) || !inHeap(index) || !inHeap(out)) {
    checkIndexView("takeAlongAxis", index, axis, nx);
    K.gather(hostView(x), hostView(index), axis, ...hostTarget(out));
    return;
  }
  const { outer, n, inner } = around(index.shape, axis);
  if (outer * n * inner === 0) return;
  const rt = runtime();
  try {
    const rows = byRows(index, axis);
    const ia = indexValues("takeAlongAxis", index, axis, rows, nx);
    const xa = contiguous(x, "takeAlongAxis");
    const oa = baseIndex(out.storage as WasmStorage) + out.offset;
    const threads = outer * n * inner < parallelMin ? 1 : cpuThreads();
    // Tasks over outer ranges, or over parts of n when there are few outers: gathered rows never collide.
    const tasks = threads === 1 ? 1 : 4 * threads;
    const fn = rt.kernelIndex[rows ? "gatherRows" : "gatherElements"];
    const queue = (o0: number, o1: number, i0: number, i1: number) =>
      queueTask(rt, fn, 4 * xa, 4 * ia, 4 * oa, o0, o1, i0, i1, n, nx, inner, 0, inner);
    if (outer >= tasks)
      for (let t = 0; t < tasks; t++)
        queue(Math.floor((t * outer) / tasks), Math.floor(((t + 1) * outer) / tasks), 0, n);
    else {
      const parts = Math.min(n, Math.ceil(tasks / outer));
      for (let o = 0; o < outer; o++)
        for (let p = 0; p < parts; p++) queue(o, o + 1, Math.floor((p * n) / parts), Math.floor(((p + 1) * n) / parts));
    }
    runQueue(rt, threads);
  } finally {
    freeTemps();
  }
}

export function scatterAdd(base: View, index: View, src: View, axis: number, out: Target): void {
  const nb = base.shape[axis];
  if (!inHeap(base) || !inHeap(index) || !inHeap(src) || !inHeap(out)) {
    checkIndexView("scatterAdd", index, axis, nb);
    K.scatterAdd(hostView(base), hostView(index), hostView(src), axis, ...hostTarget(out));
    return;
  }
  const { outer, n, inner } = around(index.shape, axis);
  const rt = runtime();
  try {
    const rows = byRows(index, axis);
    const ia = outer * n * inner === 0 ? 0 : indexValues("scatterAdd", index, axis, rows, nb);
    // out = base (the elementwise identity copies any layout; a plain copy when contiguous)
    const oa = baseIndex(out.storage as WasmStorage) + out.offset;
    const ba = contiguous(base, "scatterAdd");
    if (ba !== oa) rt.f32.copyWithin(oa, ba, ba + size(base.shape));
    if (outer * n * inner === 0) return;
    const sa = contiguous(src, "scatterAdd");
    // Tasks must not write the same element: split by outer index, or by columns of inner.
    const threads = outer * n * inner < parallelMin ? 1 : cpuThreads();
    const fn = rt.kernelIndex[rows ? "scatterAddRows" : "scatterAddElements"];
    const byOuter = outer >= 2 * threads || inner < 64 || threads === 1;
    const tasks =
      threads === 1 ? 1 : byOuter ? Math.min(outer, 4 * threads) : Math.min(Math.ceil(inner / 16), 4 * threads);
    for (let t = 0; t < tasks; t++) {
      const [o0, o1] = byOuter ? [Math.floor((t * outer) / tasks), Math.floor(((t + 1) * outer) / tasks)] : [0, outer];
      const [r0, r1] = byOuter ? [0, inner] : [Math.floor((t * inner) / tasks), Math.floor(((t + 1) * inner) / tasks)];
      if (o1 > o0 && r1 > r0) queueTask(rt, fn, 4 * oa, 4 * ia, 4 * sa, o0, o1, 0, n, n, nb, inner, r0, r1);
    }
    runQueue(rt, threads);
  } finally {
    freeTemps();
  }
}

export function argsort(x: View, axis: number, descending: boolean, out: Target): void {
  K.argsort(hostView(x), axis, descending, ...hostTarget(out));
}

export function argmax(x: View, axis: number, out: Target): void {
  K.argmax(hostView(x), axis, ...hostTarget(out));
}
