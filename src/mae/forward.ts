// ViTMAEForPreTraining as one pure function: encode → decode → loss (MAE's forward, 4 lines).

import { typed, type Key, type Shape, type Tensor } from "../core/index.ts";
import type { BatchOf, CheckPixels } from "./pixelTypes.ts";
import type { ViTMAEConfig } from "./config.ts";
import { decode } from "./decoder.ts";
import { encode, type EncodeOptions } from "./encoder.ts";
import { maeLoss } from "./loss.ts";
import type { PreTrainingParams } from "./params.ts";

export interface ForwardOptions extends EncodeOptions {
  /** Dropout on (hidden and attention, with the config's probabilities) under this key. */
  dropoutKey?: Key;
}

export interface PreTrainingOutput<B extends number = number, D extends number = number> {
  loss: Tensor<[]>;
  logits: Tensor<[B, number, number]>; //   [B, L, ph·pw·C]
  mask: Tensor<[B, number]>; //             [B, L]  0 keep, 1 remove
  idsRestore: Tensor<[B, number]>; //       [B, L]
  lastHiddenState: Tensor<[B, number, D]>; // [B, 1+lenKeep, D]
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

/**
 * pixels [B, C, H, W] → loss, logits, mask, idsRestore, lastHiddenState (+ hidden states, attentions).
 * A config with literal dims fixes C, H, W (and D) in the types: a wrongly shaped pixel tensor does
 * not compile. (With interpolatePosEncoding, pass a config typed with `number` dims.)
 */
export function forward<P extends Shape, C extends number, H extends number, W extends number, D extends number>(
  params: PreTrainingParams,
  cfg: ViTMAEConfig<C, H, W, D>,
  pixels: Tensor<P>,
  opts: ForwardOptions = {},
  ..._pixelsFit: CheckPixels<P, C, H, W>
): PreTrainingOutput<BatchOf<P>, D> {
  const latent = encode(params.vit, cfg, pixels, opts);
  const { logits } = decode(params.decoder, cfg, latent.lastHiddenState, latent.idsRestore, {
    interpolatePosEncoding: opts.interpolatePosEncoding,
    dropoutKey: opts.dropoutKey && splitOff(opts.dropoutKey),
  });
  const loss = maeLoss(pixels, logits, latent.mask, cfg.patchSize, cfg.normPixLoss);
  const { mask, idsRestore, lastHiddenState, hiddenStates, attentions } = latent;
  return {
    loss: typed(loss),
    logits: typed(logits),
    mask: typed(mask),
    idsRestore: typed(idsRestore),
    lastHiddenState: typed(lastHiddenState),
    hiddenStates,
    attentions,
  };
}

import { foldIn } from "../core/prng.ts";
/** The decoder's dropout key, independent of the encoder's. */
const splitOff = (k: Key): Key => foldIn(k, 0x64656300);
