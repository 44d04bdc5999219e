// MAE's reconstruction picture as a pure function (the MAE demo notebook's run_one_image), and the
// masked-patch errors to judge it by: the model's own, and a mean-fill baseline's.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { forward } from "../mae/forward.ts";
import { maeLoss, maskedMean, patchStats, perPatchMse, target, NORM_PIX_EPS } from "../mae/loss.ts";
import type { PreTrainingParams } from "../mae/params.ts";
import { patchify, unpatchify } from "../mae/patches.ts";

export interface ReconstructOptions {
  /** HF's noise [B, L] (smallest kept), or a key to draw it from. */
  noise?: Tensor;
  key?: Key;
  /** Default: the config's mask_ratio. Must leave something masked. */
  maskRatio?: number;
  /** For a norm_pix_loss model: pred·sqrt(var + 1e-6) + mean with each target patch's own statistics. */
  unnormalizeWithTargetStats?: boolean;
}

/** In what space the reconstruction panel is. */
export type ReconstructionSpace = "pixels" | "normalized-patches" | "target-stats";

/** All panels in the model's input space (normalised pixels), [B, C, H, W]. */
export interface Reconstruction {
  original: Tensor;
  /** original · (1 − mask): exactly 0 on masked patches, the original elsewhere. */
  masked: Tensor;
  /** unpatchify(prediction) over the whole image, visible patches included. */
  reconstruction: Tensor;
  /** original · (1 − mask) + reconstruction · mask: the original exactly on visible patches. */
  pasted: Tensor;
  /** [B, L]: 1 on masked patches (HF's mask), and the same per pixel [B, C, H, W]. */
  mask: Tensor;
  pixelMask: Tensor;
  space: ReconstructionSpace;
  /** Per image: mean over its masked patches of the per-patch MSE against the target (the loss's space). */
  maskedMse: number[];
  /** HF's loss for the batch (all masked patches of the batch averaged together). */
  loss: number;
}

type Model = { config: ViTMAEConfig; params: PreTrainingParams };

/** Runs the model once and assembles the four panels of the MAE visualisation; reads its two numbers with await. */
export async function reconstruct(
  model: Model,
  pixels: Tensor,
  opts: ReconstructOptions = {},
): Promise<Reconstruction> {
  const cfg = model.config;
  const maskRatio = opts.maskRatio ?? cfg.maskRatio;
  if (!(maskRatio > 0 && maskRatio < 1))
    throw new RangeError(`reconstruct: maskRatio must be in (0, 1) so that some patches are masked, got ${maskRatio}`);
  if (!opts.noise && !opts.key) throw new Error("reconstruct: give the masking noise [B, L] or a PRNG key");
  if (opts.unnormalizeWithTargetStats && !cfg.normPixLoss) {
    throw new Error(
      "reconstruct: unnormalizeWithTargetStats applies only to a model trained with norm_pix_loss, and this config has norm_pix_loss false",
    );
  }
  const out = forward(model.params, cfg, pixels, {
    noise: opts.noise,
    key: opts.noise ? undefined : opts.key,
    maskRatio,
  });
  const [, c] = pixels.shape;
  const grid = gridOf(pixels, cfg);
  const space: ReconstructionSpace = !cfg.normPixLoss
    ? "pixels"
    : opts.unnormalizeWithTargetStats
      ? "target-stats"
      : "normalized-patches";
  const prediction =
    space === "target-stats" ? withTargetStats(out.logits, patchify(pixels, cfg.patchSize)) : out.logits;
  const reconstruction = unpatchify(prediction, cfg.patchSize, grid, c);
  const pixelMask = maskToPixels(out.mask, cfg.patchSize, grid, c);
  const keep = T.sub(1, pixelMask);
  const masked = T.mul(pixels, keep);
  const pasted = T.add(masked, T.mul(reconstruction, pixelMask));
  const [maskedMse, loss] = await Promise.all([
    maskedMsePerImage(pixels, out.logits, out.mask, cfg.patchSize, cfg.normPixLoss),
    out.loss.data(),
  ]);
  return {
    original: pixels,
    masked,
    reconstruction,
    pasted,
    mask: out.mask,
    pixelMask,
    space,
    maskedMse,
    loss: loss[0],
  };
}

/** The patch grid of [B, C, H, W] pixels. */
function gridOf(pixels: Tensor, cfg: ViTMAEConfig): [number, number] {
  return [pixels.shape[2] / cfg.patchSize[0], pixels.shape[3] / cfg.patchSize[1]];
}

/** pred · sqrt(var + ε) + mean, with each target patch's mean and unbiased variance: the loss's normalisation undone. */
function withTargetStats(pred: Tensor, targetPatches: Tensor): Tensor {
  const { mean, variance } = patchStats(targetPatches);
  return T.add(T.mul(pred, T.sqrt(T.add(variance, NORM_PIX_EPS))), mean);
}

/** The patch mask [B, L] as a pixel mask [B, C, H, W] (the notebook's mask.unsqueeze(-1).repeat + unpatchify). */
export function maskToPixels(
  mask: Tensor,
  patch: readonly [number, number],
  grid: readonly [number, number],
  channels: number,
): Tensor {
  const [b, l] = mask.shape;
  const dim = patch[0] * patch[1] * channels;
  return unpatchify(T.broadcastTo(T.expandDims(mask, -1), [b, l, dim]), patch, grid, channels);
}

/**
 * Per image: Σ_l mask·mean_j (pred − target)² / Σ_l mask, the target as the loss builds it (per-patch
 * normalised for norm_pix_loss). With the same number of masked patches per image, their mean is HF's loss.
 */
export async function maskedMsePerImage(
  pixels: Tensor,
  prediction: Tensor,
  mask: Tensor,
  patch: readonly [number, number],
  normPixLoss: boolean,
): Promise<number[]> {
  const perPatch = perPatchMse(prediction, target(pixels, patch, normPixLoss)); // [B, L]
  return Array.from(await maskedMean(perPatch, mask, { perImage: true }).data());
}

/**
 * The mean-fill baseline's masked-patch MSE, in the model's loss space, over a batch:
 *
 * 1. For each image b and channel c, m[b,c] = the mean of the pixels of channel c in the image's
 *    visible patches (mask 0), in the model's input space (normalised pixels).
 * 2. The prediction image is m[b,c] at every pixel; it is patchified and, for norm_pix_loss, each
 *    patch is normalised exactly as the target is ((p − mean)/sqrt(unbiased var + 1e-6); for a one-
 *    channel image this makes every predicted patch 0, the per-patch mean).
 * 3. The error is HF's loss: Σ_{b,l} mask·mean_j (pred − target)² / Σ mask (all masked patches of the
 *    batch weighted equally), with target = the patchified pixels (per-patch normalised for norm_pix_loss).
 *
 * An image with no visible patch has no mean to fill with: that is a RangeError. The visible counts
 * and the error are read together, with one await (a GPU backend reads only asynchronously).
 */
export async function meanFillBaselineMse(
  pixels: Tensor,
  mask: Tensor,
  patch: readonly [number, number],
  normPixLoss = false,
): Promise<number> {
  const [b, c, h, w] = pixels.shape;
  const grid: [number, number] = [h / patch[0], w / patch[1]];
  const keep = T.sub(1, maskToPixels(mask, patch, grid, c)); // [B, C, H, W], 1 on visible pixels
  const visible = T.sum(keep, [2, 3], { keepdims: true }); // [B, C, 1, 1]
  const fill = T.div(T.sum(T.mul(pixels, keep), [2, 3], { keepdims: true }), visible); // [B, C, 1, 1]
  const prediction = target(T.broadcastTo(fill, [b, c, h, w]), patch, normPixLoss);
  // An image without a visible pixel divides by 0 here: the counts say so before the loss is used.
  const [counts, loss] = await Promise.all([
    visible.data(),
    maeLoss(pixels, prediction, mask, patch, normPixLoss).data(),
  ]);
  const empty = counts.indexOf(0);
  if (empty >= 0)
    throw new RangeError(
      `meanFillBaselineMse: image ${Math.floor(empty / c)} has no visible patch, so no visible mean to fill with`,
    );
  return loss[0];
}
