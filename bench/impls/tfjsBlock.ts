// One ViT encoder block (HF ViTMAELayer, SPEC.md §5-6) in TensorFlow.js, written two ways for the bench.
//
// "stock": what a tfjs user writes: tfjs-layers kernels [in, out], `tf.matMul(q, k, false, true)` for q·kᵀ,
//   and tfjs's own gradients (which set transposeA/transposeB in the backward matmuls).
// "tuned": every matmul goes through `mm`, whose custom gradient transposes explicitly, so no BatchMatMul
//   ever has a transpose flag set: the wasm backend then stays on its XNNPACK path.
import * as tf from "@tensorflow/tfjs";
import type { BlockShape } from "../cases.ts";

export type MatMulStyle = "stock" | "tuned";

/** The block's parameters in the order the gradient functions take them (HF names; Linear kernels are [in, out]). */
export const BLOCK_PARAM_NAMES = [
  "attention.attention.query.weight",
  "attention.attention.query.bias",
  "attention.attention.key.weight",
  "attention.attention.key.bias",
  "attention.attention.value.weight",
  "attention.attention.value.bias",
  "attention.output.dense.weight",
  "attention.output.dense.bias",
  "intermediate.dense.weight",
  "intermediate.dense.bias",
  "output.dense.weight",
  "output.dense.bias",
  "layernorm_before.weight",
  "layernorm_before.bias",
  "layernorm_after.weight",
  "layernorm_after.bias",
] as const;

const swapLast = (rank: number): number[] => (rank === 2 ? [1, 0] : [0, 2, 1]);

/** a·b with d(a·b) = (dy·bᵀ, aᵀ·dy), the transposes done as copies so the products need no transpose flags. */
const mm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc]; // customGrad passes the inputs, then `save`
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [
      tf.matMul(dy as tf.Tensor3D, tf.transpose(sb, swapLast(sb.rank)) as tf.Tensor3D),
      tf.matMul(tf.transpose(sa, swapLast(sa.rank)) as tf.Tensor3D, dy as tf.Tensor3D),
    ],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** a·b for [.., m, k]·[.., k, n] in the chosen style. */
function matmul(style: MatMulStyle, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return style === "tuned" ? mm(a, b) : tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D);
}

/** a·bᵀ: the stock style sets transposeB, the tuned one transposes first. */
function matmulT(style: MatMulStyle, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return style === "tuned"
    ? mm(a, tf.transpose(b, swapLast(b.rank)))
    : tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, false, true);
}

/** LayerNorm over the last axis: biased variance, eps inside the sqrt (SPEC §9). */
function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), w), b);
}

/** Exact GELU: x·Φ(x) = 0.5·x·(1 + erf(x/√2)). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** out = x + Wo·Attn(LN1(x)) then + W2·gelu(W1·LN2(h)); x: [B, T, D], params in BLOCK_PARAM_NAMES order. */
export function blockForward(style: MatMulStyle, s: BlockShape, x: tf.Tensor, params: tf.Tensor[]): tf.Tensor {
  const [qW, qb, kW, kb, vW, vb, oW, ob, iW, ib, o2W, o2b, ln1w, ln1b, ln2w, ln2b] = params;
  const { batch: B, tokens: T, hidden: D, heads: H } = s;
  const hd = D / H;
  const linear = (x2: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.add(matmul(style, x2, w), b);
  const toHeads = (t: tf.Tensor) =>
    tf.reshape(tf.transpose(tf.reshape(t, [B, T, H, hd]), [0, 2, 1, 3]), [B * H, T, hd]);

  const x2 = tf.reshape(x, [B * T, D]); // [B·T, D]
  const n1 = layerNorm(x2, ln1w, ln1b, s.eps);
  const q = toHeads(linear(n1, qW, qb)); // [B·H, T, hd]
  const k = toHeads(linear(n1, kW, kb));
  const v = toHeads(linear(n1, vW, vb));
  const p = tf.softmax(tf.mul(matmulT(style, q, k), 1 / Math.sqrt(hd))); // [B·H, T, T]
  const ctx = matmul(style, p, v); // [B·H, T, hd]
  const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [B, H, T, hd]), [0, 2, 1, 3]), [B * T, D]);
  const h = tf.add(x2, linear(merged, oW, ob));
  const mlp = linear(gelu(linear(layerNorm(h, ln2w, ln2b, s.eps), iW, ib)), o2W, o2b);
  return tf.reshape(tf.add(h, mlp), [B, T, D]);
}
