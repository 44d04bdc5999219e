// AdamW (Loshchilov & Hutter), step for step as torch.optim.AdamW computes it, over named
// parameters. Pure: a step takes (params, grads, state) and returns new params and state. Each
// parameter's update is one elementwise kernel (new p, m and v in one pass); the learning rate and
// the step count may be tensors, so a jit-compiled training step takes them as inputs.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { mapElements } from "../core/ops/mapElements.ts";

export interface AdamWConfig {
  betas: [number, number]; // MAE pre-training: (0.9, 0.95)
  eps: number; //              1e-8
  weightDecay: number; //      0.05
}

export const MAE_ADAMW: AdamWConfig = { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.05 };

/** Per parameter: the moment estimates; `step` (a 0-d tensor) counts updates taken. */
export interface AdamWState {
  step: Tensor;
  m: Map<string, Tensor>;
  v: Map<string, Tensor>;
}

export function initAdamW(params: ReadonlyMap<string, Tensor>): AdamWState {
  const zerosLike = () =>
    new Map([...params].map(([n, t]) => [n, T.zeros(t.shape, { dtype: t.dtype, backend: t.backend.name })]));
  return { step: T.scalar(0), m: zerosLike(), v: zerosLike() };
}

export interface StepOptions {
  /** The learning rate: a number, or a 0-d tensor (an input, not a constant, under jit). */
  lr: number | Tensor;
  /** Which parameters get weight decay (MAE: not biases, norm weights, cls/mask tokens). */
  decay: (name: string, t: Tensor) => boolean;
  /** Parameters never updated (the sin-cos tables). */
  frozen?: ReadonlySet<string>;
  /**
   * The caller hands over `state` (as JAX's donate_argnums): its moment tensors are updated in
   * place instead of copied, saving two optimizer-sized allocations per step. The old state must
   * not be used afterwards. Parameters are never written in place. (Under jit, donate the state
   * to the compiled function instead.)
   */
  donateState?: boolean;
  /**
   * A guard decided on the device, without reading anything back: a 0-d tensor where 0 means the
   * step changes nothing (parameters, moments and the step count stay); or one per parameter, each
   * keeping its own parameter and moments (the step count always advances) — so each update can run
   * as soon as its own gradient is known, without waiting for the others (see src/jit/plan.ts).
   */
  applyIf?: Tensor | ReadonlyMap<string, Tensor>;
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
  const guard = opts.applyIf;
  const global = guard instanceof Map || guard === undefined ? T.scalar(1) : (guard as Tensor);
  const t = T.add(state.step, T.notEqual(global, 0));
  const [b1, b2] = cfg.betas;
  const lr = typeof opts.lr === "number" ? T.scalar(opts.lr) : opts.lr;
  const stepSize = T.div(lr, T.sub(1, T.pow(b1, t))); //  lr / (1 − β1ᵗ)
  const bc2Sqrt = T.sqrt(T.sub(1, T.pow(b2, t))); //       √(1 − β2ᵗ)
  const out = new Map<string, Tensor>();
  const m = new Map<string, Tensor>();
  const v = new Map<string, Tensor>();
  for (const [name, p] of params) {
    const g = grads.get(name);
    const m0 = state.m.get(name) ?? T.zeros(p.shape);
    const v0 = state.v.get(name) ?? T.zeros(p.shape);
    if (opts.frozen?.has(name) || !g) {
      out.set(name, p);
      m.set(name, m0);
      v.set(name, v0);
      continue;
    }
    const wd = opts.decay(name, p) ? cfg.weightDecay : 0;
    const donate = opts.donateState === true && state.m.has(name) && state.v.has(name);
    const apply = guard instanceof Map ? (guard.get(name) ?? global) : global;
    const [p1, m1, v1] = mapElements(
      "adamw",
      [p, g, m0, v0, lr, stepSize, bc2Sqrt, apply],
      (pi, gi, mi, vi, lri, step, bc2, ok) => {
        const mNew = mi.mul(b1).add(gi.mul(1 - b1));
        const vNew = vi.mul(b2).add(gi.mul(gi).mul(1 - b2));
        const shrunk = pi.mul(lri.mul(wd).neg().add(1));
        const pNew = shrunk.sub(step.mul(mNew).div(vNew.sqrt().div(bc2).add(cfg.eps)));
        return [ok.select(pNew, pi), ok.select(mNew, mi), ok.select(vNew, vi)];
      },
      { inPlace: donate ? [undefined, 2, 3] : [] },
    );
    out.set(name, p1);
    m.set(name, m1);
    v.set(name, v1);
  }
  return { params: out, state: { step: t, m, v } };
}

/** MAE's rule: no weight decay for 1-d tensors (biases, norm weights) nor the cls/mask tokens. */
export function maeDecay(name: string, t: Tensor): boolean {
  return t.shape.length > 1 && !name.endsWith(".bias") && !name.endsWith("cls_token") && !name.endsWith("mask_token");
}

/** The global L2 norm of the gradients (a 0-d tensor: no read-back, so it can run inside jit). */
export function globalNorm(grads: ReadonlyMap<string, Tensor>): Tensor {
  let sq: Tensor = T.scalar(0);
  for (const g of grads.values()) sq = T.add(sq, T.sum(T.square(g)));
  return T.sqrt(sq);
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm (torch clip_grad_norm_: the scale is
 * maxNorm / (norm + 1e-6), applied only when below 1); also returns the norm before.
 */
export function clipGradNorm(
  grads: ReadonlyMap<string, Tensor>,
  maxNorm: number,
): { grads: Map<string, Tensor>; norm: Tensor } {
  const norm = globalNorm(grads);
  const scale = T.minimum(T.div(maxNorm, T.add(norm, 1e-6)), 1);
  return { grads: new Map([...grads].map(([n, g]) => [n, T.mul(g, scale)])), norm };
}
