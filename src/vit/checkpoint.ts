// ViTForImageClassification checkpoints in memory (config.json + model.safetensors' bytes): our own,
// transformers', or a ViTMAE pre-training checkpoint whose encoder a new classifier starts from, as
// transformers and MAE load it. Runs anywhere; folders are checkpointFolder.ts.

import { isLeft } from "fp-ts/lib/Either.js";
import * as T from "../core/index.ts";
import type { Key } from "../core/index.ts";
import { parseSafetensors } from "../io/safetensors.ts";
import {
  CheckpointError,
  checkedWeights,
  configFromJson,
  encoderFromBytes,
  MAX_CONFIG_BYTES,
  weightsToBytes,
  type CheckpointSources,
  type ConfigJson,
} from "../mae/checkpoint.ts";
import { CHECKPOINT_FILE } from "../mae/checkpointNames.ts";
import { fileIssue } from "../mae/config.ts";
import { whyTooLarge } from "../mae/footprint.ts";
import { namedParameters } from "../mae/params.ts";
import { parseViTConfig, vitToHFJson, type ViTConfig } from "./config.ts";
import { classifierOnEncoder } from "./init.ts";
import { classifierFromNamed, classifierShapes, type ClassifierParams } from "./params.ts";

export interface LoadClassifierOptions {
  /** The number of classes of a new head (a pre-training checkpoint has none); must match a classifier's. */
  numLabels?: number;
  id2label?: readonly string[];
  /** MAE's global pool + fc_norm (a new head only; a classifier checkpoint says which it uses). */
  useMeanPooling?: boolean;
  /** Where a new head's weights come from (default key 0), and their std (default: initializer_range, as HF). */
  headKey?: Key;
  headInitStd?: number;
}

export interface LoadedClassifier {
  config: ViTConfig;
  params: ClassifierParams;
  /** true when the checkpoint was a pre-training (or encoder) one and the head is new. */
  newHead: boolean;
}

/** config.json as a JSON value (text and bytes parsed, with the size limit); a bad one is a ConfigError. */
function jsonOf(configJson: ConfigJson, source: string = CHECKPOINT_FILE.config): unknown {
  if (typeof configJson !== "string" && !(configJson instanceof Uint8Array)) return configJson;
  const size = typeof configJson === "string" ? configJson.length : configJson.byteLength;
  if (size > MAX_CONFIG_BYTES) throw fileIssue(source, `is ${size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`);
  try {
    return JSON.parse(typeof configJson === "string" ? configJson : new TextDecoder().decode(configJson));
  } catch (e) {
    throw fileIssue(source, `is not valid JSON: ${(e as Error).message}`);
  }
}

/** Whether a config.json belongs to a classifier (model_type "vit") rather than to a ViTMAE model. */
export function isClassifierConfig(configJson: ConfigJson, source?: string): boolean {
  return (jsonOf(configJson, source) as { model_type?: unknown }).model_type === "vit";
}

/** Throws a ConfigError for a config.json that is neither a valid classifier (model_type "vit") nor ViTMAE config. */
export function checkClassifierConfig(configJson: ConfigJson, source?: string): void {
  const json = jsonOf(configJson, source);
  if ((json as { model_type?: unknown }).model_type !== "vit")
    return void configFromJson(json as Record<string, unknown>, source);
  const cfg = parseViTConfig(json, source);
  if (isLeft(cfg)) throw cfg.left;
}

/**
 * A classifier from memory: a ViTForImageClassification checkpoint loads as it is, every tensor checked by
 * name and shape; a ViTMAE one gives its `vit.` encoder (the decoder ignored) and a new head, as
 * ViTForImageClassification.from_pretrained does. As for ViTMAE (src/mae/checkpoint.ts), a config far from
 * the weights is refused before its tensors are listed, and a new head too large to allocate before it is made.
 */
export function classifierFromBytes(
  configJson: ConfigJson,
  weights: Uint8Array,
  sources: CheckpointSources = {},
  opts: LoadClassifierOptions = {},
): LoadedClassifier {
  const json = jsonOf(configJson, sources.config);
  const file = parseSafetensors(weights, sources.weights);
  const where = sources.config ?? "the checkpoint";
  if (file.tensors.has("classifier.weight") || (json as { model_type?: unknown }).model_type === "vit") {
    const cfg = parseViTConfig(json, sources.config);
    if (isLeft(cfg)) throw cfg.left;
    const config = cfg.right;
    const asked = opts.numLabels ?? opts.id2label?.length;
    if (asked !== undefined && asked !== config.numLabels)
      throw new CheckpointError(
        `${where} is a classifier for ${config.numLabels} classes, not ${asked}: fine-tune from a pre-training checkpoint for a new head`,
      );
    if (opts.useMeanPooling !== undefined && opts.useMeanPooling !== config.useMeanPooling) {
      const pooling = config.useMeanPooling ? "the mean of the patch tokens (use_mean_pooling)" : "the CLS token";
      throw new CheckpointError(`${where} pools with ${pooling}; its pooling cannot change`);
    }
    const named = checkedWeights(config.encoder, classifierModel(config), file, sources.weights);
    return { config, params: classifierFromNamed(config, named, sources.weights), newHead: false };
  }
  const encoder = encoderFromBytes(json as Record<string, unknown>, file, sources); // the vit.* tensors checked
  const cfg = parseViTConfig(json, sources.config, {
    numLabels: opts.id2label ? undefined : (opts.numLabels ?? 2),
    id2label: opts.id2label,
    useMeanPooling: opts.useMeanPooling ?? false,
  });
  if (isLeft(cfg)) throw cfg.left;
  const config = cfg.right;
  const tooLarge = whyTooLarge(config.encoder, { training: false, batchSize: 0 }, classifierModel(config));
  if (tooLarge !== undefined)
    throw new CheckpointError(`${where}: cannot make a classifier of ${config.numLabels} classes on it: ${tooLarge}`);
  const std = opts.headInitStd ?? config.encoder.initializerRange;
  return { config, params: classifierOnEncoder(encoder.params, config, opts.headKey ?? T.key(0), std), newHead: true };
}

/** What src/mae/footprint.ts sizes for a classifier config. */
export const classifierModel = (config: ViTConfig) => ({ kind: "classifier", numLabels: config.numLabels }) as const;

/** config.json's text (model_type "vit") and model.safetensors' bytes in HF's order. */
export function classifierToBytes(
  config: ViTConfig,
  params: ClassifierParams,
): { configJson: string; weights: Uint8Array } {
  const order = classifierShapes(config).map(([n]) => n);
  return {
    configJson: `${JSON.stringify(vitToHFJson(config), null, 2)}\n`,
    weights: weightsToBytes(namedParameters(params), order),
  };
}
