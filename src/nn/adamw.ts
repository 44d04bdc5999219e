// AdamW (Loshchilov & Hutter), step for step as torch.optim.AdamW computes it, over named
// parameters. Pure: a step takes (params, grads, state) and returns new params and state.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { fromStorage } from "../core/tensor.ts";
import { contiguous } from "../core/backends/reference.ts"; // row-major values, no copy when contiguous

export interface AdamWConfig {
  betas: [number, number]; // MAE pre-training: (0.9, 0.95)
  eps: number; //              1e-8
  weightDecay: number; //      0.05
}

export const MAE_ADAMW: AdamWConfig = { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.05 };

/** Per parameter: the moment estimates; `step` counts updates taken. */
export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export function initAdamW(params: ReadonlyMap<string, Tensor>): AdamWState {
  const zerosLike = () => new Map([...params].map(([n, t]) => [n, new Float32Array(t.size)]));
  return { step: 0, m: zerosLike(), v: zerosLike() };
}

export interface StepOptions {
  lr: number;
  /** Which parameters get weight decay (MAE: not biases, norm weights, cls/mask tokens). */
  decay: (name: string, t: Tensor) => boolean;
  /** Parameters never updated (the sin-cos tables). */
  frozen?: ReadonlySet<string>;
  /**
   * The caller hands over `state` (as JAX's donate_argnums): its moment arrays are updated in place
   * instead of copied, saving two optimizer-sized allocations per step. The old state must not be
   * used afterwards. Parameters are never written in place.
   */
  donateState?: boolean;
}

/**
 * One update. For each parameter p with gradient g (torch's order of operations):
 *   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
 */
export function adamwStep(
  params: ReadonlyMap<string, Tensor>,
  grads: ReadonlyMap<string, Tensor>,
  state: AdamWState,
  cfg: AdamWConfig,
  opts: StepOptions,
): { params: Map<string, Tensor>; state: AdamWState } {
  const t = state.step + 1;
  const [b1, b2] = cfg.betas;
  const bc1 = 1 - b1 ** t;
  const bc2Sqrt = Math.sqrt(1 - b2 ** t);
  const stepSize = opts.lr / bc1;
  const out = new Map<string, Tensor>();
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (opts.frozen?.has(name) || !g) {
      out.set(name, p);
      m.set(name, state.m.get(name) ?? new Float32Array(p.size));
      v.set(name, state.v.get(name) ?? new Float32Array(p.size));
      continue;
    }
    // Read the old values in place; write new arrays (the step is pure: inputs stay untouched).
    const pOld = contiguous(p);
    const gv = contiguous(g);
    const mOld = state.m.get(name) ?? new Float32Array(p.size);
    const vOld = state.v.get(name) ?? new Float32Array(p.size);
    const pv = new Float32Array(p.size);
    const mv = opts.donateState && state.m.has(name) ? mOld : new Float32Array(p.size);
    const vv = opts.donateState && state.v.has(name) ? vOld : new Float32Array(p.size);
    const shrink = opts.decay(name, p) ? 1 - opts.lr * cfg.weightDecay : 1;
    for (let i = 0; i < pv.length; i++) {
      const gi = gv[i];
      const mi = (mv[i] = b1 * mOld[i] + (1 - b1) * gi);
      const vi = (vv[i] = b2 * vOld[i] + (1 - b2) * gi * gi);
      pv[i] = pOld[i] * shrink - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + cfg.eps);
    }
    out.set(name, fromStorage(pv, p.shape)); // pv is fresh: no copy needed
    m.set(name, mv);
    v.set(name, vv);
  }
  return { params: out, state: { step: t, m, v } };
}

/** MAE's rule: no weight decay for 1-d tensors (biases, norm weights) nor the cls/mask tokens. */
export function maeDecay(name: string, t: Tensor): boolean {
  return t.shape.length > 1 && !name.endsWith(".bias") && !name.endsWith("cls_token") && !name.endsWith("mask_token");
}

/** Scales gradients so their global L2 norm is at most maxNorm (torch clip_grad_norm_); returns the norm before. */
export function clipGradNorm(
  grads: ReadonlyMap<string, Tensor>,
  maxNorm: number,
): { grads: Map<string, Tensor>; norm: number } {
  let sq = 0;
  for (const g of grads.values()) for (const x of g.toArray()) sq += x * x;
  const norm = Math.sqrt(sq);
  const scale = maxNorm / (norm + 1e-6);
  if (scale >= 1) return { grads: new Map(grads), norm };
  return { grads: new Map([...grads].map(([n, g]) => [n, T.mul(g, scale)])), norm };
}
