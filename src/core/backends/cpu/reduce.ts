// The cpu backend's reductions: the layout is boiled down to rows (the reduced elements contiguous:
// reduceRows) or columns ([outer, red, inner] with contiguous inner: reduceColumns); any other
// layout is first copied into rows. Few long rows, or few columns, split the reduced axis over the
// threads into float64 partials that are combined here.
import type { ReduceOp, Target, View } from "../../backend.ts";
import { REDUCE_OPS } from "../../wasm/reduceKernels.ts";
import { cpuThreads, queueTask, runQueue, type Runtime, runtime } from "../../wasm/runtime.ts";
import * as K from "../hostKernels.ts";
import { hostTarget, hostView } from "./hostViews.ts";
import { baseIndex, WasmStorage } from "./storage.ts";
import { contiguousAt, tempAlloc, tempFree } from "./temporaries.ts";

/**
 * Below this many elements one thread is faster than the pool (bench/kernels.ts, 2 shared cores,
 * 2026-11-30, sums of rows of 256, µs one thread / two: one run 32K elements 11/11 and 64K 18/15,
 * another 128K 27/37 and 256K 51/39).
 */
const DEFAULT_PARALLEL_MIN = 1 << 17;
let parallelMin = DEFAULT_PARALLEL_MIN;
export function setReduceParallelThreshold(elements = DEFAULT_PARALLEL_MIN): void {
  parallelMin = elements;
}

// Runs of dims after merging: kind (1 = reduced), size, stride.
const runKind = new Int32Array(64);
const runSize = new Float64Array(64);
const runStride = new Float64Array(64);

export function reduce(op: ReduceOp, x: View, axes: readonly number[], out: Target): void {
  if (!(x.storage instanceof WasmStorage && out.storage instanceof WasmStorage) || x.shape.length > 64) {
    K.reduce(op, hostView(x), axes, ...hostTarget(out));
    return;
  }
  const rt = runtime();
  const code = REDUCE_OPS.indexOf(op);
  let kept = 1;
  let red = 1;
  let runs = 0;
  for (let d = 0; d < x.shape.length; d++) {
    const size = x.shape[d];
    const kind = axes.includes(d) ? 1 : 0;
    if (kind) red *= size;
    else kept *= size;
    if (size === 1) continue;
    const stride = x.strides[d];
    if (runs > 0 && runKind[runs - 1] === kind && runStride[runs - 1] === stride * size) {
      runSize[runs - 1] *= size;
      runStride[runs - 1] = stride;
    } else {
      runKind[runs] = kind;
      runSize[runs] = size;
      runStride[runs] = stride;
      runs++;
    }
  }
  const dst = baseIndex(out.storage) + out.offset;
  if (kept === 0) return;
  if (red === 0) {
    rt.f32.fill(op === "sum" ? 0 : op === "max" ? -Infinity : Infinity, dst, dst + kept);
    return;
  }
  const base = baseIndex(x.storage) + x.offset;
  // The one reduced run (if there is one), and the kept runs in order (if at most two).
  let reduced = -1;
  let reducedRuns = 0;
  let first = -1;
  let last = -1;
  let keptRuns = 0;
  for (let i = 0; i < runs; i++) {
    if (runKind[i] === 1) {
      reduced = i;
      reducedRuns++;
    } else {
      if (first < 0) first = i;
      last = i;
      keptRuns++;
    }
  }
  if (reducedRuns === 1 && runStride[reduced] === 1 && keptRuns <= 1) {
    rows(rt, code, base, keptRuns === 0 ? 0 : runStride[first], red, kept, dst);
    return;
  }
  if (reducedRuns === 1 && (keptRuns === 1 || keptRuns === 2) && runStride[last] === 1) {
    const outerStride = keptRuns === 2 ? runStride[first] : 0;
    const inner = runSize[last];
    columns(rt, code, base, kept / inner, outerStride, red, runStride[reduced], inner, dst);
    return;
  }
  // Anything else: copy the view with the reduced axes last into rows, then reduce those.
  const keep = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const order = [...keep, ...axes];
  const moved: View = { ...x, shape: order.map((d) => x.shape[d]), strides: order.map((d) => x.strides[d]) };
  const { at, temp } = contiguousAt(moved, "reduce");
  try {
    rows(rt, code, at, red, red, kept, dst);
  } finally {
    if (temp >= 0) tempFree(temp);
  }
}

/** out[r] = reduce(src[at + r·rowStride + (0 … len-1)]) for r < rows. */
function rows(rt: Runtime, op: number, at: number, rowStride: number, len: number, count: number, dst: number): void {
  const fn = rt.kernelIndex.reduceRows;
  const threads = count * len < parallelMin ? 1 : cpuThreads();
  if (threads === 1 || count >= 2 * threads) {
    const tasks = Math.min(count, 4 * threads);
    for (let t = 0; t < tasks; t++) {
      const r0 = Math.floor((t * count) / tasks);
      const r1 = Math.floor(((t + 1) * count) / tasks);
      queueTask(rt, fn, op, 4 * (at + r0 * rowStride), 4 * rowStride, len, r1 - r0, 4 * (dst + r0), 0);
    }
    runQueue(rt, threads);
    return;
  }
  // Few long rows: each row in `parts` pieces with float64 partial results, combined here.
  const parts = Math.min(Math.ceil((4 * threads) / count), Math.ceil(len / 1024));
  const partial = tempAlloc(8 * count * parts, "reduce");
  try {
    for (let r = 0; r < count; r++)
      for (let p = 0; p < parts; p++) {
        const j0 = Math.floor((p * len) / parts);
        const j1 = Math.floor(((p + 1) * len) / parts);
        queueTask(rt, fn, op, 4 * (at + r * rowStride + j0), 0, j1 - j0, 1, partial + 8 * (r * parts + p), 1);
      }
    runQueue(rt, threads);
    combine(rt, op, partial / 8, parts, count, 1, dst);
  } finally {
    tempFree(partial);
  }
}

/** out[o·inner + j] = reduce over i < red of src[at + o·outerStride + i·redStride + j]. */
function columns(
  rt: Runtime,
  op: number,
  at: number,
  outer: number,
  outerStride: number,
  red: number,
  redStride: number,
  inner: number,
  dst: number,
): void {
  const fn = rt.kernelIndex.reduceColumns;
  const threads = outer * red * inner < parallelMin ? 1 : cpuThreads();
  const src = 4 * at;
  const chunks = Math.ceil(inner / 256);
  if (threads === 1 || outer * chunks >= 2 * threads) {
    // Split the outputs: by outer index when there are enough, else by column chunks.
    if (outer >= 2 * threads || threads === 1) {
      const tasks = Math.min(outer, 4 * threads);
      for (let t = 0; t < tasks; t++) {
        const o0 = Math.floor((t * outer) / tasks);
        const o1 = Math.floor(((t + 1) * outer) / tasks);
        queueTask(rt, fn, op, src, outerStride, o0, o1, 0, red, redStride, inner, 0, inner, 4 * dst, 0);
      }
    } else
      for (let o = 0; o < outer; o++)
        for (let c = 0; c < chunks; c++) {
          const j1 = Math.min(inner, (c + 1) * 256);
          queueTask(rt, fn, op, src, outerStride, o, o + 1, 0, red, redStride, inner, c * 256, j1, 4 * dst, 0);
        }
    runQueue(rt, threads);
    return;
  }
  // Few columns: split the reduced axis, float64 partials combined here.
  const parts = Math.min(4 * threads, red);
  const n = outer * inner;
  const partial = tempAlloc(8 * n * parts, "reduce");
  try {
    for (let p = 0; p < parts; p++) {
      const i0 = Math.floor((p * red) / parts);
      const i1 = Math.floor(((p + 1) * red) / parts);
      queueTask(rt, fn, op, src, outerStride, 0, outer, i0, i1, redStride, inner, 0, inner, partial + 8 * p * n, 1);
    }
    runQueue(rt, threads);
    combine(rt, op, partial / 8, parts, 1, n, dst);
  } finally {
    tempFree(partial);
  }
}

/**
 * Combines float64 partials in order: out[i] = reduce over p of partial[(i_outer·parts + p)·n + i_inner]
 * for `count` × `n` outputs — sums in float64, max/min with the reference's rules (NaN wins, the
 * first of equal values stays).
 */
function combine(rt: Runtime, op: number, at: number, parts: number, count: number, n: number, dst: number): void {
  const f64 = rt.f64;
  for (let c = 0; c < count; c++)
    for (let i = 0; i < n; i++) {
      let acc = op === 0 ? 0 : op === 1 ? -Infinity : Infinity;
      let nan = false;
      for (let p = 0; p < parts; p++) {
        const v = f64[at + (c * parts + p) * n + i];
        if (op === 0) acc += v;
        else if (v !== v) nan = true;
        else if (op === 1 ? v > acc : v < acc) acc = v;
      }
      rt.f32[dst + c * n + i] = nan ? Number.NaN : acc;
    }
}
