// The decoder (HF ViTMAEDecoder), SPEC.md §8: embed all tokens, append mask tokens, unshuffle,
// prepend CLS, add positions, run the layers, norm, predict pixels, drop the CLS row.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { activation } from "../nn/activation.ts";
import { block } from "../nn/block.ts";
import { KeyStream } from "../nn/dropout.ts";
import { layerNorm } from "../nn/layerNorm.ts";
import { linear } from "../nn/linear.ts";
import type { ViTMAEConfig } from "./config.ts";
import type { DecoderParams } from "./params.ts";
import { interpolateDecoderTable } from "./posEmbed.ts";

export interface DecodeOptions {
  interpolatePosEncoding?: boolean;
  dropoutKey?: Key;
}

export interface DecoderOutput {
  logits: Tensor; //       [B, L, ph·pw·C]
  embedded: Tensor; //     [B, 1+lenKeep, Dd]  (HF debug.decoder_embed_out)
  input: Tensor; //        [B, 1+L, Dd]        after unshuffle and positions (debug.decoder_input)
  normed: Tensor; //       [B, 1+L, Dd]        (debug.decoder_norm_out)
}

/** latent [B, 1+lenKeep, D] and idsRestore [B, L] → logits [B, L, ph·pw·C]. */
export function decode(
  p: DecoderParams,
  cfg: ViTMAEConfig,
  latent: Tensor,
  idsRestore: Tensor,
  opts: DecodeOptions = {},
): DecoderOutput {
  const embedded = linear(p.decoder_embed, latent); //                  (B, 1+keep, Dd)
  const [b, t, dd] = embedded.shape;
  const l = idsRestore.shape[1];
  const maskTokens = T.broadcastTo(T.reshape(p.mask_token, [1, 1, dd]), [b, l + 1 - t, dd]);
  const shuffled = T.concat([T.slice(embedded, [null, { start: 1 }]), maskTokens], 1); // (B, L, Dd) no CLS
  const index = T.broadcastTo(T.expandDims(idsRestore, -1), [b, l, dd]);
  const unshuffled = T.takeAlongAxis(shuffled, index, 1); //           (B, L, Dd)
  const withCls = T.concat([T.slice(embedded, [null, { stop: 1 }]), unshuffled], 1); // (B, 1+L, Dd)
  const table = T.reshape(p.decoder_pos_embed, p.decoder_pos_embed.shape.slice(1)); // (1+L0, Dd)
  const positions = opts.interpolatePosEncoding ? interpolateDecoderTable(table, l) : table;
  const input = T.add(withCls, positions);
  const keys = new KeyStream(opts.dropoutKey);
  const training = opts.dropoutKey !== undefined;
  const act = activation(cfg.hiddenAct);
  let x: Tensor = input;
  for (const layer of p.decoder_layers) {
    x = block(layer, x, {
      heads: cfg.decoderNumAttentionHeads,
      eps: cfg.layerNormEps,
      act,
      attentionDropout: training ? cfg.attentionProbsDropoutProb : 0,
      hiddenDropout: training ? cfg.hiddenDropoutProb : 0,
      keys,
    }).out;
  }
  const normed = layerNorm(p.decoder_norm, x, cfg.layerNormEps);
  const logits = T.slice(linear(p.decoder_pred, normed), [null, { start: 1 }]); // drop CLS: (B, L, ph·pw·C)
  return { logits, embedded, input, normed };
}
