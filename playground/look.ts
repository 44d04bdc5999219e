// One look at a masked autoencoder, for the playground: mask an image (MAE's random masking, or a
// hand-made mask), run the model once, and return the MAE notebook's four panels with, per patch,
// the mask, the prediction's error and the CLS token's attention in a chosen layer and head.

import * as T from "../src/core/index.ts";
import type { Tensor } from "../src/core/index.ts";
import { unnormalize } from "../src/data/preprocess.ts";
import type { PreprocessorConfig } from "../src/data/preprocessorConfig.ts";
import { maskToPixels } from "../src/eval/reconstruct.ts";
import type { ViTMAEConfig } from "../src/mae/config.ts";
import { forward } from "../src/mae/forward.ts";
import { NORM_PIX_EPS, patchStats, perPatchMse, target } from "../src/mae/loss.ts";
import type { PreTrainingParams } from "../src/mae/params.ts";
import { patchify, unpatchify } from "../src/mae/patches.ts";
import type { MaskChoice, View } from "./protocol.ts";

export interface Model {
  config: ViTMAEConfig;
  params: PreTrainingParams;
}

/**
 * HF's masking input for a choice: the noise [1, L] (smallest kept) and the mask ratio. A hand-made
 * mask of k patches is noise 1 on them and 0 elsewhere, with a ratio whose int(L·(1 − ratio)) is
 * exactly L − k.
 */
export function maskingInput(choice: MaskChoice, numPatches: number): { noise: Tensor; maskRatio: number } {
  if (choice.kind === "random")
    return { noise: T.random.uniform(T.key(choice.seed), [1, numPatches]), maskRatio: choice.ratio };
  if (choice.masked.length !== numPatches)
    throw new RangeError(`the hand-made mask has ${choice.masked.length} patches; the model has ${numPatches}`);
  const k = choice.masked.reduce((n, m) => n + (m ? 1 : 0), 0);
  return {
    noise: T.fromArray(
      Array.from(choice.masked, (m) => (m ? 1 : 0)),
      [1, numPatches],
    ),
    maskRatio: k === 0 ? 0 : (k - 0.5) / numPatches,
  };
}

/** Looks at `pixels` [C, H, W] (normalised as the model takes them) through the model (reads are awaited: GPU backends read asynchronously). */
export async function look(
  model: Model,
  pixels: Float32Array,
  choice: MaskChoice,
  at: { layer: number; head: number },
  processor: PreprocessorConfig,
): Promise<Omit<View, "id">> {
  const cfg = model.config;
  const [h, w] = cfg.imageSize;
  const c = cfg.numChannels;
  const grid: [number, number] = [h / cfg.patchSize[0], w / cfg.patchSize[1]];
  const numPatches = grid[0] * grid[1];
  const x = T.fromArray(pixels, [1, c, h, w]);
  const { noise, maskRatio } = maskingInput(choice, numPatches);
  const out = forward(model.params, cfg, x, { noise, maskRatio, outputAttentions: true });

  // The prediction in pixel space; a norm_pix_loss model predicts normalised patches, so undo that
  // with each target patch's own statistics, as the MAE notebook does.
  const patches = patchify(x, cfg.patchSize); // [1, L, p·p·C]
  let prediction: Tensor = out.logits;
  if (cfg.normPixLoss) {
    const { mean, variance } = patchStats(patches);
    prediction = T.add(T.mul(prediction, T.sqrt(T.add(variance, NORM_PIX_EPS))), mean);
  }
  const reconstruction = unpatchify(prediction, cfg.patchSize, grid, c); // [1, C, H, W]
  const pixelMask = maskToPixels(out.mask, cfg.patchSize, grid, c);
  const masked = T.mul(x, T.sub(1, pixelMask));
  const pasted = T.add(masked, T.mul(reconstruction, pixelMask));
  const picture = async (t: Tensor) =>
    unnormalize(await t.data(), { channels: c, height: h, width: w }, processor.imageMean, processor.imageStd);

  const error = await perPatchMse(out.logits, target(x, cfg.patchSize, cfg.normPixLoss)).data(); // [L]
  const mask = Uint8Array.from(await out.mask.data());
  // The CLS row of the chosen attention map [1, heads, 1 + K, 1 + K]: kept token j is patch idsShuffle[j].
  const probs = await out.attentions![at.layer].data();
  const tokens = out.attentions![at.layer].shape[3];
  const row = probs.subarray(at.head * tokens * tokens, at.head * tokens * tokens + tokens);
  const idsRestore = await out.idsRestore.data();
  const idsShuffle = new Int32Array(numPatches);
  idsRestore.forEach((rank, patch) => {
    idsShuffle[rank] = patch;
  });
  const attention = new Float32Array(numPatches).fill(NaN);
  for (let j = 1; j < tokens; j++) attention[idsShuffle[j - 1]] = row[j];
  return {
    panels: await Promise.all([x, masked, reconstruction, pasted].map(picture)),
    mask,
    error,
    attention,
    clsSelf: row[0],
    loss: (await out.loss.data())[0],
    backend: out.loss.backend.name,
  };
}
