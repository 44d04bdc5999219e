// The pre-norm transformer block, named as HF's ViTMAELayer:
//   h = x + attention(layernorm_before(x));  out = h + output(act(intermediate(layernorm_after(h)))).
// With a drop-path rate (fine-tuning, timm's Block), each residual branch is dropped per sample.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import type { Activation } from "./activation.ts";
import { selfAttention, type AttentionOptions, type AttentionParams } from "./attention.ts";
import { dropout } from "./dropout.ts";
import { dropPath } from "./dropPath.ts";
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
  /** Stochastic depth: the probability of dropping each residual branch, per sample (needs dropPathKey). */
  dropPath?: number;
  dropPathKey?: Key;
}

/** [B, T, D] → { out: [B, T, D], probs: [B, heads, T, T] }. */
export function block(p: BlockParams, x: Tensor, opts: BlockOptions): { out: Tensor; probs: Tensor } {
  const { out: attended, probs } = selfAttention(p.attention, layerNorm(p.layernorm_before, x, opts.eps), opts);
  const rate = opts.dropPath ?? 0;
  const [attnKey, mlpKey] = rate > 0 && opts.dropPathKey ? T.random.split(opts.dropPathKey, 2) : [];
  const h = T.add(x, dropPath(attended, rate, attnKey));
  const hidden = opts.act(linear(p.intermediate.dense, layerNorm(p.layernorm_after, h, opts.eps)));
  const mlp = dropout(linear(p.output.dense, hidden), opts.hiddenDropout ?? 0, opts.keys?.next());
  const out = T.add(h, dropPath(mlp, rate, mlpKey));
  return { out, probs };
}
