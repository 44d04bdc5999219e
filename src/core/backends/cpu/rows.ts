// The cpu backend's fused row kernels (softmax, layer norm and their backward passes): rows of the
// last axis split over the threads; strided inputs are first copied into contiguous rows. The
// layer norm backward pass sums dweight and dbias per task in float64 and combines the tasks here.
// No JavaScript allocation on the common path (contiguous rows in the heap).
import type { Target, View } from "../../backend.ts";
import { CALL_SCALARS_AT, cpuThreads, queueTask, runQueue, type Runtime, runtime } from "../../wasm/runtime.ts";
import * as K from "../hostRowKernels.ts";
import { hostArray, hostTarget, hostView } from "./hostViews.ts";
import { baseIndex, WasmStorage } from "./storage.ts";
import { isContiguous } from "../../shape.ts";
import { contiguousAt, tempAlloc, tempFree } from "./temporaries.ts";

/**
 * Below these many elements one thread is faster than the pool (bench/kernels.ts, 2 shared cores,
 * 2026-11-30, rows of 256, µs one thread / two, two runs): softmax (an exp per element) 22/20 and
 * 30/39 at 4K, 44/29 and 40/32 at 8K; layer norm (a few flops per byte) 45/39 at 32K in one run,
 * 39/46 at 32K and 75/53 at 64K in the other. The backward passes are taken as layer norm.
 */
const SOFTMAX_MIN = 1 << 13;
const DEFAULT_PARALLEL_MIN = 1 << 16;
let parallelMin = DEFAULT_PARALLEL_MIN;
let softmaxMin = SOFTMAX_MIN;
/** Sets the cut-over (tests set 0 to use the pool for any size); no argument restores the defaults. */
export function setRowsParallelThreshold(elements?: number): void {
  parallelMin = elements ?? DEFAULT_PARALLEL_MIN;
  softmaxMin = elements ?? SOFTMAX_MIN;
}

const inHeap = (v: { storage: unknown }) => v.storage instanceof WasmStorage;
const lastDim = (x: View) => (x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]);
const rowCount = (x: View, d: number) => (d === 0 ? 0 : x.shape.reduce((a, b) => a * b, 1) / d);
const targetAt = (t: Target) => baseIndex(t.storage as WasmStorage) + t.offset;

// Temporaries of the current call (contiguous copies of strided inputs), freed by freeTemps().
const temps: number[] = [];
/** The f32 index of the view's rows, contiguous (copying them to a temporary if they are not). */
function rowsAt(v: View, what: string): number {
  if (isContiguous(v)) return baseIndex(v.storage as WasmStorage) + v.offset;
  const c = contiguousAt(v, what);
  temps.push(c.temp);
  return c.at;
}
function freeTemps(): void {
  for (const t of temps) tempFree(t);
  temps.length = 0;
}

/** Threads for n rows of d (one below the cut-over `min`), and the tasks to split them into. */
function plan(n: number, d: number, min = parallelMin): [threads: number, tasks: number] {
  const threads = n * d < min ? 1 : Math.min(cpuThreads(), n);
  return [threads, threads === 1 ? 1 : Math.min(n, 4 * threads)];
}
const rowOf = (t: number, tasks: number, n: number) => Math.floor((t * n) / tasks);

export function softmax(x: View, out: Target): void {
  if (!inHeap(x) || !inHeap(out)) {
    K.softmax(hostView(x), ...hostTarget(out));
    return;
  }
  const rt = runtime();
  const d = lastDim(x);
  const n = rowCount(x, d);
  if (n === 0) return;
  try {
    const xa = rowsAt(x, "softmax");
    const o = targetAt(out);
    const fn = rt.kernelIndex.softmaxRows;
    const [threads, tasks] = plan(n, d, softmaxMin);
    for (let t = 0; t < tasks; t++) {
      const [r0, r1] = [rowOf(t, tasks, n), rowOf(t + 1, tasks, n)];
      queueTask(rt, fn, 4 * (xa + r0 * d), 4 * (o + r0 * d), d, r1 - r0);
    }
    runQueue(rt, threads);
  } finally {
    freeTemps();
  }
}

export function softmaxBackward(y: View, dy: View, out: Target): void {
  if (!inHeap(y) || !inHeap(dy) || !inHeap(out)) {
    K.softmaxBackward(hostView(y), hostView(dy), ...hostTarget(out));
    return;
  }
  const rt = runtime();
  const d = lastDim(y);
  const n = rowCount(y, d);
  if (n === 0) return;
  try {
    const [ya, ga, o] = [rowsAt(y, "softmaxBackward"), rowsAt(dy, "softmaxBackward"), targetAt(out)];
    const fn = rt.kernelIndex.softmaxBackwardRows;
    const [threads, tasks] = plan(n, d);
    for (let t = 0; t < tasks; t++) {
      const [r0, r1] = [rowOf(t, tasks, n), rowOf(t + 1, tasks, n)];
      queueTask(rt, fn, 4 * (ya + r0 * d), 4 * (ga + r0 * d), 4 * (o + r0 * d), d, r1 - r0);
    }
    runQueue(rt, threads);
  } finally {
    freeTemps();
  }
}

export function layerNorm(
  x: View,
  weight: View,
  bias: View,
  eps: number,
  out: Target,
  mean: Target,
  rstd: Target,
): void {
  if (!inHeap(x) || !inHeap(weight) || !inHeap(bias) || !inHeap(out) || !inHeap(mean) || !inHeap(rstd)) {
    const [o, at] = hostTarget(out);
    const [m, meanAt] = hostTarget(mean);
    const [r, rstdAt] = hostTarget(rstd);
    K.layerNorm(hostView(x), hostView(weight), hostView(bias), eps, { out: o, at, mean: m, meanAt, rstd: r, rstdAt });
    return;
  }
  const rt = runtime();
  const d = lastDim(x);
  const n = rowCount(x, d);
  if (n === 0) return;
  try {
    const [xa, wa, ba] = [rowsAt(x, "layerNorm"), rowsAt(weight, "layerNorm"), rowsAt(bias, "layerNorm")];
    const [o, m, r] = [targetAt(out), targetAt(mean), targetAt(rstd)];
    rt.f64[CALL_SCALARS_AT / 8] = eps;
    const fn = rt.kernelIndex.layerNormRows;
    const [threads, tasks] = plan(n, d);
    for (let t = 0; t < tasks; t++) {
      const [r0, r1] = [rowOf(t, tasks, n), rowOf(t + 1, tasks, n)];
      queueTask(
        rt,
        fn,
        4 * (xa + r0 * d),
        4 * wa,
        4 * ba,
        4 * (o + r0 * d),
        4 * (m + r0),
        4 * (r + r0),
        d,
        r1 - r0,
        CALL_SCALARS_AT,
      );
    }
    runQueue(rt, threads);
  } finally {
    freeTemps();
  }
}

export function layerNormBackward(
  dy: View,
  x: View,
  weight: View,
  mean: View,
  rstd: View,
  dx: Target | null,
  dweight: Target | null,
  dbias: Target | null,
): void {
  const resident =
    inHeap(dy) &&
    inHeap(x) &&
    inHeap(weight) &&
    inHeap(mean) &&
    inHeap(rstd) &&
    (!dx || inHeap(dx)) &&
    (!dweight || inHeap(dweight)) &&
    (!dbias || inHeap(dbias));
  if (!resident) {
    const t = (x: Target | null) => {
      if (!x) return null;
      const [data, at] = hostArray(x.storage);
      return { data, at: at + x.offset };
    };
    K.layerNormBackward(hostView(dy), hostView(x), hostView(weight), hostView(mean), hostView(rstd), {
      dx: t(dx),
      dweight: t(dweight),
      dbias: t(dbias),
    });
    return;
  }
  const rt = runtime();
  const d = lastDim(x);
  const n = rowCount(x, d);
  const sums = dweight !== null || dbias !== null;
  if (n === 0 || d === 0) {
    // No rows: the sums are empty (zeros).
    if (dweight) rt.f32.fill(0, targetAt(dweight), targetAt(dweight) + d);
    if (dbias) rt.f32.fill(0, targetAt(dbias), targetAt(dbias) + d);
    return;
  }
  const [threads, tasks] = plan(n, d);
  const partial = sums ? tempAlloc(16 * d * tasks, "layerNormBackward") : 0;
  try {
    const what = "layerNormBackward";
    const [ga, xa, wa, ma, ra] = [
      rowsAt(dy, what),
      rowsAt(x, what),
      rowsAt(weight, what),
      rowsAt(mean, what),
      rowsAt(rstd, what),
    ];
    const o = dx ? targetAt(dx) : 0;
    const fn = rt.kernelIndex.layerNormBackwardRows;
    const flags = (dx ? 1 : 0) | (sums ? 2 : 0);
    if (sums) rt.f64.fill(0, partial / 8, partial / 8 + 2 * d * tasks);
    for (let t = 0; t < tasks; t++) {
      const [r0, r1] = [rowOf(t, tasks, n), rowOf(t + 1, tasks, n)];
      queueTask(
        rt,
        fn,
        4 * (ga + r0 * d),
        4 * (xa + r0 * d),
        4 * wa,
        4 * (ma + r0),
        4 * (ra + r0),
        4 * (o + r0 * d),
        partial + 16 * d * t,
        d,
        r1 - r0,
        flags,
      );
    }
    runQueue(rt, threads);
    if (sums) combinePartials(rt, partial / 8, tasks, d, dweight, dbias);
  } finally {
    freeTemps();
    if (sums) tempFree(partial);
  }
}

/** dweight[j] = Σ over tasks of partial[t][j], dbias[j] = Σ partial[t][d + j] (float64, in task order). */
function combinePartials(
  rt: Runtime,
  at: number,
  tasks: number,
  d: number,
  dweight: Target | null,
  dbias: Target | null,
): void {
  const f64 = rt.f64;
  for (let which = 0; which < 2; which++) {
    const target = which === 0 ? dweight : dbias;
    if (!target) continue;
    const o = targetAt(target);
    const off = which === 0 ? 0 : d;
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let t = 0; t < tasks; t++) s += f64[at + 2 * d * t + off + j];
      rt.f32[o + j] = s;
    }
  }
}
