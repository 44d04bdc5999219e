// The bench cases of issue 5: matmul shapes, one ViT-B block, and the ViTMAE pre-training steps.
//
// A case spec is plain JSON: the parent writes it to a file and every impl process (node or python) reads it,
// so both languages run exactly the same case.
import { type MaeConfig, VIT_MAE_BASE } from "./data.ts";

export type CaseKind = "matmul" | "block-fwd" | "block-fwdbwd" | "mae-step";

export const CPU_IMPLS = ["vitmae-ts", "pytorch", "tfjs-cpu", "tfjs-wasm", "tfjs-wasm-tuned", "jax-js-wasm"] as const;
/**
 * The GPU impls (issue 11), run only when named with --impl (bench/gpu/device.sh does): ours on
 * WebGPU, tfjs's and jax-js's WebGPU backends in the same Node process setup, PyTorch on CUDA.
 */
export const GPU_IMPLS = ["pytorch-cuda", "vitmae-ts-webgpu", "tfjs-webgpu", "jax-js-webgpu"] as const;
export const IMPL_NAMES = [...CPU_IMPLS, ...GPU_IMPLS] as const;
export type ImplName = (typeof IMPL_NAMES)[number];

/** Which impl a case's peers are compared with: the first of these that ran its check. */
export const REFERENCE_ORDER: readonly ImplName[] = ["vitmae-ts", "pytorch", "tfjs-cpu", "pytorch-cuda"];

/** Whose time the "÷ ours" column divides by: the first of these that ran. */
export const OURS: readonly ImplName[] = ["vitmae-ts", "vitmae-ts-webgpu"];

export interface BlockShape {
  batch: number;
  tokens: number;
  hidden: number;
  heads: number;
  intermediate: number;
  eps: number;
}

/** AdamW as MAE trains: decoupled weight decay except on `noDecay`; `frozen` tables never change. */
export interface AdamWSpec {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  noDecay: string[];
  frozen: string[];
}

export interface MaeShape {
  config: MaeConfig;
  batch: number;
  optimizer: AdamWSpec;
}

/** What one impl process needs to run a case; written as JSON for node and python alike. */
export interface CaseSpec {
  name: string;
  kind: CaseKind;
  /** The safetensors file with the case's weights and inputs. */
  data: string;
  matmul?: { M: number; K: number; N: number };
  block?: BlockShape;
  mae?: MaeShape;
  /** The named outputs the check compares: "out", "loss", "grad.<param or input>", "delta.<param>". */
  checks: string[];
  /** Max |Δ| relative to the reference's largest magnitude, per checked tensor. */
  rtol: number;
  /** Model FLOPs of one repetition (matmul FLOPs; backward counted as 2× forward). */
  flops: number;
}

/** A case as the parent knows it, before its data file exists. */
export interface CaseDef extends Omit<CaseSpec, "data"> {
  /** Data sets are shared: block-fwd and block-fwdbwd read the same "block" file. */
  dataset: string;
  impls: readonly ImplName[];
}

const ALL_IMPLS = IMPL_NAMES;
const MAE_IMPLS: readonly ImplName[] = ["vitmae-ts", "pytorch", "pytorch-cuda", "vitmae-ts-webgpu"];
const GPU_ONLY: readonly ImplName[] = GPU_IMPLS;

const BLOCK: BlockShape = { batch: 8, tokens: 50, hidden: 768, heads: 12, intermediate: 3072, eps: 1e-12 };
/** The block at MAE-Base pre-training's batch 64 (the encoder sees 49 kept patches + cls per image). */
const BLOCK_B64: BlockShape = { ...BLOCK, batch: 64 };

/** Linear + attention FLOPs of one block's forward on [batch, tokens, hidden]. */
export function blockForwardFlops(b: Pick<BlockShape, "batch" | "tokens" | "hidden" | "intermediate">): number {
  const T = b.batch * b.tokens;
  const linears = 2 * T * (4 * b.hidden * b.hidden + 2 * b.hidden * b.intermediate);
  const attention = 2 * 2 * b.batch * b.tokens * b.tokens * b.hidden; // q·kᵀ and p·v
  return linears + attention;
}

/** Matmul FLOPs of one MAE pre-training step (forward ×3 for forward + backward). */
export function maeStepFlops(c: MaeConfig, batch: number): number {
  const L = (c.image_size / c.patch_size) ** 2;
  const keep = Math.trunc(L * (1 - c.mask_ratio));
  const patchDim = c.patch_size * c.patch_size * c.num_channels;
  const D = c.hidden_size;
  const Dd = c.decoder_hidden_size;
  const enc = { batch, tokens: 1 + keep, hidden: D, intermediate: c.intermediate_size };
  const dec = { batch, tokens: 1 + L, hidden: Dd, intermediate: c.decoder_intermediate_size };
  const forward =
    2 * batch * L * patchDim * D + // the patch-embedding conv runs on every patch, before masking
    c.num_hidden_layers * blockForwardFlops(enc) +
    2 * batch * (1 + keep) * D * Dd +
    c.decoder_num_hidden_layers * blockForwardFlops(dec) +
    2 * batch * (1 + L) * Dd * patchDim;
  return 3 * forward;
}

/** MAE's AdamW: no decay on biases, norm weights, cls/mask tokens; the sin-cos tables are frozen. */
export function maeAdamW(paramNames: Iterable<string>, shapes: Map<string, number[]>): AdamWSpec {
  const frozen = ["vit.embeddings.position_embeddings", "decoder.decoder_pos_embed"];
  const noDecay: string[] = [];
  for (const name of paramNames) {
    if (frozen.includes(name)) continue;
    const rank = shapes.get(name)?.length ?? 0;
    if (rank <= 1 || name.endsWith(".bias") || name.endsWith("cls_token") || name.endsWith("mask_token"))
      noDecay.push(name);
  }
  return { lr: 1.5e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, noDecay, frozen };
}

const matmul = (M: number, K: number, N: number): CaseDef => ({
  name: `matmul-${M}x${K}x${N}`,
  kind: "matmul",
  dataset: `matmul-${M}x${K}x${N}`,
  matmul: { M, K, N },
  checks: ["out"],
  rtol: 1e-4,
  flops: 2 * M * K * N,
  impls: ALL_IMPLS,
});

const BLOCK_GRADS = [
  "grad.x",
  "grad.attention.attention.query.weight",
  "grad.attention.attention.value.bias",
  "grad.attention.output.dense.bias",
  "grad.intermediate.dense.weight",
  "grad.output.dense.weight",
  "grad.layernorm_before.weight",
];

const MAE_CHECKS = [
  "loss",
  "grad.vit.embeddings.patch_embeddings.projection.weight",
  "grad.vit.embeddings.cls_token",
  "grad.vit.encoder.layer.0.attention.attention.query.weight",
  "grad.vit.layernorm.weight",
  "grad.decoder.mask_token",
  "grad.decoder.decoder_pred.bias",
  "delta.decoder.decoder_pred.bias",
  "delta.decoder.decoder_embed.weight",
];

/** Every case of the issue, in the order the table prints them. The MAE `optimizer` is filled in with the data. */
export function allCases(tinyConfig: MaeConfig): CaseDef[] {
  const mae = (
    name: string,
    dataset: string,
    config: MaeConfig,
    rtol: number,
    batch = 8,
    impls: readonly ImplName[] = MAE_IMPLS,
  ): CaseDef => ({
    name,
    kind: "mae-step",
    dataset,
    mae: { config, batch, optimizer: maeAdamW([], new Map()) },
    checks: MAE_CHECKS,
    rtol,
    flops: maeStepFlops(config, batch),
    impls,
  });
  return [
    matmul(400, 768, 768),
    matmul(400, 768, 3072),
    matmul(400, 3072, 768),
    matmul(1568, 768, 768),
    matmul(512, 512, 512),
    {
      name: "block-fwd",
      kind: "block-fwd",
      dataset: "block",
      block: BLOCK,
      checks: ["out"],
      rtol: 2e-4,
      flops: blockForwardFlops(BLOCK),
      impls: ALL_IMPLS,
    },
    {
      name: "block-fwdbwd",
      kind: "block-fwdbwd",
      dataset: "block",
      block: BLOCK,
      checks: ["loss", ...BLOCK_GRADS],
      rtol: 1e-3,
      flops: 3 * blockForwardFlops(BLOCK),
      impls: ALL_IMPLS,
    },
    mae("mae-base-step", "mae-base", VIT_MAE_BASE, 2e-3),
    mae("mae-tiny-step", "mae-tiny", tinyConfig, 2e-3),
    // GPU sizes (run with the GPU impls: bench/gpu/device.sh)
    {
      name: "block-fwdbwd-b64",
      kind: "block-fwdbwd",
      dataset: "block-b64",
      block: BLOCK_B64,
      checks: ["loss", ...BLOCK_GRADS],
      rtol: 1e-3,
      flops: 3 * blockForwardFlops(BLOCK_B64),
      impls: GPU_ONLY,
    },
    mae("mae-base-step-b64", "mae-base-b64", VIT_MAE_BASE, 2e-3, 64, ["pytorch-cuda", "vitmae-ts-webgpu"]),
  ];
}
