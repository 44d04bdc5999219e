// ViTConfig for ViTForImageClassification (HF transformers' configuration_vit.py, 4.57): the encoder fields
// ViTMAE shares, the labels (id2label), and the pooling — HF's CLS token, or MAE's global average pool + fc_norm
// (`use_mean_pooling`, the name HF's VideoMAE and BEiT configs give it). Parsed once into a validated value.

import { type Either, isLeft, left, right } from "fp-ts/lib/Either.js";
import { ConfigError, type ConfigIssue, hfKeyOf, parseConfig, type ViTMAEConfig } from "../mae/config.ts";

/** A validated ViTForImageClassification config. */
export interface ViTConfig {
  /** The encoder fields (hidden size, layers, image and patch size, …) as the shared encoder pieces read them. */
  readonly encoder: ViTMAEConfig;
  readonly numLabels: number;
  /** Class names by index ("LABEL_0", … unless named). */
  readonly id2label: readonly string[];
  /** true: MAE's global pool (mean of the patch tokens, then fc_norm; no final vit.layernorm); false: HF's CLS. */
  readonly useMeanPooling: boolean;
  /** Other keys of config.json (encoder_stride, decoder_* from a ViTMAE config, …): kept and written back. */
  readonly extra: Readonly<Record<string, unknown>>;
}

// The encoder fields that ViTConfig and ViTMAEConfig share; the others (decoder_*, mask_ratio, norm_pix_loss) are
// ViTMAE's alone and, as transformers does, a ViT config only carries them along.
const SHARED = [
  "hiddenSize",
  "numHiddenLayers",
  "numAttentionHeads",
  "intermediateSize",
  "hiddenAct",
  "hiddenDropoutProb",
  "attentionProbsDropoutProb",
  "initializerRange",
  "layerNormEps",
  "imageSize",
  "patchSize",
  "numChannels",
  "qkvBias",
] as const;
const SHARED_KEYS = new Set<string>(SHARED.map((f) => hfKeyOf[f]));
const CLASSIFIER_KEYS = new Set([
  "id2label",
  "label2id",
  "num_labels",
  "use_mean_pooling",
  "model_type",
  "architectures",
]);

/**
 * Validates a ViTForImageClassification config.json, or converts a ViTMAE one as transformers'
 * ViTConfig.from_pretrained does (model_type "vit_mae": the shared fields are read, the rest carried along).
 * `overrides` set what the caller asks for (numLabels, id2label, useMeanPooling), as from_pretrained(num_labels=…).
 */
export function parseViTConfig(
  json: unknown,
  source?: string,
  overrides: { numLabels?: number; id2label?: readonly string[]; useMeanPooling?: boolean } = {},
): Either<ConfigError, ViTConfig> {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    return left(new ConfigError([{ field: "config", value: json, problem: "must be a JSON object" }], source));
  const o = json as Record<string, unknown>;
  const issues: ConfigIssue[] = [];
  const modelType = o.model_type;
  if (modelType !== undefined && modelType !== "vit" && modelType !== "vit_mae")
    issues.push({ field: "model_type", value: modelType, problem: 'must be "vit" or "vit_mae" (or absent)' });
  // The encoder fields go through ViTMAE's parser (defaults, ranges, divisibility), the others stay as they are.
  const encoderJson = Object.fromEntries(Object.entries(o).filter(([k]) => SHARED_KEYS.has(k)));
  const encoder = parseConfig(encoderJson, source);
  if (isLeft(encoder)) issues.push(...encoder.left.issues);
  const labels = overrides.id2label ?? labelsOf(o, overrides.numLabels, issues);
  const useMeanPooling = overrides.useMeanPooling ?? o.use_mean_pooling ?? false;
  if (typeof useMeanPooling !== "boolean")
    issues.push({ field: "use_mean_pooling", value: useMeanPooling, problem: "must be true or false" });
  if (labels.length < 1 && !issues.some((i) => i.field === "num_labels"))
    issues.push({ field: "id2label", value: labels, problem: "must name at least one class" });
  if (issues.length > 0 || isLeft(encoder)) return left(new ConfigError(issues, source));
  const extra = Object.fromEntries(
    Object.entries(o).filter(([k, v]) => !SHARED_KEYS.has(k) && !CLASSIFIER_KEYS.has(k) && v !== undefined),
  );
  return right(
    Object.freeze({
      encoder: encoder.right,
      numLabels: labels.length,
      id2label: Object.freeze([...labels]),
      useMeanPooling: useMeanPooling as boolean,
      extra: Object.freeze(extra),
    }),
  );
}

/**
 * The most classes a config may ask for: its labels are listed (and its head allocated) from this number,
 * so a num_labels of 1e12 must be refused, not tried. The largest label sets in use have about 22k classes.
 */
export const MAX_LABELS = 1_000_000;

const isLabelCount = (k: unknown): k is number =>
  typeof k === "number" && Number.isInteger(k) && k >= 1 && k <= MAX_LABELS;
const LABEL_COUNT_RULE = `must be an integer in [1, ${MAX_LABELS}]`;

/** HF's rule: id2label when given (keys "0"…"K-1"), else num_labels generic names, else 2. */
function labelsOf(o: Record<string, unknown>, numLabels: number | undefined, issues: ConfigIssue[]): string[] {
  const generic = (k: number) => Array.from({ length: k }, (_, i) => `LABEL_${i}`);
  if (numLabels !== undefined) {
    if (!isLabelCount(numLabels)) {
      issues.push({ field: "num_labels", value: numLabels, problem: LABEL_COUNT_RULE });
      return [];
    }
    return generic(numLabels);
  }
  const map = o.id2label;
  if (map !== undefined) {
    if (typeof map !== "object" || map === null || Array.isArray(map)) {
      issues.push({ field: "id2label", value: map, problem: 'must be an object {"0": name, "1": name, …}' });
      return [];
    }
    const entries = Object.entries(map as Record<string, unknown>);
    const names: string[] = [];
    entries.forEach((_, i) => {
      const name = (map as Record<string, unknown>)[String(i)];
      if (typeof name !== "string")
        issues.push({
          field: `id2label.${i}`,
          value: name,
          problem: `must be a class name (keys "0" to "${entries.length - 1}")`,
        });
      names.push(String(name));
    });
    return names;
  }
  if (o.num_labels !== undefined) {
    const k = o.num_labels;
    if (!isLabelCount(k)) {
      issues.push({ field: "num_labels", value: k, problem: LABEL_COUNT_RULE });
      return [];
    }
    return generic(k);
  }
  return generic(2);
}

/** A config from code: an encoder config (e.g. a ViTMAE preset) and the classifier's choices. */
export function makeViTConfig(
  encoder: ViTMAEConfig,
  opts: { numLabels: number; id2label?: readonly string[]; useMeanPooling?: boolean },
): ViTConfig {
  const countOk = isLabelCount(opts.numLabels);
  const labels = opts.id2label ?? (countOk ? Array.from({ length: opts.numLabels }, (_, i) => `LABEL_${i}`) : []);
  if (!countOk || labels.length !== opts.numLabels)
    throw new ConfigError([
      {
        field: "num_labels",
        value: opts.numLabels,
        problem: `${LABEL_COUNT_RULE} (= the number of class names)`,
      },
    ]);
  return Object.freeze({
    encoder,
    numLabels: opts.numLabels,
    id2label: Object.freeze([...labels]),
    useMeanPooling: opts.useMeanPooling ?? false,
    extra: Object.freeze({}),
  });
}

/** What HF's save_pretrained writes for ViTForImageClassification: model_type "vit", the fields, the labels. */
export function vitToHFJson(cfg: ViTConfig): Record<string, unknown> {
  const e = cfg.encoder;
  const entries: [string, unknown][] = Object.entries(cfg.extra).map(([k, v]) => [k, structuredClone(v)]);
  for (const f of SHARED) {
    const v = e[f];
    const hw = f === "imageSize" || f === "patchSize";
    entries.push([
      hfKeyOf[f],
      hw ? (e.givenAsInt[f] ? (v as readonly number[])[0] : [...(v as readonly number[])]) : v,
    ]);
  }
  entries.push(
    ["model_type", "vit"],
    ["architectures", ["ViTForImageClassification"]],
    ["id2label", Object.fromEntries(cfg.id2label.map((name, i) => [String(i), name]))],
    ["label2id", Object.fromEntries(cfg.id2label.map((name, i) => [name, i]))],
    ["use_mean_pooling", cfg.useMeanPooling],
  );
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}
