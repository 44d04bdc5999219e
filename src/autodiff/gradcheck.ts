// A gradient checker: reverse-mode gradients against central differences, both in float64 so that
// agreement means something (float32 differences would drown in rounding).

import { withFloat64 } from "../core/backend.ts";
import { fromArray, type Tensor } from "../core/tensor.ts";
import { leaves, treeMap, unflatten, type Tree } from "./pytree.ts";
import { valueAndGrad } from "./transforms.ts";

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-6, relative to max(1, |x|)). */
  eps?: number;
  /** Tolerance: |analytic - numeric| <= atol + rtol·|numeric| (defaults 1e-6 and 1e-5). */
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per argument (sampled evenly); default all. */
  maxElements?: number;
}

export interface GradCheckResult {
  ok: boolean;
  maxAbsError: number;
  /** The worst element: argument leaf index, flat element index, both values. */
  worst: { leaf: number; index: number; analytic: number; numeric: number } | null;
}

/** Compares grad(f) at `args` (all arguments differentiated) with central differences. */
export function checkGrads(
  f: (...args: Tensor[]) => Tensor,
  args: readonly Tensor[],
  opts: GradCheckOptions = {},
): GradCheckResult {
  const { eps = 1e-6, atol = 1e-6, rtol = 1e-5, maxElements = Infinity } = opts;
  return withFloat64(() => {
    const x64 = args.map((a) => fromArray(a.toFloat64Array(), a.shape));
    const argnums = x64.map((_, i) => i);
    const [, analytic] = valueAndGrad(f as (...a: Tree[]) => Tensor, { argnums })(...x64);
    const result: GradCheckResult = { ok: true, maxAbsError: 0, worst: null };
    let worstExcess = -Infinity;
    x64.forEach((x, leaf) => {
      const base = x.toFloat64Array();
      const g = (analytic as Tensor[])[leaf].toFloat64Array();
      const step = Math.max(1, Math.floor(base.length / maxElements));
      for (let i = 0; i < base.length; i += step) {
        const h = eps * Math.max(1, Math.abs(base[i]));
        const at = (delta: number) => {
          const moved = Float64Array.from(base);
          moved[i] += delta;
          const args2 = x64.map((t, j) => (j === leaf ? fromArray(moved, x.shape) : t));
          return f(...args2).item();
        };
        const numeric = (at(h) - at(-h)) / (2 * h);
        const err = Math.abs(g[i] - numeric);
        const excess = err - (atol + rtol * Math.abs(numeric));
        if (!(excess <= 0)) result.ok = false;
        if (err > result.maxAbsError || Number.isNaN(err)) result.maxAbsError = err;
        if (excess > worstExcess || Number.isNaN(excess)) {
          worstExcess = Number.isNaN(excess) ? Infinity : excess;
          result.worst = { leaf, index: i, analytic: g[i], numeric };
        }
      }
    });
    return result;
  });
}

/** Throws with the worst element's details when checkGrads fails. */
export function assertGradsClose(
  f: (...args: Tensor[]) => Tensor,
  args: readonly Tensor[],
  opts: GradCheckOptions = {},
): void {
  const r = checkGrads(f, args, opts);
  if (!r.ok) {
    const w = r.worst!;
    throw new Error(
      `gradient check failed: argument ${w.leaf}, element ${w.index}: analytic ${w.analytic}, numeric ${w.numeric} (max |error| ${r.maxAbsError})`,
    );
  }
}

export { leaves, treeMap, unflatten };
