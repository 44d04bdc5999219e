// One optimizer step of MAE pre-training as a pure function, compiled once with jit: the forward
// and backward pass of every micro-batch, gradient accumulation, the global norm (for clipping and
// to catch non-finite gradients on the device), and the AdamW update — one plan, with the
// parameters and optimizer state donated so they are updated in place.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { valueAndGrad } from "../autodiff/index.ts";
import { jit } from "../jit/index.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { forward } from "../mae/forward.ts";
import { FROZEN_PARAMETERS, namedParameters, parametersFromNamed, type PreTrainingParams } from "../mae/params.ts";
import { adamwStep, maeDecay, type AdamWState } from "../nn/adamw.ts";

export interface StepHyper {
  maskRatio: number;
  weightDecay: number;
  betas: [number, number];
  /** Clip the global gradient norm to this (torch's clip_grad_norm_), or null. */
  clipGrad: number | null;
}

export interface StepResult {
  params: PreTrainingParams;
  opt: AdamWState;
  /** Mean loss over the micro-batches (0-d). */
  loss: Tensor;
  /** Global L2 norm of the trainable gradients, before clipping (0-d). */
  gradNorm: Tensor;
  /**
   * 1 when the loss and every gradient were finite and the update was applied. Else 0: parameters
   * whose own gradient was not finite (all of them, if the loss was not) kept their values and
   * moments; with clipping, nothing changed. Stop the run on 0 (the state is not one to save).
   */
  applied: Tensor;
}

/**
 * The compiled step: (params, opt, micro-batches of pixels, lr, a mask key and a dropout key per
 * micro-batch) → StepResult. `params` and `opt` are donated: use the returned ones.
 */
export function makePretrainStep(cfg: ViTMAEConfig, h: StepHyper) {
  const frozen = new Set<string>(FROZEN_PARAMETERS);
  const lossOf = (p: PreTrainingParams, pixels: Tensor, maskKey: Key, dropoutKey: Key | undefined) =>
    forward(p, cfg, pixels, { key: maskKey, maskRatio: h.maskRatio, dropoutKey }).loss;
  const lossAndGrad = valueAndGrad(lossOf);
  const step = (
    params: PreTrainingParams,
    opt: AdamWState,
    pixels: Tensor[],
    lr: Tensor,
    maskKeys: Key[],
    dropoutKeys: (Key | undefined)[],
  ): StepResult => {
    let lossSum: Tensor = T.scalar(0);
    let gradSum: Map<string, Tensor> | undefined;
    pixels.forEach((x, i) => {
      const [loss, grads] = lossAndGrad(params, x, maskKeys[i], dropoutKeys[i]);
      lossSum = T.add(lossSum, loss);
      const named = namedParameters(grads);
      gradSum = gradSum ? new Map([...gradSum].map(([n, g]) => [n, T.add(g, named.get(n)!)])) : named;
    });
    const micro = pixels.length;
    const loss = T.div(lossSum, micro);
    // Frozen tables get no gradient in torch (requires_grad=False), so they count in no norm.
    let grads = new Map(
      [...gradSum!].filter(([n]) => !frozen.has(n)).map(([n, g]) => [n, micro === 1 ? g : T.div(g, micro)]),
    );
    // NaN and ±∞ fail `< ∞`: one finite test covers a loss and a gradient's sum of squares.
    const finite = (x: Tensor) => T.less(T.abs(x), Infinity);
    const squares = new Map([...grads].map(([n, g]) => [n, T.sum(T.square(g))]));
    const gradNorm = T.sqrt([...squares.values()].reduce((a, b) => T.add(a, b)));
    const applied = finite(T.add(loss, gradNorm));
    if (h.clipGrad !== null) {
      const scale = T.minimum(T.div(h.clipGrad, T.add(gradNorm, 1e-6)), 1);
      grads = new Map([...grads].map(([n, g]) => [n, T.mul(g, scale)]));
    }
    // Without clipping, each parameter's update waits only for its own gradient (guarded by that
    // gradient and the loss), so the plan frees each gradient once it is used; with clipping, every
    // update needs the global norm first.
    const guard = h.clipGrad === null ? new Map([...squares].map(([n, sq]) => [n, finite(T.add(loss, sq))])) : applied;
    const updated = adamwStep(
      namedParameters(params),
      grads,
      opt,
      { betas: h.betas, eps: 1e-8, weightDecay: h.weightDecay },
      { lr, decay: maeDecay, frozen, applyIf: guard },
    );
    return {
      params: parametersFromNamed<PreTrainingParams>(cfg, updated.params),
      opt: updated.state,
      loss,
      gradNorm,
      applied,
    };
  };
  return jit(step, { donate: [0, 1] });
}
