// The encoder (HF ViTMAEModel): embeddings, the transformer layers, the final LayerNorm.

import type { Key, Tensor } from "../core/index.ts";
import * as T from "../core/index.ts";
import { fmt, ShapeError } from "../core/index.ts";
import { activation } from "../nn/activation.ts";
import { block } from "../nn/block.ts";
import { KeyStream } from "../nn/dropout.ts";
import { layerNorm } from "../nn/layerNorm.ts";
import type { ViTMAEConfig } from "./config.ts";
import { embed, type EmbedOptions } from "./embeddings.ts";
import type { EncoderParams } from "./params.ts";

export interface EncodeOptions extends EmbedOptions {
  /** Multiplies attention probabilities per head: [heads] for every layer, or [layers, heads]. */
  headMask?: Tensor;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
  /** Dropout key: hidden and attention dropout are on only when this is given (training). */
  dropoutKey?: Key;
}

export interface EncoderOutput {
  lastHiddenState: Tensor; // [B, 1+lenKeep, D]
  mask: Tensor; //            [B, L]
  idsRestore: Tensor; //      [B, L]
  /** [embeddings, layer 1, …, layer N] (the last one before the final LayerNorm). */
  hiddenStates?: Tensor[];
  /** Per layer: [B, heads, 1+lenKeep, 1+lenKeep]. */
  attentions?: Tensor[];
  patchEmbeddings: Tensor;
  positions: Tensor;
  grid: [number, number];
}

export function encode(p: EncoderParams, cfg: ViTMAEConfig, pixels: Tensor, opts: EncodeOptions = {}): EncoderOutput {
  const e = embed(p.embeddings, cfg, pixels, opts);
  const keys = new KeyStream(opts.dropoutKey);
  const training = opts.dropoutKey !== undefined;
  const act = activation(cfg.hiddenAct);
  const hiddenStates = [e.tokens];
  const attentions: Tensor[] = [];
  let x = e.tokens;
  p.encoder.layer.forEach((layer, i) => {
    const { out, probs } = block(layer, x, {
      heads: cfg.numAttentionHeads,
      eps: cfg.layerNormEps,
      act,
      headMask: headMaskFor(opts.headMask, i, cfg),
      attentionDropout: training ? cfg.attentionProbsDropoutProb : 0,
      hiddenDropout: training ? cfg.hiddenDropoutProb : 0,
      keys,
    });
    x = out;
    hiddenStates.push(out);
    attentions.push(probs);
  });
  return {
    lastHiddenState: layerNorm(p.layernorm, x, cfg.layerNormEps),
    mask: e.mask,
    idsRestore: e.idsRestore,
    hiddenStates: opts.outputHiddenStates ? hiddenStates : undefined,
    attentions: opts.outputAttentions ? attentions : undefined,
    patchEmbeddings: e.patchEmbeddings,
    positions: e.positions,
    grid: e.grid,
  };
}

/** HF get_head_mask: [heads] applies to every layer, [layers, heads] per layer. */
function headMaskFor(mask: Tensor | undefined, layer: number, cfg: ViTMAEConfig): Tensor | undefined {
  if (!mask) return undefined;
  const h = cfg.numAttentionHeads;
  const n = cfg.numHiddenLayers;
  if (mask.shape.length === 1 && mask.shape[0] === h) return mask;
  if (mask.shape.length === 2 && mask.shape[0] === n && mask.shape[1] === h)
    return T.reshape(T.slice(mask, [{ start: layer, stop: layer + 1 }]), [h]);
  throw new ShapeError(`headMask must be [${h}] (heads) or [${n}, ${h}] (layers, heads), got ${fmt(mask.shape)}`);
}
