// Fresh ViTMAE parameters as HF initialises them (SPEC.md §14): Linear weights N(0, σ), biases 0,
// LayerNorm 1/0, the patch projection xavier-uniform on its [D, C·ph·pw] view, cls N(0, σ).
// Unlike a fresh HF model (a quirk that leaves them zero), the decoder's mask token is N(0, σ) and
// both position tables hold the sin-cos values, as in MAE and in every released checkpoint.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import type { BlockParams } from "../nn/block.ts";
import { initLayerNorm, initLinear, normalInit, xavierUniform } from "../nn/init.ts";
import type { ViTMAEConfig } from "./config.ts";
import type { DecoderParams, EncoderParams, PreTrainingParams } from "./params.ts";
import { sinCosTable } from "./posEmbed.ts";

function initBlock(k: Key, dim: number, inner: number, cfg: ViTMAEConfig): BlockParams {
  const [q, kk, v, o, i, out] = T.random.split(k, 6);
  const std = cfg.initializerRange;
  return {
    attention: {
      attention: {
        query: initLinear(q, dim, dim, std, cfg.qkvBias),
        key: initLinear(kk, dim, dim, std, cfg.qkvBias),
        value: initLinear(v, dim, dim, std, cfg.qkvBias),
      },
      output: { dense: initLinear(o, dim, dim, std) },
    },
    intermediate: { dense: initLinear(i, dim, inner, std) },
    output: { dense: initLinear(out, inner, dim, std) },
    layernorm_before: initLayerNorm(dim),
    layernorm_after: initLayerNorm(dim),
  };
}

const table = (dim: number, cfg: ViTMAEConfig): Tensor =>
  T.expandDims(sinCosTable(dim, cfg.gridSize[0], cfg.gridSize[1]), 0);

export function initEncoder(k: Key, cfg: ViTMAEConfig): EncoderParams {
  const [patchKey, clsKey, layersKey] = T.random.split(k, 3);
  const d = cfg.hiddenSize;
  const [ph, pw] = cfg.patchSize;
  const fanIn = cfg.numChannels * ph * pw;
  return {
    embeddings: {
      cls_token: normalInit(clsKey, [1, 1, d], cfg.initializerRange),
      position_embeddings: table(d, cfg),
      patch_embeddings: {
        projection: { weight: xavierUniform(patchKey, [d, cfg.numChannels, ph, pw], fanIn, d), bias: T.zeros([d]) },
      },
    },
    encoder: {
      layer: T.random
        .split(layersKey, Math.max(1, cfg.numHiddenLayers))
        .slice(0, cfg.numHiddenLayers)
        .map((lk) => initBlock(lk, d, cfg.intermediateSize, cfg)),
    },
    layernorm: initLayerNorm(d),
  };
}

export function initDecoder(k: Key, cfg: ViTMAEConfig): DecoderParams {
  const [embedKey, maskKey, layersKey, predKey] = T.random.split(k, 4);
  const dd = cfg.decoderHiddenSize;
  const std = cfg.initializerRange;
  return {
    decoder_embed: initLinear(embedKey, cfg.hiddenSize, dd, std),
    mask_token: normalInit(maskKey, [1, 1, dd], std),
    decoder_pos_embed: table(dd, cfg),
    decoder_layers: T.random
      .split(layersKey, Math.max(1, cfg.decoderNumHiddenLayers))
      .slice(0, cfg.decoderNumHiddenLayers)
      .map((lk) => initBlock(lk, dd, cfg.decoderIntermediateSize, cfg)),
    decoder_norm: initLayerNorm(dd),
    decoder_pred: initLinear(predKey, dd, cfg.patchDim, std),
  };
}

/** A freshly initialised ViTMAEForPreTraining parameter record. */
export function initPreTraining(k: Key, cfg: ViTMAEConfig): PreTrainingParams {
  const [enc, dec] = T.random.split(k, 2);
  return { vit: initEncoder(enc, cfg), decoder: initDecoder(dec, cfg) };
}
