// Classification losses as timm's (which MAE's fine-tuning uses) and torch's cross entropy: soft-target cross
// entropy, and hard labels with label smoothing (the same loss on a smoothed one-hot target).

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { fmt, ShapeError } from "../core/index.ts";

/** mean over the batch of Σ_k −target_k · log softmax(logits)_k: logits and targets [B, K] (timm SoftTargetCrossEntropy). */
export function softTargetCrossEntropy(logits: Tensor, targets: Tensor): Tensor {
  if (logits.shape.length !== 2 || fmt(logits.shape) !== fmt(targets.shape))
    throw new ShapeError(
      `softTargetCrossEntropy: logits ${fmt(logits.shape)} and targets ${fmt(targets.shape)} must both be [batch, classes]`,
    );
  return T.mean(T.sum(T.mul(T.neg(targets), T.logSoftmax(logits, -1)), -1));
}

/**
 * timm's label smoothing (and mixup_target's): the true class gets 1 − s + s/K, every other class s/K.
 * With s = 0 this is the one-hot target, and the loss below is torch's CrossEntropyLoss.
 */
export function smoothedTargets(labels: ArrayLike<number>, numClasses: number, smoothing: number): Float32Array {
  if (!(smoothing >= 0 && smoothing < 1)) throw new RangeError(`label smoothing must be in [0, 1), got ${smoothing}`);
  const off = smoothing / numClasses;
  const on = 1 - smoothing + off;
  const out = new Float32Array(labels.length * numClasses).fill(off);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses)
      throw new RangeError(`label ${y} (example ${i}) is not a class index in [0, ${numClasses})`);
    out[i * numClasses + y] = on;
  }
  return out;
}

/** Cross entropy of logits [B, K] against class indices, with label smoothing s (timm LabelSmoothingCrossEntropy). */
export function crossEntropy(logits: Tensor, labels: ArrayLike<number>, smoothing = 0): Tensor {
  const [b, k] = logits.shape;
  if (logits.shape.length !== 2 || labels.length !== b)
    throw new ShapeError(
      `crossEntropy: logits ${fmt(logits.shape)} must be [batch, classes] with one label per example (${labels.length} labels)`,
    );
  return softTargetCrossEntropy(logits, T.fromArray(smoothedTargets(labels, k, smoothing), [b, k]));
}
