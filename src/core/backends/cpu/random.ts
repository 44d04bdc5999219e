// The cpu backend's random kernel: the wasm Threefry generator (wasm/randomKernel.ts) over element
// ranges on the pool; each element's value depends only on the key and its index (prng.ts), so the
// split over threads changes nothing.
import type { Distribution, KeyWords, Target } from "../../backend.ts";
import { erf } from "../../prng.ts";
import { RANDOM_KINDS } from "../../wasm/randomKernel.ts";
import { CALL_SCALARS_AT, cpuThreads, queueTask, runQueue, runtime } from "../../wasm/runtime.ts";
import * as K from "../hostRowKernels.ts";
import { hostTarget } from "./hostViews.ts";
import { baseIndex, WasmStorage } from "./storage.ts";

/** Below this many draws one thread is faster than the pool (Threefry costs about what an exp does: see elementwise.ts). */
const PARALLEL_MIN = 1 << 14;
const cdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

export function random(dist: Distribution, key: KeyWords, size: number, out: Target): void {
  if (!(out.storage instanceof WasmStorage)) {
    K.random(dist, key, size, ...hostTarget(out));
    return;
  }
  if (size === 0) return;
  const rt = runtime();
  // The float64 parameters the kernel reads (see randomFill).
  const p = rt.f64.subarray(CALL_SCALARS_AT / 8, CALL_SCALARS_AT / 8 + 5);
  p.fill(0);
  switch (dist.kind) {
    case "uniform":
      p[0] = dist.low;
      p[1] = dist.high - dist.low;
      break;
    case "normal":
      p[0] = dist.mean;
      p[1] = dist.std;
      break;
    case "truncatedNormal": {
      if (!(dist.lower < dist.upper))
        throw new RangeError(`truncatedNormal: need lower < upper, got [${dist.lower}, ${dist.upper}]`);
      const lo = cdf(dist.lower);
      const hi = cdf(dist.upper);
      p[0] = 2 * lo - 1;
      p[1] = 2 * (hi - lo);
      p[2] = dist.lower;
      p[3] = dist.upper;
      p[4] = dist.std;
      break;
    }
    case "bernoulli":
      p[0] = dist.p;
      break;
  }
  const kind = RANDOM_KINDS.indexOf(dist.kind);
  const dst = 4 * (baseIndex(out.storage) + out.offset);
  const threads = size < PARALLEL_MIN ? 1 : cpuThreads();
  const tasks = threads === 1 ? 1 : 4 * threads;
  const chunk = Math.ceil(size / tasks / 8) * 8;
  const fn = rt.kernelIndex.randomFill;
  for (let s = 0; s < size; s += chunk)
    queueTask(rt, fn, kind, key.hi | 0, key.lo | 0, s, Math.min(size, s + chunk), dst, CALL_SCALARS_AT);
  runQueue(rt, threads);
}
