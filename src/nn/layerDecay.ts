// Layer-wise learning-rate decay (ELECTRA, BEiT) as MAE's util/lr_decay.py param_groups_lrd, over Hugging Face's
// ViT names, and the AdamW step that applies each group's lr scale and weight decay (torch param_groups).

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { adamwStep, type AdamWState } from "./adamw.ts";

/** One parameter's group: its layer id, its lr multiplier and its weight decay. */
export interface ParamGroup {
  layerId: number;
  lrScale: number;
  weightDecay: number;
}

/** MAE's no_weight_decay list (timm: pos_embed, cls_token), in HF's names; all 1-d tensors get none either. */
export const NO_WEIGHT_DECAY = ["vit.embeddings.cls_token", "vit.embeddings.position_embeddings"] as const;

/**
 * get_layer_id_for_vit: the embeddings (cls token, positions, patch projection) are layer 0, encoder block i is
 * i + 1, everything after the blocks (vit.layernorm, fc_norm, classifier) is depth + 1.
 */
export function layerIdForViT(name: string, depth: number): number {
  if (name.startsWith("vit.embeddings.")) return 0;
  const block = /^vit\.encoder\.layer\.(\d+)\./.exec(name);
  if (block) return Number(block[1]) + 1;
  return depth + 1;
}

/**
 * param_groups_lrd: layer id l gets lr scale layerDecay^(depth + 1 − l) (the head 1, the embeddings the least);
 * weight decay `weightDecay` except for 1-d tensors and the no-weight-decay names.
 */
export function paramGroupsLrd(
  shapes: Iterable<readonly [string, readonly number[]]>,
  depth: number,
  opts: { weightDecay: number; layerDecay: number; noWeightDecay?: readonly string[] },
): Map<string, ParamGroup> {
  const noDecay = new Set(opts.noWeightDecay ?? NO_WEIGHT_DECAY);
  const groups = new Map<string, ParamGroup>();
  for (const [name, shape] of shapes) {
    const layerId = layerIdForViT(name, depth);
    groups.set(name, {
      layerId,
      lrScale: opts.layerDecay ** (depth + 1 - layerId),
      weightDecay: shape.length === 1 || noDecay.has(name) ? 0 : opts.weightDecay,
    });
  }
  return groups;
}

/**
 * One AdamW update in which parameter p uses lr · group(p).lrScale and group(p).weightDecay, as torch.optim.AdamW
 * over MAE's param groups after lr_sched.adjust_learning_rate. Parameters without a group are not updated.
 */
export function adamwStepGroups(
  params: ReadonlyMap<string, Tensor>,
  grads: ReadonlyMap<string, Tensor>,
  state: AdamWState,
  groups: ReadonlyMap<string, ParamGroup>,
  opts: { lr: number | Tensor; betas: [number, number]; eps: number; donateState?: boolean; applyIf?: Tensor },
): { params: Map<string, Tensor>; state: AdamWState } {
  const byGroup = new Map<string, { lrScale: number; weightDecay: number; names: string[] }>();
  for (const name of params.keys()) {
    const g = groups.get(name);
    if (!g) continue;
    const id = `${g.lrScale}/${g.weightDecay}`;
    const entry = byGroup.get(id) ?? { lrScale: g.lrScale, weightDecay: g.weightDecay, names: [] };
    entry.names.push(name);
    byGroup.set(id, entry);
  }
  const outParams = new Map(params);
  const m = new Map(state.m);
  const v = new Map(state.v);
  for (const { lrScale, weightDecay, names } of byGroup.values()) {
    const subset = new Map(names.map((n) => [n, params.get(n) as Tensor])); // names come from params' keys
    const step = adamwStep(
      subset,
      grads,
      state,
      { betas: opts.betas, eps: opts.eps, weightDecay },
      {
        lr: T.mul(opts.lr, lrScale),
        decay: () => weightDecay > 0,
        donateState: opts.donateState,
        applyIf: opts.applyIf,
      },
    );
    for (const [n, t] of step.params) outParams.set(n, t);
    for (const n of names) {
      m.set(n, step.state.m.get(n)!);
      v.set(n, step.state.v.get(n)!);
    }
  }
  const counted = opts.applyIf ? T.notEqual(opts.applyIf, 0) : 1;
  return { params: outParams, state: { step: T.add(state.step, counted), m, v } };
}
