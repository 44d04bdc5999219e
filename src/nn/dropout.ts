// Dropout with an explicit key: zero each element with probability p, scale the rest by 1/(1-p).

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";

/** The identity when `key` is undefined (eval mode) or p is 0. */
export function dropout(x: Tensor, p: number, key: Key | undefined): Tensor {
  if (key === undefined || p === 0) return x;
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  const keep = T.random.bernoulli(key, x.shape, 1 - p);
  return T.mul(x, T.mul(keep, 1 / (1 - p)));
}

/** Hands out a fresh key per dropout site from one key (undefined in eval mode). */
export class KeyStream {
  private count = 0;
  constructor(private readonly base: Key | undefined) {}
  next(): Key | undefined {
    return this.base === undefined ? undefined : T.random.foldIn(this.base, this.count++);
  }
}
