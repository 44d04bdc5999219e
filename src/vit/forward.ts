// ViTForImageClassification as one pure function (HF modeling_vit.py; MAE's models_vit.py for the mean pool):
// embed every patch (no masking), the transformer layers, then pool — the CLS token after vit.layernorm (HF), or
// the mean of the patch tokens through fc_norm (MAE's global_pool) — and the linear classifier.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { checkPixels, patchEmbed, positionTable } from "../mae/embeddings.ts";
import { activation } from "../nn/activation.ts";
import { block } from "../nn/block.ts";
import { dropout, KeyStream } from "../nn/dropout.ts";
import { dropPathRates } from "../nn/dropPath.ts";
import { layerNorm } from "../nn/layerNorm.ts";
import { linear } from "../nn/linear.ts";
import type { ViTConfig } from "./config.ts";
import type { ClassifierParams } from "./params.ts";

export interface ClassifyOptions {
  interpolatePosEncoding?: boolean;
  /** Training: dropout (the config's probabilities) and drop path draw from this key; none without it. */
  key?: Key;
  /** Stochastic depth rate of the last block (timm: linearly from 0 at the first); needs `key`. */
  dropPath?: number;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

export interface ClassifierOutput {
  logits: Tensor; //            [B, K]
  /** After vit.layernorm (HF's last_hidden_state); the raw last layer under mean pooling, which has no such norm. */
  lastHiddenState: Tensor; //   [B, 1+L, D]
  /** [embeddings, layer 1, …, layer N] (the last one before vit.layernorm). */
  hiddenStates?: Tensor[];
  attentions?: Tensor[]; //     per layer [B, heads, 1+L, 1+L]
}

/** pixels [B, C, H, W] → logits [B, K]. */
export function classify(
  p: ClassifierParams,
  cfg: ViTConfig,
  pixels: Tensor,
  opts: ClassifyOptions = {},
): ClassifierOutput {
  const e = cfg.encoder;
  const interpolate = opts.interpolatePosEncoding ?? false;
  const grid = checkPixels(e, pixels, interpolate);
  const b = pixels.shape[0];
  const d = e.hiddenSize;
  const positions = positionTable(p.vit.embeddings.position_embeddings, e, grid, interpolate); // (1+L, D)
  const patches = patchEmbed(p.vit.embeddings.patch_embeddings.projection, e, pixels, grid); //    (B, L, D)
  const cls = T.broadcastTo(T.reshape(p.vit.embeddings.cls_token, [1, 1, d]), [b, 1, d]);
  const training = opts.key !== undefined;
  const [dropoutKey, pathKey] = training ? T.random.split(opts.key as Key, 2) : [];
  const keys = new KeyStream(dropoutKey);
  let x = T.add(T.concat([cls, patches], 1), positions); // (B, 1+L, D): HF adds the whole table after the CLS
  x = dropout(x, training ? e.hiddenDropoutProb : 0, keys.next());
  const rates = dropPathRates(opts.dropPath ?? 0, e.numHiddenLayers);
  const act = activation(e.hiddenAct);
  const hiddenStates = [x];
  const attentions: Tensor[] = [];
  p.vit.encoder.layer.forEach((layer, i) => {
    const { out, probs } = block(layer, x, {
      heads: e.numAttentionHeads,
      eps: e.layerNormEps,
      act,
      attentionDropout: training ? e.attentionProbsDropoutProb : 0,
      hiddenDropout: training ? e.hiddenDropoutProb : 0,
      keys,
      dropPath: training ? rates[i] : 0,
      dropPathKey: pathKey && T.random.foldIn(pathKey, i),
    });
    x = out;
    hiddenStates.push(out);
    attentions.push(probs);
  });
  let pooled: Tensor; // (B, D)
  let lastHiddenState = x;
  if (cfg.useMeanPooling) {
    if (!p.fc_norm) throw new Error("classify: use_mean_pooling needs fc_norm parameters");
    const patchMean = T.mean(T.slice(x, [null, { start: 1 }]), 1); // global pool without the cls token
    pooled = layerNorm(p.fc_norm, patchMean, e.layerNormEps);
  } else {
    if (!p.vit.layernorm) throw new Error("classify: CLS pooling needs vit.layernorm parameters");
    lastHiddenState = layerNorm(p.vit.layernorm, x, e.layerNormEps);
    pooled = T.reshape(T.slice(lastHiddenState, [null, { stop: 1 }]), [b, d]);
  }
  return {
    logits: linear(p.classifier, pooled),
    lastHiddenState,
    hiddenStates: opts.outputHiddenStates ? hiddenStates : undefined,
    attentions: opts.outputAttentions ? attentions : undefined,
  };
}
