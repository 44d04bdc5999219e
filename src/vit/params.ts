// ViTForImageClassification parameters as plain records whose paths are Hugging Face's names: the `vit.` encoder
// (ViTMAE's pieces, with a learned position table), `classifier.weight/bias`, and MAE's `fc_norm` when mean-pooling.

import type { Tensor } from "../core/index.ts";
import type { LayerNormParams } from "../nn/layerNorm.ts";
import type { LinearParams } from "../nn/linear.ts";
import { parameterShapes, treeFromNamed, type EncoderParams } from "../mae/params.ts";
import type { ViTConfig } from "./config.ts";

/** The encoder; `layernorm` is absent under mean pooling (MAE deletes the final norm, fc_norm replaces it). */
export type ViTEncoderParams = Omit<EncoderParams, "layernorm"> & { layernorm?: LayerNormParams };

export interface ClassifierParams {
  vit: ViTEncoderParams;
  fc_norm?: LayerNormParams; // [D]  mean pooling only
  classifier: LinearParams; //  [K, D], [K]
}

/** Every parameter name with its shape, in HF's state-dict order. */
export function classifierShapes(cfg: ViTConfig): [string, number[]][] {
  const d = cfg.encoder.hiddenSize;
  const encoder = parameterShapes(cfg.encoder, "")
    .filter(([name]) => !(cfg.useMeanPooling && name.startsWith("layernorm.")))
    .map(([name, shape]): [string, number[]] => [`vit.${name}`, shape]);
  const fcNorm: [string, number[]][] = cfg.useMeanPooling
    ? [
        ["fc_norm.weight", [d]],
        ["fc_norm.bias", [d]],
      ]
    : [];
  return [...encoder, ...fcNorm, ["classifier.weight", [cfg.numLabels, d]], ["classifier.bias", [cfg.numLabels]]];
}

/** The parameter record from named tensors: every missing, unexpected or misshapen tensor reported by name. */
export function classifierFromNamed(
  cfg: ViTConfig,
  named: ReadonlyMap<string, Tensor>,
  source?: string,
): ClassifierParams {
  return treeFromNamed(classifierShapes(cfg), named, source) as unknown as ClassifierParams;
}
