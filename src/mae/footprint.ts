// How big a config's model is, from the config alone, before anything is allocated: parameter and
// tensor counts (exact, by the formulas of params.ts' shapes), the largest single tensor, and an
// estimate of what one training step keeps in memory. A config whose tensors cannot be allocated, or
// whose step cannot fit, is refused with the fields that make it so (issue 13, finding 10).

import type { ViTMAEConfig } from "./config.ts";

/** One typed array holds at most 2^32 elements in V8 (a longer one is a RangeError deep in an op). */
export const MAX_TENSOR_ELEMENTS = 2 ** 32;

/** A tensor the model makes, its size, and the config fields its size comes from. */
export interface SizedTensor {
  what: string;
  fields: string;
  elements: number;
}

export interface Footprint {
  /** Parameters of the model (ViTMAEForPreTraining: encoder and decoder), and how many tensors hold them. */
  parameters: number;
  parameterTensors: number;
  /** The largest tensor among the parameters and one image's activations. */
  largest: SizedTensor;
  /** Floats one image keeps for the backward pass (an estimate: see `activationsPerImage`). */
  activationsPerImage: number;
}

/**
 * Which model of a config is sized: ViTMAEForPreTraining (the encoder on the kept patches, the decoder on
 * all), its encoder alone (ViTMAEModel), or a ViTForImageClassification with `numLabels` classes (the
 * encoder on every patch, then a head; MAE's fc_norm replaces the final norm, so the count is the same).
 */
export type SizedModel = { kind: "pre-training" } | { kind: "encoder" } | { kind: "classifier"; numLabels: number };
const PRE_TRAINING: SizedModel = { kind: "pre-training" };

/** The sizes of a config's model: cheap (no allocation, no per-layer lists), exact for parameters. */
export function footprint(cfg: ViTMAEConfig, model: SizedModel = PRE_TRAINING): Footprint {
  const d = cfg.hiddenSize;
  const dd = cfg.decoderHiddenSize;
  const l = cfg.numPatches;
  // One block (params.ts' `layer`): q, k, v (with biases when qkv_bias), output, MLP, two layer norms.
  const block = (dim: number, inner: number) => ({
    parameters:
      (cfg.qkvBias ? 3 * (dim * dim + dim) : 3 * dim * dim) + dim * dim + dim + 2 * inner * dim + inner + dim + 4 * dim,
    tensors: (cfg.qkvBias ? 6 : 3) + 10,
  });
  const enc = block(d, cfg.intermediateSize);
  const dec = block(dd, cfg.decoderIntermediateSize);
  // The encoder: cls token, position table, patch projection, the blocks, the final norm.
  const encoder = {
    parameters: d + (1 + l) * d + d * cfg.patchDim + d + cfg.numHiddenLayers * enc.parameters + 2 * d,
    tensors: 4 + cfg.numHiddenLayers * enc.tensors + 2,
  };
  const decoder = {
    parameters:
      dd +
      (1 + l) * dd +
      dd * d +
      dd +
      cfg.decoderNumHiddenLayers * dec.parameters +
      2 * dd +
      cfg.patchDim * dd +
      cfg.patchDim,
    tensors: 8 + cfg.decoderNumHiddenLayers * dec.tensors,
  };
  const k = model.kind === "classifier" ? model.numLabels : 0;
  const [parameters, parameterTensors] =
    model.kind === "pre-training"
      ? [encoder.parameters + decoder.parameters, encoder.tensors + decoder.tensors]
      : model.kind === "encoder"
        ? [encoder.parameters, encoder.tensors]
        : [encoder.parameters + k * d + k, encoder.tensors + 2];
  // The encoder's tokens: the CLS token and the kept patches (every patch in a classifier).
  const tokens = model.kind === "classifier" ? 1 + l : 1 + Math.max(1, Math.round(l * (1 - cfg.maskRatio)));
  const encoderTensors: SizedTensor[] = [
    { what: "an attention weight", fields: "hidden_size²", elements: d * d },
    { what: "an MLP weight", fields: "intermediate_size × hidden_size", elements: cfg.intermediateSize * d },
    { what: "the patch projection", fields: "hidden_size × num_channels × patch_size²", elements: d * cfg.patchDim },
    { what: "the position table", fields: "(image_size / patch_size)² × hidden_size", elements: (1 + l) * d },
    {
      what: "an image",
      fields: "num_channels × image_size²",
      elements: cfg.numChannels * cfg.imageSize[0] * cfg.imageSize[1],
    },
    {
      what: "one image's MLP activations",
      fields: `${model.kind === "classifier" ? "(image_size / patch_size)²" : "kept patches"} × intermediate_size`,
      elements: tokens * cfg.intermediateSize,
    },
    {
      what: "one image's attention",
      fields: `num_attention_heads × ${model.kind === "classifier" ? "(image_size / patch_size)⁴" : "kept patches²"}`,
      elements: cfg.numAttentionHeads * tokens * tokens,
    },
  ];
  const decoderTensors: SizedTensor[] = [
    { what: "the decoder's embedding", fields: "decoder_hidden_size × hidden_size", elements: dd * d },
    { what: "a decoder attention weight", fields: "decoder_hidden_size²", elements: dd * dd },
    {
      what: "a decoder MLP weight",
      fields: "decoder_intermediate_size × decoder_hidden_size",
      elements: cfg.decoderIntermediateSize * dd,
    },
    {
      what: "the decoder's position table",
      fields: "(image_size / patch_size)² × decoder_hidden_size",
      elements: (1 + l) * dd,
    },
    {
      what: "one image's decoder attention",
      fields: "decoder_num_attention_heads × (image_size / patch_size)⁴",
      elements: cfg.decoderNumAttentionHeads * (1 + l) ** 2,
    },
  ];
  const candidates = [
    ...encoderTensors,
    ...(model.kind === "pre-training" ? decoderTensors : []),
    ...(model.kind === "classifier"
      ? [{ what: "the classifier head", fields: "num_labels × hidden_size", elements: k * d }]
      : []),
  ];
  const largest = candidates.reduce((a, b) => (b.elements > a.elements ? b : a));
  return { parameters, parameterTensors, largest, activationsPerImage: activationsPerImage(cfg, model, tokens) };
}

/**
 * Floats one image keeps through a training step, per block T·(10·D + 3·I) + 3·h·T² (the inputs of
 * each linear and norm, the MLP's hidden activations before and after GELU, the attention scores and
 * probabilities and their gradient), over the encoder's T tokens and the decoder's T = 1 + L, plus the
 * patches and logits. It counts what must coexist, not what a garbage-collected runtime holds a little
 * longer: real peaks run up to about twice this.
 */
function activationsPerImage(cfg: ViTMAEConfig, model: SizedModel, tokens: number): number {
  const blocks = (t: number, dim: number, inner: number, heads: number, layers: number) =>
    layers * (t * (10 * dim + 3 * inner) + 3 * heads * t * t);
  const l = cfg.numPatches;
  const encoder = blocks(tokens, cfg.hiddenSize, cfg.intermediateSize, cfg.numAttentionHeads, cfg.numHiddenLayers);
  if (model.kind === "classifier") return encoder + 2 * l * cfg.patchDim + model.numLabels;
  const decoder =
    model.kind === "encoder"
      ? 0
      : blocks(
          1 + l,
          cfg.decoderHiddenSize,
          cfg.decoderIntermediateSize,
          cfg.decoderNumAttentionHeads,
          cfg.decoderNumHiddenLayers,
        );
  return encoder + decoder + 4 * l * cfg.patchDim;
}

/** The size fields of a config's model as config.json names them, for messages ("hidden_size 768, …"). */
export function sizeFields(cfg: ViTMAEConfig, model: SizedModel = PRE_TRAINING): string {
  const hw = (v: readonly [number, number]) => (v[0] === v[1] ? `${v[0]}` : `[${v[0]}, ${v[1]}]`);
  return [
    `hidden_size ${cfg.hiddenSize}`,
    `num_hidden_layers ${cfg.numHiddenLayers}`,
    `intermediate_size ${cfg.intermediateSize}`,
    ...(model.kind === "pre-training"
      ? [
          `decoder_hidden_size ${cfg.decoderHiddenSize}`,
          `decoder_num_hidden_layers ${cfg.decoderNumHiddenLayers}`,
          `decoder_intermediate_size ${cfg.decoderIntermediateSize}`,
        ]
      : []),
    `image_size ${hw(cfg.imageSize)}`,
    `patch_size ${hw(cfg.patchSize)}`,
    ...(model.kind === "classifier" ? [`num_labels ${model.numLabels}`] : []),
  ].join(", ");
}

/** Bytes in the unit that reads best: 512 B, 3.2 GB, 16 EB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0
    ? `${v} B`
    : `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}${v >= 1000 ? ` (${bytes.toExponential(1)} bytes)` : ""}`;
}

/** What a tensor costs besides its numbers (the Tensor, its typed array and their bookkeeping), roughly. */
const TENSOR_OVERHEAD_BYTES = 512;

/**
 * The bytes a use of the model needs, estimated: copies of the weights (2 while initialising: a draw
 * and its scaled result; 5 while training: the weights, their gradient, two AdamW moments and the
 * update), each tensor's overhead, and the activations of a batch.
 */
export function estimatedBytes(
  fp: Footprint,
  use: { training: boolean; batchSize: number; bytesPerFloat?: number },
): number {
  const b = use.bytesPerFloat ?? 4;
  const copies = use.training ? 5 : 2;
  return (
    b * (fp.parameters * copies + use.batchSize * fp.activationsPerImage) +
    fp.parameterTensors * copies * TENSOR_OVERHEAD_BYTES
  );
}

/**
 * Why a config cannot be allocated or cannot fit, or undefined when it can: a single tensor over what
 * one typed array holds, or the estimate over `budgetBytes` (the machine's memory, where known).
 */
export function whyTooLarge(
  cfg: ViTMAEConfig,
  use: { training: boolean; batchSize: number; budgetBytes?: number },
  model: SizedModel = PRE_TRAINING,
): string | undefined {
  const fp = footprint(cfg, model);
  const fields = sizeFields(cfg, model);
  if (fp.largest.elements > MAX_TENSOR_ELEMENTS) {
    return (
      `${fp.largest.what} (${fp.largest.fields}) would have ${fp.largest.elements.toExponential(2)} elements, ` +
      `over the ${MAX_TENSOR_ELEMENTS} one array can hold (${fields})`
    );
  }
  if (use.budgetBytes === undefined) return undefined;
  const need = estimatedBytes(fp, use);
  if (need <= use.budgetBytes) return undefined;
  const step = use.training ? `a training step on batches of ${use.batchSize}` : "making the weights";
  return (
    `${step} needs an estimated ${formatBytes(need)} (${fp.parameters.toExponential(2)} parameters; ${fields}), ` +
    `more than this machine's ${formatBytes(use.budgetBytes)} of memory`
  );
}
