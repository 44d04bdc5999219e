// Hugging Face checkpoints in memory: config.json (its text or JSON value) and model.safetensors'
// bytes to a config and parameters, and back. Runs anywhere; folders are checkpointFolder.ts, URLs
// fetchCheckpoint.ts.

import type { Either } from "fp-ts/lib/Either.js";
import * as T from "../core/index.ts";
import { attempt } from "../io/attempt.ts";
import type { Tensor } from "../core/index.ts";
import {
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  toFloat32,
  type SafeTensor,
  type SafetensorsFile,
  type WritableTensor,
} from "../io/safetensors.ts";
import { CHECKPOINT_FILE } from "./checkpointNames.ts";
import {
  ConfigError,
  configFromText,
  fileIssue,
  getOrThrow,
  parseConfig,
  toHFJson,
  type ViTMAEConfig,
} from "./config.ts";
import { footprint, sizeFields, type SizedModel } from "./footprint.ts";
import {
  namedParameters,
  ParameterError,
  parameterShapes,
  parametersFromNamed,
  type EncoderParams,
  type PreTrainingParams,
} from "./params.ts";

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** What loading a checkpoint can fail with: its config, its file, its tensors, or the folder. */
export type CheckpointLoadError = ConfigError | SafetensorsError | ParameterError | CheckpointError;
export const CHECKPOINT_LOAD_ERRORS = [ConfigError, SafetensorsError, ParameterError, CheckpointError] as const;

/** config.json as given: its text, its bytes, or the parsed JSON object. */
export type ConfigJson = string | Uint8Array | Readonly<Record<string, unknown>>;

/** Where the two parts came from (file paths, URLs), for error messages. */
export interface CheckpointSources {
  config?: string;
  weights?: string;
}

/** A config.json is a few KB; refuse to parse a huge one by mistake. */
export const MAX_CONFIG_BYTES = 1 << 20;

/** The validated config of a config.json; a bad one throws a ConfigError naming the source and every field. */
export function configFromJson(configJson: ConfigJson, source?: string): ViTMAEConfig {
  if (typeof configJson !== "string" && !(configJson instanceof Uint8Array))
    return getOrThrow(parseConfig(configJson, source));
  const size = typeof configJson === "string" ? configJson.length : configJson.byteLength;
  if (size > MAX_CONFIG_BYTES)
    throw fileIssue(source ?? CHECKPOINT_FILE.config, `is ${size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`);
  const text = typeof configJson === "string" ? configJson : new TextDecoder().decode(configJson);
  return getOrThrow(configFromText(text, source));
}

/** All tensors of safetensors bytes as float32 tensors, by name (I64 ids and F16/BF16 converted). */
export function namedTensorsFromBytes(bytes: Uint8Array, source?: string): Map<string, Tensor> {
  return asTensors(parseSafetensors(bytes, source));
}

function asTensors(file: SafetensorsFile): Map<string, Tensor> {
  return new Map([...file.tensors].map(([name, t]) => [name, T.fromArray(toFloat32(t, name), t.shape)]));
}

/** How many of a stored tensor's values are NaN or ±Infinity (read from the file's bytes, not a backend). */
const nonFiniteIn = (t: SafeTensor, name: string): number =>
  toFloat32(t, name).reduce((c, v) => (Number.isFinite(v) ? c : c + 1), 0);

/**
 * A model's weights from a parsed safetensors file, checked at the boundary before the model sees them: a
 * file far from what the config describes (`model` of `config`) is refused before the expected names are
 * even listed (a config of a million layers must not make a million-layer list), and float parameters
 * stored as integers or holding NaN / ±Infinity are loaded with one warning naming them.
 */
export function checkedWeights(
  config: ViTMAEConfig,
  model: SizedModel,
  file: SafetensorsFile,
  source: string | undefined,
): Map<string, Tensor> {
  const where = source ?? CHECKPOINT_FILE.weights;
  const expected = footprint(config, model).parameterTensors;
  if (expected > 2 * file.tensors.size + 64) {
    throw new ParameterError(
      `${where}: the config describes ${expected} parameter tensors (${sizeFields(config, model)}) but the file ` +
        `holds ${file.tensors.size}: this config.json does not describe these weights`,
    );
  }
  const integers = [...file.tensors].filter(([, t]) => t.dtype === "I32" || t.dtype === "I64");
  if (integers.length > 0) {
    warn(
      `${where}: ${listed(integers.map(([n, t]) => `${n} (${t.dtype})`))} stored under an integer dtype; ` +
        "converted to float32, as the file says, though every Hugging Face checkpoint stores parameters as floats",
    );
  }
  const named = asTensors(file);
  // Counted on the file's values: a GPU backend's tensors read only asynchronously.
  const nonFinite = [...file.tensors].flatMap(([n, t]) => {
    const count = nonFiniteIn(t, n);
    return count === 0 ? [] : [`${n} holds ${count} non-finite value${count === 1 ? "" : "s"}`];
  });
  if (nonFinite.length > 0) {
    warn(`${where}: ${listed(nonFinite)} (NaN or ±Infinity): outputs and gradients through them will not be finite`);
  }
  return named;
}

/** "a, b, c and 4 more": at most `shown` items of a list, and the count of the rest. */
export function listed(items: readonly string[], shown = 5): string {
  if (items.length <= shown) return items.join(", ");
  return `${items.slice(0, shown).join(", ")} and ${items.length - shown} more`;
}

/** A problem the loader recovers from (the file says so), reported once per load on stderr. */
function warn(message: string): void {
  console.warn(`warning: ${message}`);
}

/** A ViTMAEForPreTraining checkpoint from memory: every tensor checked by name and shape. */
export function preTrainingFromBytes(
  configJson: ConfigJson,
  weights: Uint8Array,
  sources: CheckpointSources = {},
): { config: ViTMAEConfig; params: PreTrainingParams } {
  const config = configFromJson(configJson, sources.config);
  const file = parseSafetensors(weights, sources.weights);
  const named = checkedWeights(config, { kind: "pre-training" }, file, sources.weights);
  return { config, params: parametersFromNamed<PreTrainingParams>(config, named, { source: sources.weights }) };
}

/**
 * A ViTMAEModel (encoder) from memory (model.safetensors' bytes, or the file already parsed). From a
 * pre-training checkpoint it takes the `vit.` part and ignores the decoder, as HF's from_pretrained
 * does; a bare encoder checkpoint has no prefix.
 */
export function encoderFromBytes(
  configJson: ConfigJson,
  weights: Uint8Array | SafetensorsFile,
  sources: CheckpointSources = {},
): { config: ViTMAEConfig; params: EncoderParams } {
  const config = configFromJson(configJson, sources.config);
  const file = weights instanceof Uint8Array ? parseSafetensors(weights, sources.weights) : weights;
  const named = checkedWeights(config, { kind: "encoder" }, file, sources.weights);
  const prefixed = [...named.keys()].some((n) => n.startsWith("vit."));
  const encoderOnly = new Map(
    [...named]
      .filter(([n]) => (prefixed ? n.startsWith("vit.") : !n.startsWith("decoder.")))
      .map(([n, t]) => [prefixed ? n.slice(4) : n, t]),
  );
  const params = parametersFromNamed<EncoderParams>(config, encoderOnly, { prefix: "", source: sources.weights });
  return { config, params };
}

/** What `saveCheckpoint` writes, in memory: config.json's text and model.safetensors' bytes (HF names, float32). */
export function checkpointToBytes(
  config: ViTMAEConfig,
  params: PreTrainingParams | EncoderParams,
  opts: { encoderOnly?: boolean } = {},
): { configJson: string; weights: Uint8Array } {
  // HF's state-dict order, so the file lists tensors as transformers' save_pretrained does.
  const order = parameterShapes(config, opts.encoderOnly ? "" : "vit.").map(([n]) => n);
  const json = toHFJson(config);
  if (opts.encoderOnly) json.architectures = ["ViTMAEModel"];
  return { configJson: `${JSON.stringify(json, null, 2)}\n`, weights: weightsToBytes(namedParameters(params), order) };
}

/** model.safetensors' bytes for named tensors (float32), the names in `order` first, then any others. */
export function weightsToBytes(named: ReadonlyMap<string, Tensor>, order: readonly string[]): Uint8Array {
  const names = [...order.filter((n) => named.has(n)), ...[...named.keys()].filter((n) => !order.includes(n))];
  const tensors = new Map<string, WritableTensor>(
    names.map((n) => {
      const t = named.get(n)!;
      return [n, { dtype: "F32", shape: [...t.shape], data: t.toArray() }];
    }),
  );
  return serializeSafetensors(tensors, { format: "pt" }, CHECKPOINT_FILE.weights);
}

/** `preTrainingFromBytes` without throwing: the model, or why these bytes are not one. */
export function tryPreTrainingFromBytes(
  configJson: ConfigJson,
  weights: Uint8Array,
  sources: CheckpointSources = {},
): Either<CheckpointLoadError, { config: ViTMAEConfig; params: PreTrainingParams }> {
  return attempt(() => preTrainingFromBytes(configJson, weights, sources), CHECKPOINT_LOAD_ERRORS);
}

/** `encoderFromBytes` without throwing. */
export function tryEncoderFromBytes(
  configJson: ConfigJson,
  weights: Uint8Array,
  sources: CheckpointSources = {},
): Either<CheckpointLoadError, { config: ViTMAEConfig; params: EncoderParams }> {
  return attempt(() => encoderFromBytes(configJson, weights, sources), CHECKPOINT_LOAD_ERRORS);
}
