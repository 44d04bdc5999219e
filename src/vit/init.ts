// Fresh ViTForImageClassification parameters (HF ViTPreTrainedModel._init_weights: truncated normal weights,
// position table and cls token; zero biases; LayerNorms 1/0), and a classifier head for a loaded encoder.

import * as T from "../core/index.ts";
import type { Key } from "../core/index.ts";
import { initEncoder } from "../mae/init.ts";
import type { EncoderParams } from "../mae/params.ts";
import { initLayerNorm } from "../nn/init.ts";
import type { LayerNormParams } from "../nn/layerNorm.ts";
import type { LinearParams } from "../nn/linear.ts";
import type { ViTConfig } from "./config.ts";
import type { ClassifierParams } from "./params.ts";

/** HF's trunc_normal_(std) cuts at ±2 absolute, which is ±2/std σ: for std ≤ 0.02 effectively a plain normal. */
const truncNormal = (k: Key, shape: readonly number[], std: number) =>
  T.random.truncatedNormal(k, shape, -2 / std, 2 / std, std);

/** The classification head: classifier weight ~ truncated N(0, headInitStd), bias 0; fc_norm 1/0 when mean-pooling. */
export function initHead(
  k: Key,
  cfg: ViTConfig,
  headInitStd: number,
): { classifier: LinearParams; fc_norm?: LayerNormParams } {
  const d = cfg.encoder.hiddenSize;
  const classifier = { weight: truncNormal(k, [cfg.numLabels, d], headInitStd), bias: T.zeros([cfg.numLabels]) };
  return cfg.useMeanPooling ? { classifier, fc_norm: initLayerNorm(d) } : { classifier };
}

/**
 * A classifier on a given encoder (a ViTMAE checkpoint's `vit.`, as transformers' from_pretrained and MAE's
 * main_finetune load it): the position table becomes a trained parameter; under mean pooling the final
 * vit.layernorm is dropped (MAE's `del self.norm`) and fc_norm is fresh.
 */
export function classifierOnEncoder(
  encoder: EncoderParams,
  cfg: ViTConfig,
  headKey: Key,
  headInitStd: number,
): ClassifierParams {
  const { layernorm, ...rest } = encoder;
  const vit = cfg.useMeanPooling ? rest : { ...rest, layernorm };
  return { vit, ...initHead(headKey, cfg, headInitStd) };
}

/** A fresh classifier: HF's ViT init for the encoder (patch projection, blocks, position table, cls token) and head. */
export function initClassifier(k: Key, cfg: ViTConfig): ClassifierParams {
  const [encKey, posKey, clsKey, headKey, patchKey] = T.random.split(k, 5);
  const e = cfg.encoder;
  const std = e.initializerRange;
  const encoder = initEncoder(encKey, e); // blocks: N(0, σ) weights, zero biases, LayerNorms 1/0
  const { weight } = encoder.embeddings.patch_embeddings.projection;
  const embeddings = {
    cls_token: truncNormal(clsKey, [1, 1, e.hiddenSize], std),
    position_embeddings: truncNormal(posKey, encoder.embeddings.position_embeddings.shape, std),
    patch_embeddings: {
      projection: { weight: truncNormal(patchKey, weight.shape, std), bias: T.zeros([e.hiddenSize]) },
    },
  };
  return classifierOnEncoder({ ...encoder, embeddings }, cfg, headKey, std);
}
