// ViTMAEConfig: the fields and defaults of HF transformers' configuration_vit_mae.py (4.57), parsed once into a validated value.

import { type Either, left, right, isLeft } from "fp-ts/lib/Either.js";

/** The `hidden_act` names of HF's ACT2FN that we implement ("gelu" is the exact erf GELU). */
export const SUPPORTED_ACTIVATIONS = [
  "gelu",
  "gelu_new",
  "gelu_pytorch_tanh",
  "gelu_fast",
  "gelu_python",
  "quick_gelu",
  "relu",
  "silu",
  "swish",
  "tanh",
  "sigmoid",
  "selu",
  "linear",
] as const;
export type HiddenAct = (typeof SUPPORTED_ACTIVATIONS)[number];

/** A [height, width] pair; a plain int in config.json means a square. */
export type HW<H extends number = number, W extends number = number> = readonly [height: H, width: W];

// Type-only brand: no object literal can be a ViTMAEConfig, only what the parsers return.
declare const validated: unique symbol;

/**
 * A validated ViTMAE config. Dims that tensor types need are type parameters:
 * C channels, H×W image, D hidden, DD decoder hidden (`number` when parsed from JSON).
 */
export interface ViTMAEConfig<
  C extends number = number,
  H extends number = number,
  W extends number = number,
  D extends number = number,
  DD extends number = number,
> {
  readonly [validated]: true;
  // encoder
  readonly hiddenSize: D;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly intermediateSize: number;
  readonly hiddenAct: HiddenAct;
  readonly hiddenDropoutProb: number;
  readonly attentionProbsDropoutProb: number;
  readonly initializerRange: number;
  readonly layerNormEps: number;
  // input
  readonly imageSize: HW<H, W>;
  readonly patchSize: HW;
  readonly numChannels: C;
  readonly qkvBias: boolean;
  // decoder
  readonly decoderNumAttentionHeads: number;
  readonly decoderHiddenSize: DD;
  readonly decoderNumHiddenLayers: number;
  readonly decoderIntermediateSize: number;
  // pre-training
  readonly maskRatio: number;
  readonly normPixLoss: boolean;
  /** Whether image_size / patch_size were a plain int, so that `toHFJson` writes them back the same way. */
  readonly givenAsInt: { readonly imageSize: boolean; readonly patchSize: boolean };
  /** Keys of config.json we do not use (transformers_version, id2label, ...): kept and written back. */
  readonly extra: Readonly<Record<string, unknown>>;
  // derived
  /** [gh, gw] = [H / p_h, W / p_w]. */
  readonly gridSize: HW;
  /** L = gh · gw. */
  readonly numPatches: number;
  /** p_h · p_w · C, the length of one patchified target row. */
  readonly patchDim: number;
  readonly headDim: number;
  readonly decoderHeadDim: number;
}

/** The 19 HF fields in camelCase, as `makeConfig` takes them (image/patch size as int or [h, w]). */
export interface ConfigOverrides {
  readonly hiddenSize?: number;
  readonly numHiddenLayers?: number;
  readonly numAttentionHeads?: number;
  readonly intermediateSize?: number;
  readonly hiddenAct?: HiddenAct;
  readonly hiddenDropoutProb?: number;
  readonly attentionProbsDropoutProb?: number;
  readonly initializerRange?: number;
  readonly layerNormEps?: number;
  readonly imageSize?: number | HW;
  readonly patchSize?: number | HW;
  readonly numChannels?: number;
  readonly qkvBias?: boolean;
  readonly decoderNumAttentionHeads?: number;
  readonly decoderHiddenSize?: number;
  readonly decoderNumHiddenLayers?: number;
  readonly decoderIntermediateSize?: number;
  readonly maskRatio?: number;
  readonly normPixLoss?: boolean;
  /** Replaces the extra keys (default: the base config's). */
  readonly extra?: Readonly<Record<string, unknown>>;
}
export type FieldName = Exclude<keyof ConfigOverrides, "extra">;

/** One problem: the config.json key, the offending value, and what is wrong with it. */
export interface ConfigIssue {
  readonly field: string;
  readonly value: unknown;
  readonly problem: string;
}

/** Every problem found in a config, with a message naming the file (when known), each field and value. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly issues: readonly ConfigIssue[];
  readonly source?: string;
  constructor(issues: readonly ConfigIssue[], source?: string) {
    const where = source === undefined ? "" : ` in ${source}`;
    const lines = issues.map((i) => `${i.field} = ${showValue(i.value)}: ${i.problem}`);
    super(
      issues.length === 1
        ? `invalid ViTMAE config${where}: ${lines[0]}`
        : `invalid ViTMAE config${where} (${issues.length} problems):\n  ${lines.join("\n  ")}`,
    );
    this.issues = issues;
    this.source = source;
  }
}

// ---- The field table: config.json key, kind of value, HF default. ----

type Kind = "size" | "layers" | "act" | "prob" | "std" | "eps" | "hw" | "bool" | "ratio";

const FIELDS = {
  hiddenSize: ["hidden_size", "size", 768],
  numHiddenLayers: ["num_hidden_layers", "layers", 12],
  numAttentionHeads: ["num_attention_heads", "size", 12],
  intermediateSize: ["intermediate_size", "size", 3072],
  hiddenAct: ["hidden_act", "act", "gelu"],
  hiddenDropoutProb: ["hidden_dropout_prob", "prob", 0],
  attentionProbsDropoutProb: ["attention_probs_dropout_prob", "prob", 0],
  initializerRange: ["initializer_range", "std", 0.02],
  layerNormEps: ["layer_norm_eps", "eps", 1e-12],
  imageSize: ["image_size", "hw", 224],
  patchSize: ["patch_size", "hw", 16],
  numChannels: ["num_channels", "size", 3],
  qkvBias: ["qkv_bias", "bool", true],
  decoderNumAttentionHeads: ["decoder_num_attention_heads", "size", 16],
  decoderHiddenSize: ["decoder_hidden_size", "size", 512],
  decoderNumHiddenLayers: ["decoder_num_hidden_layers", "layers", 8],
  decoderIntermediateSize: ["decoder_intermediate_size", "size", 2048],
  maskRatio: ["mask_ratio", "ratio", 0.75],
  normPixLoss: ["norm_pix_loss", "bool", false],
} as const satisfies Record<FieldName, readonly [string, Kind, unknown]>;

const FIELD_NAMES = Object.keys(FIELDS) as FieldName[]; // Object.keys loses the key type
/** camelCase field → its config.json key. */
export const hfKeyOf: Readonly<Record<FieldName, string>> = Object.freeze(
  Object.fromEntries(FIELD_NAMES.map((f) => [f, FIELDS[f][0]])) as Record<FieldName, string>,
);
// Written by toHFJson itself, never kept in `extra`.
const MODEL_TYPE = "vit_mae";
const ARCHITECTURES = ["ViTMAEForPreTraining"];
const RESERVED = new Set(["model_type", "architectures"]);
const KNOWN_KEYS = new Set([...Object.values(hfKeyOf), ...RESERVED]);

// Dims become typed-array lengths and loop bounds: keep them well inside int32.
const MAX_DIM = 2 ** 31 - 1;
const isInt = (v: unknown, min: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= MAX_DIM;
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isHW = (v: unknown): boolean =>
  isInt(v, 1) || (Array.isArray(v) && v.length === 2 && isInt(v[0], 1) && isInt(v[1], 1));

const KINDS: Record<Kind, readonly [ok: (v: unknown) => boolean, problem: string]> = {
  size: [(v) => isInt(v, 1), "must be a positive integer"],
  layers: [(v) => isInt(v, 0), "must be a non-negative integer"],
  act: [
    (v) => SUPPORTED_ACTIVATIONS.includes(v as HiddenAct), // includes() on a literal tuple wants a HiddenAct
    `must be one of the supported activations: ${SUPPORTED_ACTIVATIONS.map((a) => JSON.stringify(a)).join(", ")}`,
  ],
  prob: [(v) => isNum(v) && v >= 0 && v <= 1, "must be a probability in [0, 1]"],
  std: [(v) => isNum(v) && v >= 0, "must be a finite number >= 0"],
  eps: [(v) => isNum(v) && v > 0, "must be a finite number > 0"],
  ratio: [(v) => isNum(v) && v >= 0 && v < 1, "must be a number in [0, 1): the fraction of patches masked"],
  hw: [isHW, "must be a positive integer or a [height, width] pair of positive integers"],
  bool: [(v) => typeof v === "boolean", "must be true or false"],
};

/** The 19 fields once each is valid on its own. */
type Fields = {
  -readonly [K in FieldName]-?: K extends "imageSize" | "patchSize" ? HW : Exclude<ConfigOverrides[K], undefined>;
};

// ---- Parsing ----

/** Validates a config.json object: missing keys get HF defaults, every problem is reported. */
export function parseConfig(json: unknown, source?: string): Either<ConfigError, ViTMAEConfig> {
  if (!isPlainObject(json)) {
    return left(new ConfigError([{ field: "config", value: json, problem: "must be a JSON object" }], source));
  }
  const issues: ConfigIssue[] = [];
  const valid: Partial<Record<FieldName, unknown>> = {};
  for (const name of FIELD_NAMES) {
    const [key, kind, fallback] = FIELDS[name];
    const raw = valueOr(json, key, fallback);
    const [ok, problem] = KINDS[kind];
    const tooLarge = typeof raw === "number" && Number.isInteger(raw) && raw > MAX_DIM;
    if (!ok(raw))
      issues.push({ field: key, value: raw, problem: tooLarge ? `is too large (at most ${MAX_DIM})` : problem });
    else valid[name] = kind === "hw" ? toHW(raw as number | HW) : raw; // checked by isHW just above
  }
  const modelType = ownValue(json, "model_type");
  if (modelType !== undefined && modelType !== MODEL_TYPE) {
    issues.push({ field: "model_type", value: modelType, problem: `must be "${MODEL_TYPE}" (or absent)` });
  }
  const extra: [string, unknown][] = [];
  for (const [key, raw] of Object.entries(json)) {
    if (KNOWN_KEYS.has(key) || raw === undefined) continue;
    const copy = frozenJsonCopy(raw, 0);
    if (isLeft(copy))
      issues.push({ field: key, value: raw, problem: `${copy.left} (extra keys are written back to config.json)` });
    else extra.push([key, copy.right]);
  }
  // Only fields that are valid on their own reach here, so each rule reports its own cause.
  crossFieldIssues(valid as Partial<Fields>, json, issues);
  if (issues.length > 0) return left(new ConfigError(issues, source));

  // All 19 fields are present and valid now (no issues), which is what makes this cast sound.
  const f = valid as Fields;
  const imageRaw = valueOr(json, "image_size", FIELDS.imageSize[2]);
  const patchRaw = valueOr(json, "patch_size", FIELDS.patchSize[2]);
  const gridSize = Object.freeze([f.imageSize[0] / f.patchSize[0], f.imageSize[1] / f.patchSize[1]] as const);
  const config = {
    ...f,
    givenAsInt: Object.freeze({ imageSize: typeof imageRaw === "number", patchSize: typeof patchRaw === "number" }),
    extra: Object.freeze(Object.fromEntries(extra)),
    gridSize,
    numPatches: gridSize[0] * gridSize[1],
    patchDim: f.patchSize[0] * f.patchSize[1] * f.numChannels,
    headDim: f.hiddenSize / f.numAttentionHeads,
    decoderHeadDim: f.decoderHiddenSize / f.decoderNumAttentionHeads,
  };
  // The one place a ViTMAEConfig is made: the brand exists only in types.
  return right(Object.freeze(config) as unknown as ViTMAEConfig);
}

function crossFieldIssues(f: Partial<Fields>, json: Record<string, unknown>, issues: ConfigIssue[]): void {
  const divisible = (key: string, value: number | undefined, by: number | undefined, what: string): void => {
    if (value !== undefined && by !== undefined && value % by !== 0) {
      issues.push({ field: key, value, problem: `is not divisible by ${what} (${by})` });
    }
  };
  divisible("hidden_size", f.hiddenSize, f.numAttentionHeads, "num_attention_heads");
  divisible("decoder_hidden_size", f.decoderHiddenSize, f.decoderNumAttentionHeads, "decoder_num_attention_heads");
  divisible("hidden_size", f.hiddenSize, 4, "4, as the 2-D sin-cos position table needs");
  divisible("decoder_hidden_size", f.decoderHiddenSize, 4, "4, as the 2-D sin-cos position table needs");
  const { imageSize: image, patchSize: patch } = f;
  if (image === undefined || patch === undefined) return;
  if (f.normPixLoss === true && f.numChannels !== undefined && patch[0] * patch[1] * f.numChannels === 1) {
    issues.push({
      field: "norm_pix_loss",
      value: true,
      problem:
        "needs patches of at least 2 values, and a 1x1 patch of 1 channel has one: its unbiased variance is 0/0, " +
        "so every loss would be NaN",
    });
  }
  const given = valueOr(json, "image_size", FIELDS.imageSize[2]);
  for (const [i, side] of (["height", "width"] as const).entries()) {
    if (image[i] % patch[i] !== 0) {
      const problem = `${side} ${image[i]} is not divisible by the patch_size ${side} ${patch[i]}`;
      issues.push({ field: "image_size", value: given, problem });
    }
  }
}

/** A problem with the config file itself (unreadable, not JSON) rather than with a field. */
export function fileIssue(file: string, problem: string): ConfigError {
  return new ConfigError([{ field: "file", value: file, problem }], file);
}

/** A config from config.json's text: JSON first (a syntax error names the source), then `parseConfig`. */
export function configFromText(text: string, source?: string): Either<ConfigError, ViTMAEConfig> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return left(fileIssue(source ?? "config.json", `is not valid JSON: ${(e as Error).message}`)); // a SyntaxError
  }
  return parseConfig(json, source);
}

/** What HF's save_pretrained writes: model_type, architectures, the 19 fields in snake_case, the extras; keys sorted. */
export function toHFJson(config: ViTMAEConfig): Record<string, unknown> {
  const entries: [string, unknown][] = Object.entries(config.extra).map(([k, v]) => [k, structuredClone(v)]);
  entries.push(["model_type", MODEL_TYPE], ["architectures", [...ARCHITECTURES]]);
  for (const name of FIELD_NAMES) entries.push([hfKeyOf[name], hfValue(config, name)]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); // json.dumps(sort_keys=True), as HF writes
  return Object.fromEntries(entries);
}

function hfValue(config: ViTMAEConfig, name: FieldName): unknown {
  if (name !== "imageSize" && name !== "patchSize") return config[name];
  const [h, w] = config[name];
  return config.givenAsInt[name] ? h : [h, w];
}

// ---- Configs from code ----

type Given<O, K extends FieldName, Else> = K extends keyof O ? Exclude<O[K], undefined> : Else;
type HeightOf<S> = S extends number ? S : S extends readonly [infer H extends number, number] ? H : number;
type WidthOf<S> = S extends number ? S : S extends readonly [number, infer W extends number] ? W : number;
/** HF's defaults as a type: what `makeConfig({})` gives. */
export type DefaultConfig = ViTMAEConfig<3, 224, 224, 768, 512>;
/** The config type `makeConfig(o, base)` returns: literal dims from `o`, else from `base`. */
export type ConfigOf<O, B extends ViTMAEConfig = DefaultConfig> = ViTMAEConfig<
  Extract<Given<O, "numChannels", B["numChannels"]>, number>,
  HeightOf<Given<O, "imageSize", B["imageSize"]>>,
  WidthOf<Given<O, "imageSize", B["imageSize"]>>,
  Extract<Given<O, "hiddenSize", B["hiddenSize"]>, number>,
  Extract<Given<O, "decoderHiddenSize", B["decoderHiddenSize"]>, number>
>;

/** Unknown keys in an overrides literal become `never`, so a misspelt field is a compile error. */
type NoExtraKeys<O> = { readonly [K in Exclude<keyof O, keyof ConfigOverrides>]: never };

/**
 * A config from camelCase fields over `base` (default: HF's defaults), validated as parseConfig does.
 * Literal sizes flow into the type: `makeConfig({ numChannels: 1, imageSize: 28, ... })` is a `ViTMAEConfig<1, 28, 28, ...>`.
 */
export function makeConfig<const O extends ConfigOverrides, B extends ViTMAEConfig = DefaultConfig>(
  overrides: O & NoExtraKeys<O>,
  base?: B,
): Either<ConfigError, ConfigOf<O, B>> {
  const issues: ConfigIssue[] = [];
  const entries: [string, unknown][] = [];
  for (const [key, value] of Object.entries(overrides.extra ?? base?.extra ?? {})) {
    if (KNOWN_KEYS.has(key))
      issues.push({ field: key, value, problem: "is a ViTMAE config key, so it cannot be an extra key" });
    else entries.push([key, value]);
  }
  if (base !== undefined) for (const name of FIELD_NAMES) entries.push([hfKeyOf[name], hfValue(base, name)]);
  for (const [name, value] of Object.entries(overrides)) {
    if (name === "extra" || value === undefined) continue;
    if (!Object.hasOwn(FIELDS, name)) {
      issues.push({ field: name, value, problem: `is not a ViTMAEConfig field (fields: ${FIELD_NAMES.join(", ")})` });
    } else entries.push([hfKeyOf[name as FieldName], value]); // hasOwn just checked it is a field name
  }
  const parsed = parseConfig(Object.fromEntries(entries));
  if (issues.length > 0) return left(new ConfigError([...issues, ...(isLeft(parsed) ? parsed.left.issues : [])]));
  // The values are exactly the literals that ConfigOf reads, now validated.
  return parsed as Either<ConfigError, ConfigOf<O, B>>;
}

/** The value of an Either from a config parser, or throws its ConfigError (for scripts and tests). */
export function getOrThrow<A>(result: Either<ConfigError, A>): A {
  if (isLeft(result)) throw result.left;
  return result.right;
}

/** `makeConfig` that throws the ConfigError: for constants and scripts. */
export function unsafeConfig<const O extends ConfigOverrides, B extends ViTMAEConfig = DefaultConfig>(
  overrides: O & NoExtraKeys<O>,
  base?: B,
): ConfigOf<O, B> {
  return getOrThrow(makeConfig<O, B>(overrides, base));
}

// ---- Small helpers ----

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// Own keys only, so "constructor" or "__proto__" never reach the prototype.
const ownValue = (o: Record<string, unknown>, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);
// Only a missing key takes the default: a JSON null is a wrong value, as it would be for HF.
function valueOr(o: Record<string, unknown>, key: string, fallback: unknown): unknown {
  const v = ownValue(o, key);
  return v === undefined ? fallback : v;
}

const toHW = (v: number | HW): HW => Object.freeze(typeof v === "number" ? ([v, v] as const) : ([v[0], v[1]] as const));

const MAX_JSON_DEPTH = 64;
/** A deep frozen copy of a JSON value, or why it is not one (NaN, a function, a cycle...). */
function frozenJsonCopy(v: unknown, depth: number): Either<string, unknown> {
  if (depth > MAX_JSON_DEPTH) return left(`is nested deeper than ${MAX_JSON_DEPTH} levels (or is cyclic)`);
  if (v === null || typeof v === "string" || typeof v === "boolean") return right(v);
  if (typeof v === "number")
    return Number.isFinite(v) ? right(v) : left("must be a finite number: JSON has no NaN or Infinity");
  const items = Array.isArray(v)
    ? v.map((x, i) => [String(i), x] as const)
    : isPlainObject(v)
      ? Object.entries(v)
      : undefined;
  if (items === undefined)
    return left(`must be a JSON value (null, boolean, number, string, array or object), not a ${typeof v}`);
  const out: [string, unknown][] = [];
  for (const [k, x] of items) {
    const c = frozenJsonCopy(x, depth + 1);
    if (isLeft(c)) return c;
    out.push([k, c.right]);
  }
  // fromEntries defines keys as data properties, so a "__proto__" key stays a plain key.
  return right(Object.freeze(Array.isArray(v) ? out.map(([, x]) => x) : Object.fromEntries(out)));
}

/** A value as it would appear in config.json, but NaN/Infinity/undefined shown as such (JSON would print null). */
function showValue(v: unknown, depth = 0): string {
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (typeof v === "bigint") return `${v}n`;
  if (v === undefined || typeof v === "symbol" || typeof v === "function")
    return typeof v === "function" ? "a function" : String(v);
  if (Array.isArray(v)) {
    if (depth > 2) return "[...]";
    const shown = v.slice(0, 8).map((x) => showValue(x, depth + 1));
    return `[${shown.join(", ")}${v.length > 8 ? ", ..." : ""}]`;
  }
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v); // a cycle or a BigInt inside
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
