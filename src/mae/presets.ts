// Named ViTMAE configs: facebook/vit-mae-{base,large,huge} as on the Hub, the reference `tiny` case, a 28x28 digit model.

import { type Either, left, right } from "fp-ts/lib/Either.js";
import { ConfigError, type ViTMAEConfig, unsafeConfig } from "./config.ts";

// The MAE paper's decoder (512 wide, 8 blocks, 16 heads), shared by all three Hub checkpoints.
const maeDecoder = {
  decoderHiddenSize: 512,
  decoderNumHiddenLayers: 8,
  decoderNumAttentionHeads: 16,
  decoderIntermediateSize: 2048,
} as const;
// What every Hub checkpoint's config.json states besides the sizes (all equal to HF's defaults).
const hubCommon = {
  hiddenAct: "gelu",
  hiddenDropoutProb: 0,
  attentionProbsDropoutProb: 0,
  initializerRange: 0.02,
  layerNormEps: 1e-12,
  imageSize: 224,
  numChannels: 3,
  qkvBias: true,
  maskRatio: 0.75,
  normPixLoss: false,
} as const;

/** facebook/vit-mae-base: ViT-B/16. */
export const base = unsafeConfig({
  ...hubCommon,
  ...maeDecoder,
  patchSize: 16,
  hiddenSize: 768,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  intermediateSize: 3072,
});

/** facebook/vit-mae-large: ViT-L/16. */
export const large = unsafeConfig({
  ...hubCommon,
  ...maeDecoder,
  patchSize: 16,
  hiddenSize: 1024,
  numHiddenLayers: 24,
  numAttentionHeads: 16,
  intermediateSize: 4096,
});

/** facebook/vit-mae-huge: ViT-H/14 (a 16x16 grid on 224x224). */
export const huge = unsafeConfig({
  ...hubCommon,
  ...maeDecoder,
  patchSize: 14,
  hiddenSize: 1280,
  numHiddenLayers: 32,
  numAttentionHeads: 16,
  intermediateSize: 5120,
});

/** The reference `tiny` case: 32x32 RGB, 8px patches (4x4 grid), a 2-block encoder and a 1-block decoder. */
export const tiny = unsafeConfig({
  imageSize: 32,
  patchSize: 8,
  numChannels: 3,
  hiddenSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  intermediateSize: 128,
  decoderHiddenSize: 32,
  decoderNumHiddenLayers: 1,
  decoderNumAttentionHeads: 4,
  decoderIntermediateSize: 64,
  maskRatio: 0.75,
});

/**
 * A small model for 28x28 digits: 1 channel, 4px patches (7x7 grid, 49 patches, 12 kept at mask 0.75).
 * The demo (examples/demo.ts) trains this shape with MLPs of 256 and norm_pix_loss, as it measured best.
 */
export const mnist = unsafeConfig({
  imageSize: 28,
  patchSize: 4,
  numChannels: 1,
  hiddenSize: 64,
  numHiddenLayers: 4,
  numAttentionHeads: 4,
  intermediateSize: 128,
  decoderHiddenSize: 64,
  decoderNumHiddenLayers: 2,
  decoderNumAttentionHeads: 4,
  decoderIntermediateSize: 128,
  maskRatio: 0.75,
  normPixLoss: false,
});

/** All presets by name, each with its literal dims in its type. */
export const presets = { base, large, huge, tiny, mnist } as const;
export type PresetName = keyof typeof presets;
export const presetNames: readonly PresetName[] = Object.freeze(["base", "large", "huge", "tiny", "mnist"]);

/** A preset by name (as the CLI takes it), or a ConfigError listing the known names. */
export function preset(name: string): Either<ConfigError, ViTMAEConfig> {
  if ((presetNames as readonly string[]).includes(name)) return right(presets[name as PresetName]); // just checked
  return left(
    new ConfigError([
      { field: "preset", value: name, problem: `is not a preset; known presets: ${presetNames.join(", ")}` },
    ]),
  );
}
