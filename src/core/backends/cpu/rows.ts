// The cpu backend's fused row kernels (softmax, layer norm and their backward passes): rows of the
// last axis split over the threads; strided inputs are first copied into contiguous rows. The
// layer norm backward pass sums dweight and dbias per task in float64 and combines the tasks here.
import type { Target, View } from "../../backend.ts";
import { CALL_SCALARS_AT, cpuThreads, queueTask, runQueue, type Runtime, runtime } from "../../wasm/runtime.ts";
import * as K from "../hostKernels.ts";
import { hostArray, hostTarget, hostView } from "./hostViews.ts";
import { baseIndex, WasmStorage } from "./storage.ts";
import { contiguousAt, tempAlloc, tempFree } from "./temporaries.ts";

/** Below this many elements one thread is faster than waking the others (bench/kernels.ts). */
let parallelMin = 1 << 14;
export function setRowsParallelThreshold(elements = 1 << 14): void {
  parallelMin = elements;
}

const resident = (...xs: { storage: unknown }[]) => xs.every((x) => x.storage instanceof WasmStorage);
const rowsOf = (x: View) => {
  const d = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
  return { d, n: d === 0 ? 0 : x.shape.reduce((a, b) => a * b, 1) / d };
};
const targetAt = (t: Target) => baseIndex(t.storage as WasmStorage) + t.offset;

/** Splits n rows into tasks; `queue(r0, r1)` queues one. Returns the thread count to run them on. */
function splitRows(n: number, d: number, queue: (r0: number, r1: number) => void): number {
  const threads = n * d < parallelMin ? 1 : Math.min(cpuThreads(), n);
  const tasks = threads === 1 ? 1 : Math.min(n, 4 * threads);
  for (let t = 0; t < tasks; t++) {
    const r0 = Math.floor((t * n) / tasks);
    const r1 = Math.floor(((t + 1) * n) / tasks);
    if (r1 > r0) queue(r0, r1);
  }
  return threads;
}

/** Runs `body` with contiguous copies of the views where needed, freeing them after. */
function withContiguous(views: View[], what: string, body: (at: number[]) => void): void {
  const temps: number[] = [];
  try {
    const at = views.map((v) => {
      const c = contiguousAt(v, what);
      if (c.temp >= 0) temps.push(c.temp);
      return c.at;
    });
    body(at);
  } finally {
    for (const t of temps) tempFree(t);
  }
}

export function softmax(x: View, out: Target): void {
  if (!resident(x, out)) {
    K.softmax(hostView(x), ...hostTarget(out));
    return;
  }
  const rt = runtime();
  const { d, n } = rowsOf(x);
  if (n === 0) return;
  withContiguous([x], "softmax", ([xa]) => {
    const o = targetAt(out);
    const fn = rt.kernelIndex.softmaxRows;
    const threads = splitRows(n, d, (r0, r1) => queueTask(rt, fn, 4 * (xa + r0 * d), 4 * (o + r0 * d), d, r1 - r0));
    runQueue(rt, threads);
  });
}

export function softmaxBackward(y: View, dy: View, out: Target): void {
  if (!resident(y, dy, out)) {
    K.softmaxBackward(hostView(y), hostView(dy), ...hostTarget(out));
    return;
  }
  const rt = runtime();
  const { d, n } = rowsOf(y);
  if (n === 0) return;
  withContiguous([y, dy], "softmaxBackward", ([ya, ga]) => {
    const o = targetAt(out);
    const fn = rt.kernelIndex.softmaxBackwardRows;
    const threads = splitRows(n, d, (r0, r1) =>
      queueTask(rt, fn, 4 * (ya + r0 * d), 4 * (ga + r0 * d), 4 * (o + r0 * d), d, r1 - r0),
    );
    runQueue(rt, threads);
  });
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
  if (!resident(x, weight, bias, out, mean, rstd)) {
    const [o, at] = hostTarget(out);
    const [m, meanAt] = hostTarget(mean);
    const [r, rstdAt] = hostTarget(rstd);
    K.layerNorm(hostView(x), hostView(weight), hostView(bias), eps, {
      out: o,
      at,
      mean: m,
      meanAt,
      rstd: r,
      rstdAt,
    });
    return;
  }
  const rt = runtime();
  const { d, n } = rowsOf(x);
  if (n === 0) return;
  withContiguous([x, weight, bias], "layerNorm", ([xa, wa, ba]) => {
    const [o, m, r] = [targetAt(out), targetAt(mean), targetAt(rstd)];
    rt.f64[CALL_SCALARS_AT / 8] = eps;
    const fn = rt.kernelIndex.layerNormRows;
    const threads = splitRows(n, d, (r0, r1) =>
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
      ),
    );
    runQueue(rt, threads);
  });
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
  const targets = [dx, dweight, dbias].filter((t): t is Target => t !== null);
  if (!resident(dy, x, weight, mean, rstd, ...targets)) {
    hostLayerNormBackward(dy, x, weight, mean, rstd, dx, dweight, dbias);
    return;
  }
  const rt = runtime();
  const { d, n } = rowsOf(x);
  const sums = dweight !== null || dbias !== null;
  if (n === 0 || d === 0) {
    // No rows: the sums are empty (zeros).
    if (dweight) rt.f32.fill(0, targetAt(dweight), targetAt(dweight) + d);
    if (dbias) rt.f32.fill(0, targetAt(dbias), targetAt(dbias) + d);
    return;
  }
  withContiguous([dy, x, weight, mean, rstd], "layerNormBackward", ([ga, xa, wa, ma, ra]) => {
    const o = dx ? targetAt(dx) : 0;
    const fn = rt.kernelIndex.layerNormBackwardRows;
    const flags = (dx ? 1 : 0) | (sums ? 2 : 0);
    const ranges: number[] = [];
    const threads = splitRows(n, d, (r0, r1) => ranges.push(r0, r1));
    const tasks = ranges.length / 2;
    const partial = sums ? tempAlloc(16 * d * tasks, "layerNormBackward") : 0;
    try {
      if (sums) rt.f64.fill(0, partial / 8, partial / 8 + 2 * d * tasks);
      for (let t = 0; t < tasks; t++) {
        const [r0, r1] = [ranges[2 * t], ranges[2 * t + 1]];
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
      if (sums) tempFree(partial);
    }
  });
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
  for (const [target, off] of [
    [dweight, 0],
    [dbias, d],
  ] as const) {
    if (!target) continue;
    const o = targetAt(target);
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let t = 0; t < tasks; t++) s += f64[at + 2 * d * t + off + j];
      rt.f32[o + j] = s;
    }
  }
}

function hostLayerNormBackward(
  dy: View,
  x: View,
  weight: View,
  mean: View,
  rstd: View,
  dx: Target | null,
  dweight: Target | null,
  dbias: Target | null,
): void {
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
}
