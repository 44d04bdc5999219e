// Deterministic bench data: weights with Hugging Face ViTMAE names and inputs, shared by every impl (SPEC.md §2, §14).
//
// The parent process makes each data set once and writes it as safetensors; every impl process loads the
// same file, so all impls are timed on the same work and their outputs can be compared.
import type { Tensor, Tensors } from "./safetensors.ts";

/** mulberry32: a tiny 32-bit PRNG, plenty for bench data (not for statistics). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normals by Box-Muller over a uniform stream; `1 - u` keeps log away from 0. */
export function normals(n: number, std: number, uniform: () => number, mean = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    out[i] = mean + std * r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(theta);
  }
  return out;
}

export function uniforms(n: number, uniform: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = uniform();
  return out;
}

const tensor = (shape: number[], data: Float32Array): Tensor => ({ shape, data });

/**
 * The fixed 2-D sin-cos table [1, 1+g², D] (SPEC §2): row 0 (CLS) zero; row 1+i·g+j =
 * [sin(j·ω), cos(j·ω), sin(i·ω), cos(i·ω)] with ω_k = 10000^(-k/(D/4)), in float64 then rounded to float32.
 */
export function sincosTable(grid: number, dim: number): Tensor {
  if (dim % 4 !== 0) throw new Error(`sincosTable: hidden size ${dim} must be divisible by 4`);
  const quarter = dim / 4;
  const out = new Float32Array((1 + grid * grid) * dim);
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      const row = (1 + i * grid + j) * dim;
      for (let k = 0; k < quarter; k++) {
        const omega = 1 / 10000 ** (k / quarter);
        out[row + k] = Math.sin(j * omega);
        out[row + quarter + k] = Math.cos(j * omega);
        out[row + 2 * quarter + k] = Math.sin(i * omega);
        out[row + 3 * quarter + k] = Math.cos(i * omega);
      }
    }
  }
  return tensor([1, 1 + grid * grid, dim], out);
}

/** Sizes of one ViT block. */
export interface BlockDims {
  hidden: number;
  heads: number;
  intermediate: number;
}

/**
 * One ViTMAELayer's parameters under their HF names (prefix + "attention.attention.query.weight" …).
 * Linear weights ~ N(0, 0.02) as HF init; biases and LayerNorm affine are perturbed away from 0 and 1
 * (as the reference cases do) so that every gradient path carries signal and a wiring error shows.
 */
export function blockParams(prefix: string, d: BlockDims, u: () => number): Tensors {
  const p: Tensors = new Map();
  const linear = (name: string, out: number, inp: number) => {
    p.set(`${prefix}${name}.weight`, tensor([out, inp], normals(out * inp, 0.02, u)));
    p.set(`${prefix}${name}.bias`, tensor([out], normals(out, 0.05, u)));
  };
  const layerNorm = (name: string) => {
    p.set(`${prefix}${name}.weight`, tensor([d.hidden], normals(d.hidden, 0.1, u, 1)));
    p.set(`${prefix}${name}.bias`, tensor([d.hidden], normals(d.hidden, 0.1, u)));
  };
  linear("attention.attention.query", d.hidden, d.hidden);
  linear("attention.attention.key", d.hidden, d.hidden);
  linear("attention.attention.value", d.hidden, d.hidden);
  linear("attention.output.dense", d.hidden, d.hidden);
  linear("intermediate.dense", d.intermediate, d.hidden);
  linear("output.dense", d.hidden, d.intermediate);
  layerNorm("layernorm_before");
  layerNorm("layernorm_after");
  return p;
}

/** The ViTMAE config keys the bench uses (HF names; defaults per SPEC §15). */
export interface MaeConfig {
  image_size: number;
  patch_size: number;
  num_channels: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  decoder_hidden_size: number;
  decoder_num_hidden_layers: number;
  decoder_num_attention_heads: number;
  decoder_intermediate_size: number;
  mask_ratio: number;
  norm_pix_loss: boolean;
  layer_norm_eps: number;
  hidden_act: string;
  qkv_bias: boolean;
}

export const VIT_MAE_BASE: MaeConfig = {
  image_size: 224,
  patch_size: 16,
  num_channels: 3,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  decoder_hidden_size: 512,
  decoder_num_hidden_layers: 8,
  decoder_num_attention_heads: 16,
  decoder_intermediate_size: 2048,
  mask_ratio: 0.75,
  norm_pix_loss: false,
  layer_norm_eps: 1e-12,
  hidden_act: "gelu",
  qkv_bias: true,
};

/** Picks the bench's keys from a full HF config.json object, filling SPEC §15 defaults. */
export function maeConfigFrom(json: Record<string, unknown>): MaeConfig {
  const out = { ...VIT_MAE_BASE } as Record<string, unknown>;
  for (const key of Object.keys(VIT_MAE_BASE)) if (json[key] !== undefined) out[key] = json[key];
  const c = out as unknown as MaeConfig;
  if (typeof c.image_size !== "number" || typeof c.patch_size !== "number") {
    throw new Error("maeConfigFrom: image_size and patch_size must be single numbers for the bench");
  }
  return c;
}

/** The full ViTMAEForPreTraining state dict under HF names, in the reference checkpoints' order. */
export function maeParams(c: MaeConfig, u: () => number): Tensors {
  const grid = c.image_size / c.patch_size;
  const D = c.hidden_size;
  const Dd = c.decoder_hidden_size;
  const patchDim = c.patch_size * c.patch_size * c.num_channels;
  const p: Tensors = new Map();
  p.set("vit.embeddings.cls_token", tensor([1, 1, D], normals(D, 0.02, u)));
  p.set("vit.embeddings.position_embeddings", sincosTable(grid, D));
  const convIn = c.num_channels * c.patch_size * c.patch_size;
  p.set(
    "vit.embeddings.patch_embeddings.projection.weight",
    tensor([D, c.num_channels, c.patch_size, c.patch_size], normals(D * convIn, 0.02, u)),
  );
  p.set("vit.embeddings.patch_embeddings.projection.bias", tensor([D], normals(D, 0.05, u)));
  const enc: BlockDims = { hidden: D, heads: c.num_attention_heads, intermediate: c.intermediate_size };
  for (let l = 0; l < c.num_hidden_layers; l++)
    for (const e of blockParams(`vit.encoder.layer.${l}.`, enc, u)) p.set(...e);
  p.set("vit.layernorm.weight", tensor([D], normals(D, 0.1, u, 1)));
  p.set("vit.layernorm.bias", tensor([D], normals(D, 0.1, u)));
  p.set("decoder.mask_token", tensor([1, 1, Dd], normals(Dd, 0.02, u)));
  p.set("decoder.decoder_pos_embed", sincosTable(grid, Dd));
  p.set("decoder.decoder_embed.weight", tensor([Dd, D], normals(Dd * D, 0.02, u)));
  p.set("decoder.decoder_embed.bias", tensor([Dd], normals(Dd, 0.05, u)));
  const dec: BlockDims = {
    hidden: Dd,
    heads: c.decoder_num_attention_heads,
    intermediate: c.decoder_intermediate_size,
  };
  for (let l = 0; l < c.decoder_num_hidden_layers; l++)
    for (const e of blockParams(`decoder.decoder_layers.${l}.`, dec, u)) p.set(...e);
  p.set("decoder.decoder_norm.weight", tensor([Dd], normals(Dd, 0.1, u, 1)));
  p.set("decoder.decoder_norm.bias", tensor([Dd], normals(Dd, 0.1, u)));
  p.set("decoder.decoder_pred.weight", tensor([patchDim, Dd], normals(patchDim * Dd, 0.02, u)));
  p.set("decoder.decoder_pred.bias", tensor([patchDim], normals(patchDim, 0.05, u)));
  return p;
}

/** MAE inputs: pixel_values ~ N(0,1) [B, C, H, W] and noise ~ U[0,1) [B, L] (what HF draws). */
export function maeInputs(c: MaeConfig, batch: number, u: () => number): Tensors {
  const L = (c.image_size / c.patch_size) ** 2;
  const H = c.image_size;
  return new Map([
    ["pixel_values", tensor([batch, c.num_channels, H, H], normals(batch * c.num_channels * H * H, 1, u))],
    ["noise", tensor([batch, L], uniforms(batch * L, u))],
  ]);
}
