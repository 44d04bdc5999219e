// MAE's random masking (models_mae.py random_masking, HF ViTMAEEmbeddings.random_masking):
// argsort the noise, keep the lenKeep patches with the smallest noise, in ascending-noise order.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { fmt, ShapeError } from "../core/index.ts";

/** int(L·(1 - maskRatio)) in double precision, truncated, as HF computes it (25·(1-0.8) → 4). */
export const lenKeepOf = (numPatches: number, maskRatio: number): number => Math.trunc(numPatches * (1 - maskRatio));

export interface Masked {
  /** The kept tokens [B, lenKeep, D], in ascending-noise order. */
  kept: Tensor;
  /** [B, L]: 0 keep, 1 remove, in the original patch order. */
  mask: Tensor;
  /** [B, L]: the inverse permutation of idsShuffle (argsort of it). */
  idsRestore: Tensor;
  lenKeep: number;
}

/** Masks x [B, L, D] by `noise` [B, L] (HF's argument) or by uniform noise drawn from `key`. */
export function randomMasking(x: Tensor, maskRatio: number, source: { noise?: Tensor; key?: Key }): Masked {
  const [b, l, d] = x.shape;
  if (!(maskRatio >= 0 && maskRatio < 1))
    throw new RangeError(`randomMasking: maskRatio must be in [0, 1), got ${maskRatio}`);
  const noise = source.noise ?? (source.key ? T.random.uniform(source.key, [b, l]) : undefined);
  if (!noise) throw new Error("randomMasking: give either noise [B, L] or a PRNG key");
  if (noise.shape.length !== 2 || noise.shape[0] !== b || noise.shape[1] !== l) {
    throw new ShapeError(`randomMasking: noise must be [${b}, ${l}] (batch, patches), got ${fmt(noise.shape)}`);
  }
  const lenKeep = lenKeepOf(l, maskRatio);
  const idsShuffle = T.argsort(noise, 1); // ascend: small is keep, large is remove
  const idsRestore = T.argsort(idsShuffle, 1);
  const idsKeep = T.slice(idsShuffle, [null, { stop: lenKeep }]); // (B, lenKeep)
  const kept = T.takeAlongAxis(x, T.broadcastTo(T.expandDims(idsKeep, -1), [b, lenKeep, d]), 1);
  const ordered = T.concat([T.zeros([b, lenKeep]), T.ones([b, l - lenKeep])], 1); // mask in shuffled order
  const mask = T.takeAlongAxis(ordered, idsRestore, 1); // unshuffle to patch order
  return { kept, mask, idsRestore, lenKeep };
}
