// The MAE loss (HF forward_loss, SPEC.md §10–12): MSE per patch against the patchified pixels
// (optionally normalised per patch), averaged over the masked patches of the whole batch. Written
// once here; the reconstruction tools (src/eval) build their errors from these same pieces.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { patchify } from "./patches.ts";

/** The ε under the square root of the norm-pix statistics (HF's 1.e-6). */
export const NORM_PIX_EPS = 1e-6;

/** Each patch's mean and unbiased variance over its values: [B, L, ph·pw·C] → two [B, L, 1]. */
export function patchStats(patches: Tensor): { mean: Tensor; variance: Tensor } {
  return {
    mean: T.mean(patches, -1, { keepdims: true }),
    variance: T.variance(patches, -1, { keepdims: true, unbiased: true }),
  };
}

/** The reconstruction target [B, L, ph·pw·C]; with normPixLoss, each patch standardised (unbiased var, +ε). */
export function target(pixels: Tensor, patch: readonly [number, number], normPixLoss: boolean): Tensor {
  const t = patchify(pixels, patch);
  if (!normPixLoss) return t;
  const { mean, variance } = patchStats(t);
  return T.div(T.sub(t, mean), T.sqrt(T.add(variance, NORM_PIX_EPS))); // not detached, as in HF
}

/** mean_j (prediction − target)² for every patch: [B, L, ph·pw·C] twice → [B, L]. */
export function perPatchMse(prediction: Tensor, targetPatches: Tensor): Tensor {
  const diff = T.sub(prediction, targetPatches);
  return T.mean(T.mul(diff, diff), -1);
}

/**
 * Σ mask · x / Σ mask over the masked patches: of the whole batch (a scalar, HF's loss), or with
 * `perImage` of each row ([B]). NaN when nothing is masked, as in HF.
 */
export function maskedMean(perPatch: Tensor, mask: Tensor, opts: { perImage?: boolean } = {}): Tensor {
  const axes = opts.perImage ? -1 : undefined;
  return T.div(T.sum(T.mul(perPatch, mask), axes), T.sum(mask, axes));
}

/** Σ(mask · mean((logits - target)², -1)) / Σ mask: NaN when nothing is masked, as in HF. */
export function maeLoss(
  pixels: Tensor,
  logits: Tensor,
  mask: Tensor,
  patch: readonly [number, number],
  normPixLoss: boolean,
): Tensor {
  return maskedMean(perPatchMse(logits, target(pixels, patch, normPixLoss)), mask);
}
