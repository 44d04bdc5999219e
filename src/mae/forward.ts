// ViTMAEForPreTraining as one pure function: encode → decode → loss (MAE's forward, 4 lines).

import type { Key, Tensor } from "../core/index.ts";
import type { ViTMAEConfig } from "./config.ts";
import { decode } from "./decoder.ts";
import { encode, type EncodeOptions } from "./encoder.ts";
import { maeLoss } from "./loss.ts";
import type { PreTrainingParams } from "./params.ts";

export interface ForwardOptions extends EncodeOptions {
  /** Dropout on (hidden and attention, with the config's probabilities) under this key. */
  dropoutKey?: Key;
}

export interface PreTrainingOutput {
  loss: Tensor; //            []
  logits: Tensor; //          [B, L, ph·pw·C]
  mask: Tensor; //            [B, L]  0 keep, 1 remove
  idsRestore: Tensor; //      [B, L]
  lastHiddenState: Tensor; // [B, 1+lenKeep, D]
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

/** pixels [B, C, H, W] → loss, logits, mask, idsRestore, lastHiddenState (+ hidden states, attentions). */
export function forward(params: PreTrainingParams, cfg: ViTMAEConfig, pixels: Tensor, opts: ForwardOptions = {}): PreTrainingOutput {
  const latent = encode(params.vit, cfg, pixels, opts);
  const { logits } = decode(params.decoder, cfg, latent.lastHiddenState, latent.idsRestore, { interpolatePosEncoding: opts.interpolatePosEncoding, dropoutKey: opts.dropoutKey && splitOff(opts.dropoutKey) });
  const loss = maeLoss(pixels, logits, latent.mask, cfg.patchSize, cfg.normPixLoss);
  const { mask, idsRestore, lastHiddenState, hiddenStates, attentions } = latent;
  return { loss, logits, mask, idsRestore, lastHiddenState, hiddenStates, attentions };
}

import { foldIn } from "../core/prng.ts";
/** The decoder's dropout key, independent of the encoder's. */
const splitOff = (k: Key): Key => foldIn(k, 0x64656300);
