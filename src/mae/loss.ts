// The MAE loss (HF forward_loss, SPEC.md §10–12): MSE per patch against the patchified pixels
// (optionally normalised per patch), averaged over the masked patches of the whole batch.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { patchify } from "./patches.ts";

/** The reconstruction target [B, L, ph·pw·C]; with normPixLoss, each patch standardised (unbiased var, +1e-6). */
export function target(pixels: Tensor, patch: readonly [number, number], normPixLoss: boolean): Tensor {
  const t = patchify(pixels, patch);
  if (!normPixLoss) return t;
  const mean = T.mean(t, -1, { keepdims: true });
  const variance = T.variance(t, -1, { keepdims: true, unbiased: true });
  return T.div(T.sub(t, mean), T.sqrt(T.add(variance, 1e-6))); // not detached, as in HF
}

/** Σ(mask · mean((logits - target)², -1)) / Σ mask: NaN when nothing is masked, as in HF. */
export function maeLoss(
  pixels: Tensor,
  logits: Tensor,
  mask: Tensor,
  patch: readonly [number, number],
  normPixLoss: boolean,
): Tensor {
  const diff = T.sub(logits, target(pixels, patch, normPixLoss));
  const perPatch = T.mean(T.mul(diff, diff), -1); // (B, L)
  return T.div(T.sum(T.mul(perPatch, mask)), T.sum(mask));
}
