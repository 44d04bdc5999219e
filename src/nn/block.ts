// The pre-norm transformer block, named as HF's ViTMAELayer:
//   h = x + attention(layernorm_before(x));  out = h + output(act(intermediate(layernorm_after(h)))).

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import type { Activation } from "./activation.ts";
import { selfAttention, type AttentionOptions, type AttentionParams } from "./attention.ts";
import { dropout } from "./dropout.ts";
import { layerNorm, type LayerNormParams } from "./layerNorm.ts";
import { linear, type LinearParams } from "./linear.ts";

export interface BlockParams {
  attention: AttentionParams;
  intermediate: { dense: LinearParams };
  output: { dense: LinearParams };
  layernorm_before: LayerNormParams;
  layernorm_after: LayerNormParams;
}

export interface BlockOptions extends AttentionOptions {
  eps: number;
  act: Activation;
}

/** [B, T, D] → { out: [B, T, D], probs: [B, heads, T, T] }. */
export function block(p: BlockParams, x: Tensor, opts: BlockOptions): { out: Tensor; probs: Tensor } {
  const { out: attended, probs } = selfAttention(p.attention, layerNorm(p.layernorm_before, x, opts.eps), opts);
  const h = T.add(x, attended);
  const hidden = opts.act(linear(p.intermediate.dense, layerNorm(p.layernorm_after, h, opts.eps)));
  const out = T.add(h, dropout(linear(p.output.dense, hidden), opts.hiddenDropout ?? 0, opts.keys?.next()));
  return { out, probs };
}
