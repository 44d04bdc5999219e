// A Hugging Face-style class over the functional classifier, for users coming from transformers:
// ViTForImageClassification with fromPretrained, forward (logits, and the loss when labels are given) and savePretrained.

import type { Key, Tensor } from "../core/index.ts";
import { crossEntropy } from "../nn/crossEntropy.ts";
import { whyTooLarge } from "../mae/footprint.ts";
import { classifierFromBytes, classifierModel, classifierToBytes, type LoadClassifierOptions } from "./checkpoint.ts";
import { loadClassifier, saveClassifier } from "./checkpointFolder.ts";
import type { ViTConfig } from "./config.ts";
import { classify, type ClassifierOutput, type ClassifyOptions } from "./forward.ts";
import { initClassifier } from "./init.ts";
import type { ClassifierParams } from "./params.ts";

export interface ClassifierInput extends ClassifyOptions {
  pixelValues: Tensor; // [B, C, H, W]
  /** Class indices [B]: the output gets HF's loss (mean cross entropy). */
  labels?: ArrayLike<number>;
}

export class ViTForImageClassification {
  constructor(
    readonly config: ViTConfig,
    readonly params: ClassifierParams,
  ) {}

  /** A classifier checkpoint, or a ViTMAE pre-training one (its encoder, a new head: give numLabels). */
  static fromPretrained(dir: string, opts: LoadClassifierOptions = {}): ViTForImageClassification {
    const { config, params } = loadClassifier(dir, opts);
    return new ViTForImageClassification(config, params);
  }

  /** From config.json (text, bytes or JSON) and model.safetensors' bytes: anywhere, no file system needed. */
  static fromBytes(
    configJson: string | Uint8Array | Readonly<Record<string, unknown>>,
    weights: Uint8Array,
    opts: LoadClassifierOptions = {},
  ): ViTForImageClassification {
    const { config, params } = classifierFromBytes(configJson, weights, {}, opts);
    return new ViTForImageClassification(config, params);
  }

  /** A fresh classifier; a config with a tensor no typed array can hold is a RangeError naming its fields. */
  static init(config: ViTConfig, key: Key): ViTForImageClassification {
    const why = whyTooLarge(config.encoder, { training: false, batchSize: 0 }, classifierModel(config));
    if (why !== undefined) throw new RangeError(`init: cannot make this model: ${why}`);
    return new ViTForImageClassification(config, initClassifier(key, config));
  }

  forward(input: ClassifierInput): ClassifierOutput & { loss?: Tensor } {
    const { pixelValues, labels, ...opts } = input;
    const out = classify(this.params, this.config, pixelValues, opts);
    return labels === undefined ? out : { ...out, loss: crossEntropy(out.logits, labels) };
  }

  savePretrained(dir: string): void {
    saveClassifier(dir, this.config, this.params);
  }

  /** What savePretrained writes, in memory. */
  toBytes(): { configJson: string; weights: Uint8Array } {
    return classifierToBytes(this.config, this.params);
  }
}
