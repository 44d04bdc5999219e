// Drop path (stochastic depth, Huang et al. 2016), as timm's drop_path that MAE's fine-tuning uses: each sample's
// residual branch is zeroed with probability `rate` and the kept ones scaled by 1/(1 - rate), so E[out] = x.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";

/** [B, ...] → [B, ...]: the identity when `key` is undefined (evaluation) or the rate is 0. */
export function dropPath(x: Tensor, rate: number, key: Key | undefined): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropPath: rate must be in [0, 1), got ${rate}`);
  if (key === undefined || rate === 0) return x;
  const keep = T.random.bernoulli(key, [x.shape[0], ...x.shape.slice(1).map(() => 1)], 1 - rate); // (B, 1, …, 1)
  return T.mul(x, T.mul(keep, 1 / (1 - rate)));
}

/** timm's per-block rates: linearly from 0 (first block) to `rate` (last block). */
export function dropPathRates(rate: number, depth: number): number[] {
  return Array.from({ length: depth }, (_, i) => (depth === 1 ? 0 : (rate * i) / (depth - 1)));
}
