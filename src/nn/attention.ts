// Multi-head self-attention as HF's ViTSelfAttention + ViTSelfOutput (no mask; eager softmax).

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { dropout, type KeyStream } from "./dropout.ts";
import { linear, type LinearParams } from "./linear.ts";

export interface AttentionParams {
  attention: { query: LinearParams; key: LinearParams; value: LinearParams };
  output: { dense: LinearParams };
}

export interface AttentionOptions {
  heads: number;
  /** Multiplies the attention probabilities per head: [heads] (HF head_mask for one layer). */
  headMask?: Tensor;
  attentionDropout?: number;
  hiddenDropout?: number;
  keys?: KeyStream;
}

/** [B, T, D] → { out: [B, T, D], probs: [B, heads, T, T] }. */
export function selfAttention(p: AttentionParams, x: Tensor, opts: AttentionOptions): { out: Tensor; probs: Tensor } {
  const [b, t, d] = x.shape;
  const h = opts.heads;
  const hd = d / h;
  const split = (y: Tensor) => T.permute(T.reshape(y, [b, t, h, hd]), [0, 2, 1, 3]); // (B, h, T, hd)
  const q = split(linear(p.attention.query, x));
  const k = split(linear(p.attention.key, x));
  const v = split(linear(p.attention.value, x));
  const scores = T.mul(T.matmul(q, T.transpose(k)), hd ** -0.5); // (B, h, T, T)
  let probs: Tensor = T.softmax(scores, -1);
  probs = dropout(probs, opts.attentionDropout ?? 0, opts.keys?.next());
  if (opts.headMask) probs = T.mul(probs, T.reshape(opts.headMask, [1, h, 1, 1]));
  const context = T.reshape(T.permute(T.matmul(probs, v), [0, 2, 1, 3]), [b, t, d]); // (B, T, D)
  const out = dropout(linear(p.output.dense, context), opts.hiddenDropout ?? 0, opts.keys?.next());
  return { out, probs };
}
