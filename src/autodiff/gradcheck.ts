// A gradient checker: reverse-mode gradients against central differences, both in float64 so that
// agreement means something (float32 differences would drown in rounding). With `order: 2` it
// checks second derivatives: the gradient of ⟨∇f, v⟩ for a random direction v (that is H·v, by
// reverse over reverse) against central differences of ⟨∇f, v⟩, which need first derivatives only.

import { withFloat64 } from "../core/backend.ts";
import { fromArray } from "../core/creation.ts";
import { add, mul } from "../core/ops/elementwise.ts";
import { sum } from "../core/ops/reduce.ts";
import { key, normalArray } from "../core/prng.ts";
import type { Tensor } from "../core/tensor.ts";
import { leaves, treeMap, unflatten, type Tree } from "./pytree.ts";
import { grad, valueAndGrad } from "./transforms.ts";

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-6, relative to max(1, |x|)). */
  eps?: number;
  /** Tolerance: |analytic - numeric| <= atol + rtol·|numeric| (defaults 1e-6 and 1e-5). */
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per argument (sampled evenly); default all. */
  maxElements?: number;
  /** 1 (default): gradients; 2: Hessian-vector products along a random direction (seeded by `seed`). */
  order?: 1 | 2;
  seed?: number;
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
  if (opts.order === 2) return checkGrads(directionalDerivative(f, args, opts.seed ?? 0), args, { ...opts, order: 1 });
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

/** x ↦ ⟨∇f(x), v⟩ for a fixed random direction v (float64): its gradient is H·v. */
function directionalDerivative(f: (...args: Tensor[]) => Tensor, args: readonly Tensor[], seed: number) {
  const v = args.map((a, i) => normalArray(key(seed + i), a.size));
  const argnums = args.map((_, i) => i);
  return (...xs: Tensor[]): Tensor => {
    const g = grad(f as (...a: Tree[]) => Tensor, { argnums })(...xs) as Tensor[];
    return g.map((gi, i) => sum(mul(gi, fromArray(v[i], gi.shape, { dtype: "float64" })))).reduce((a, b) => add(a, b));
  };
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
