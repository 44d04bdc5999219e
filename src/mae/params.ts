// ViTMAE parameters as plain records whose paths are Hugging Face's state-dict names
// ("vit.encoder.layer.0.attention.attention.query.weight"), and the checks that map between them.

import { Tensor } from "../core/index.ts";
import { fmt } from "../core/index.ts";
import type { BlockParams } from "../nn/block.ts";
import type { LayerNormParams } from "../nn/layerNorm.ts";
import type { LinearParams } from "../nn/linear.ts";
import type { ViTMAEConfig } from "./config.ts";

export interface EncoderParams {
  embeddings: {
    cls_token: Tensor; //            [1, 1, D]
    position_embeddings: Tensor; //  [1, 1+L, D]  fixed sin-cos table (frozen)
    patch_embeddings: { projection: { weight: Tensor; bias: Tensor } }; // conv [D, C, ph, pw], [D]
  };
  encoder: { layer: BlockParams[] };
  layernorm: LayerNormParams;
}

export interface DecoderParams {
  decoder_embed: LinearParams; //    [Dd, D]
  mask_token: Tensor; //             [1, 1, Dd]
  decoder_pos_embed: Tensor; //      [1, 1+L, Dd]  fixed sin-cos table (frozen)
  decoder_layers: BlockParams[];
  decoder_norm: LayerNormParams;
  decoder_pred: LinearParams; //     [ph·pw·C, Dd]
}

export interface PreTrainingParams {
  vit: EncoderParams;
  decoder: DecoderParams;
}

/** The parameters HF keeps frozen (requires_grad=False): optimisers never touch them. */
export const FROZEN_PARAMETERS = ["vit.embeddings.position_embeddings", "decoder.decoder_pos_embed"] as const;

/** Every parameter name with its shape, in HF's state-dict order. */
export function parameterShapes(cfg: ViTMAEConfig, prefix: "vit." | "" = "vit."): [string, number[]][] {
  const [ph, pw] = cfg.patchSize;
  const d = cfg.hiddenSize;
  const dd = cfg.decoderHiddenSize;
  const l = cfg.numPatches;
  const layer = (name: string, dim: number, inner: number): [string, number[]][] => {
    const qkv = (n: string): [string, number[]][] => [
      [`${name}.attention.attention.${n}.weight`, [dim, dim]],
      ...(cfg.qkvBias ? [[`${name}.attention.attention.${n}.bias`, [dim]] as [string, number[]]] : []),
    ];
    return [
      ...qkv("query"),
      ...qkv("key"),
      ...qkv("value"),
      [`${name}.attention.output.dense.weight`, [dim, dim]],
      [`${name}.attention.output.dense.bias`, [dim]],
      [`${name}.intermediate.dense.weight`, [inner, dim]],
      [`${name}.intermediate.dense.bias`, [inner]],
      [`${name}.output.dense.weight`, [dim, inner]],
      [`${name}.output.dense.bias`, [dim]],
      [`${name}.layernorm_before.weight`, [dim]],
      [`${name}.layernorm_before.bias`, [dim]],
      [`${name}.layernorm_after.weight`, [dim]],
      [`${name}.layernorm_after.bias`, [dim]],
    ];
  };
  const encoder: [string, number[]][] = [
    [`${prefix}embeddings.cls_token`, [1, 1, d]],
    [`${prefix}embeddings.position_embeddings`, [1, 1 + l, d]],
    [`${prefix}embeddings.patch_embeddings.projection.weight`, [d, cfg.numChannels, ph, pw]],
    [`${prefix}embeddings.patch_embeddings.projection.bias`, [d]],
    ...Array.from({ length: cfg.numHiddenLayers }, (_, i) =>
      layer(`${prefix}encoder.layer.${i}`, d, cfg.intermediateSize),
    ).flat(),
    [`${prefix}layernorm.weight`, [d]],
    [`${prefix}layernorm.bias`, [d]],
  ];
  if (prefix === "") return encoder;
  return [
    ...encoder,
    ["decoder.mask_token", [1, 1, dd]],
    ["decoder.decoder_pos_embed", [1, 1 + l, dd]],
    ["decoder.decoder_embed.weight", [dd, d]],
    ["decoder.decoder_embed.bias", [dd]],
    ...Array.from({ length: cfg.decoderNumHiddenLayers }, (_, i) =>
      layer(`decoder.decoder_layers.${i}`, dd, cfg.decoderIntermediateSize),
    ).flat(),
    ["decoder.decoder_norm.weight", [dd]],
    ["decoder.decoder_norm.bias", [dd]],
    ["decoder.decoder_pred.weight", [cfg.patchDim, dd]],
    ["decoder.decoder_pred.bias", [cfg.patchDim]],
  ];
}

/** Flattens a parameter record to HF names (arrays give their indices as path parts). */
export function namedParameters(tree: unknown, prefix = ""): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const walk = (node: unknown, path: string) => {
    if (node === undefined || node === null) return;
    if (node instanceof Tensor) out.set(path, node);
    else if (Array.isArray(node)) node.forEach((v, i) => walk(v, `${path}.${i}`));
    else if (typeof node === "object") for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
  };
  walk(tree, prefix);
  return out;
}

/** A parameter problem: missing, unexpected or wrongly shaped tensors, each by name. */
export class ParameterError extends Error {
  override name = "ParameterError";
}

/**
 * Builds the parameter record from named tensors, checking them against the config: every
 * missing or unexpected name and every wrong shape is reported (all at once), by name.
 */
export function parametersFromNamed<P>(
  cfg: ViTMAEConfig,
  named: ReadonlyMap<string, Tensor>,
  opts: { prefix?: "vit." | ""; source?: string } = {},
): P {
  return treeFromNamed(parameterShapes(cfg, opts.prefix ?? "vit."), named, opts.source) as P;
}

/**
 * A nested record from named tensors checked against the expected names and shapes: every missing or
 * unexpected name and every wrong shape is reported (all at once), by name.
 */
export function treeFromNamed(
  expected: readonly [string, readonly number[]][],
  named: ReadonlyMap<string, Tensor>,
  source?: string,
): Record<string, unknown> {
  const problems: string[] = [];
  const root: Record<string, unknown> = {};
  for (const [name, shape] of expected) {
    const t = named.get(name);
    if (!t) problems.push(`missing tensor "${name}" (expected shape ${fmt(shape)})`);
    else if (fmt(t.shape) !== fmt(shape))
      problems.push(`tensor "${name}" has shape ${fmt(t.shape)}, expected ${fmt(shape)}`);
    else setPath(root, name, t);
  }
  const known = new Set(expected.map(([n]) => n));
  for (const name of named.keys()) if (!known.has(name)) problems.push(`unexpected tensor "${name}"`);
  if (problems.length)
    throw new ParameterError(
      `${source ? `${source}: ` : ""}${problems.length} problem(s) with the parameters:\n  ${problems.join("\n  ")}`,
    );
  return root;
}

function setPath(root: Record<string, unknown>, name: string, value: Tensor): void {
  const parts = name.split(".");
  let node: Record<string, unknown> | unknown[] = root;
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const nextIsIndex = !last && /^\d+$/.test(parts[i + 1]);
    const slot = (node as Record<string, unknown>)[part];
    if (last) (node as Record<string, unknown>)[part] = value;
    else node = (slot ?? ((node as Record<string, unknown>)[part] = nextIsIndex ? [] : {})) as Record<string, unknown>;
  });
}
