// The fuzzing of test/mae/loaderFuzz.test.ts, run in a worker with a heap limit so that a loader which
// hangs or allocates without bound fails the test instead of the machine: a ViTMAE pre-training checkpoint
// and a ViT classifier checkpoint (src/vit). Posts back the counts, or the first failure with fast-check's
// counterexample.

import assert from "node:assert/strict";
import { parentPort, workerData } from "node:worker_threads";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { SafetensorsError } from "../../src/io/safetensors.ts";
import {
  CheckpointError,
  checkpointToBytes,
  ConfigError,
  footprint,
  namedParameters,
  ParameterError,
  preTrainingFromBytes,
  unsafeConfig,
  ViTMAEForPreTraining,
} from "../../src/mae/index.ts";
import { classifierFromBytes, classifierModel, makeViTConfig, ViTForImageClassification } from "../../src/vit/index.ts";

const config = unsafeConfig({
  imageSize: 8,
  patchSize: 4,
  numChannels: 1,
  hiddenSize: 8,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  intermediateSize: 8,
  decoderHiddenSize: 8,
  decoderNumHiddenLayers: 1,
  decoderNumAttentionHeads: 2,
  decoderIntermediateSize: 8,
});
/** A checkpoint to mutate: its config, its header and data, and the loader to feed, which returns its tensor count. */
interface Target {
  configObject: Record<string, unknown>;
  configJson: string;
  weights: Uint8Array;
  header: Record<string, unknown>;
  data: Uint8Array;
  names: string[];
  /** Loads; returns [tensors loaded, tensors the loaded config says there are]. */
  load: (config: string | Record<string, unknown>, bytes: Uint8Array) => [number, number];
}

function target(configJson: string, weights: Uint8Array, load: Target["load"]): Target {
  const headerLength = Number(new DataView(weights.buffer, weights.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(weights.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  const names = Object.keys(header).filter((n) => n !== "__metadata__");
  const configObject = JSON.parse(configJson) as Record<string, unknown>;
  return { configObject, configJson, weights, header, data: weights.subarray(8 + headerLength), names, load };
}

const preTrainingBytes = checkpointToBytes(config, ViTMAEForPreTraining.init(config, T.key(0)).params);
const preTraining = target(preTrainingBytes.configJson, preTrainingBytes.weights, (configInput, bytes) => {
  const { config: cfg, params } = preTrainingFromBytes(configInput, bytes);
  return [namedParameters(params).size, footprint(cfg).parameterTensors];
});
const classifierCfg = makeViTConfig(config, { numLabels: 3, useMeanPooling: true });
const classifierBytes = ViTForImageClassification.init(classifierCfg, T.key(0)).toBytes();
// The class count as num_labels (HF's other form), so that the fuzzed num_labels is the one the loader reads.
const { id2label, label2id, ...classifierJson } = JSON.parse(classifierBytes.configJson);
const classifierText = JSON.stringify({ ...classifierJson, num_labels: 3 });
const classifier = target(classifierText, classifierBytes.weights, (configInput, bytes) => {
  const { config: cfg, params } = classifierFromBytes(configInput, bytes);
  return [namedParameters(params).size, footprint(cfg.encoder, classifierModel(cfg)).parameterTensors];
});

/** Values that break loaders: huge, negative, fractional, non-finite-looking, wrong types, deep nesting. */
const nasty = fc.oneof(
  fc.constantFrom(0, -1, 1, 2, 3, 0.5, 1e9, 1e15, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, -(2 ** 63), 1e308),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(null, true, false, [], {}, [1, 2], [[[[]]]], { a: { b: { c: 1 } } }, "F32", "I64", "BF16"),
  fc.array(fc.integer({ min: -2, max: 2 ** 20 }), { maxLength: 5 }),
);

/** One edit of a target's header: a field of an entry, a whole entry, the metadata, or the names. */
const headerEdit = ({ names, data }: Target) =>
  fc.oneof(
    fc.record({
      kind: fc.constant("field"),
      name: fc.constantFrom(...names),
      field: fc.constantFrom("dtype", "shape", "data_offsets", "extra"),
      value: nasty,
    }),
    fc.record({ kind: fc.constant("dim"), name: fc.constantFrom(...names), at: fc.nat(4), value: nasty }),
    fc.record({
      kind: fc.constant("offset"),
      name: fc.constantFrom(...names),
      at: fc.nat(1),
      value: fc.oneof(fc.nat(), fc.constantFrom(2 ** 40, 2 ** 53, -1, data.length, data.length + 1)),
    }),
    fc.record({ kind: fc.constant("drop"), name: fc.constantFrom(...names) }),
    fc.record({ kind: fc.constant("copy"), name: fc.constantFrom(...names), to: fc.string({ maxLength: 12 }) }),
    fc.record({ kind: fc.constant("metadata"), value: nasty }),
  );

function applyEdit(h: Record<string, unknown>, e: { kind: string; name?: string; [k: string]: unknown }): void {
  const entry = e.name === undefined ? undefined : (h[e.name] as Record<string, unknown> | undefined);
  if (e.kind === "field" && entry) entry[e.field as string] = e.value;
  if (e.kind === "dim" && entry && Array.isArray(entry.shape)) entry.shape[e.at as number] = e.value;
  if (e.kind === "offset" && entry && Array.isArray(entry.data_offsets)) entry.data_offsets[e.at as number] = e.value;
  if (e.kind === "drop" && e.name !== undefined) delete h[e.name];
  if (e.kind === "copy" && entry) h[e.to as string] = structuredClone(entry);
  if (e.kind === "metadata") h.__metadata__ = e.value;
}

/** A target's weights with an edited header (and, sometimes, a lying header length). */
function mutatedWeights({ header, data }: Target, edits: Parameters<typeof applyEdit>[1][], lengthDelta: number) {
  const h = structuredClone(header);
  for (const e of edits) applyEdit(h, e);
  const json = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, json.length + lengthDelta)), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const LOADER_ERRORS = [ConfigError, SafetensorsError, ParameterError, CheckpointError];
const stats = { loaded: 0, refused: 0, slowest: 0, peakArrayBuffers: 0 };

/** Loads, checking that the outcome is a correct model or a loader error, quickly and within memory. */
function load(t: Target, configInput: string | Record<string, unknown>, bytes: Uint8Array): void {
  const started = performance.now();
  try {
    const [loaded, expected] = t.load(configInput, bytes);
    assert.equal(loaded, expected, "a load gives every parameter");
    stats.loaded++;
  } catch (e) {
    if (!LOADER_ERRORS.some((type) => e instanceof type)) throw e; // fast-check reports the input that did this
    assert.ok((e as Error).message.length < 20_000, "a bounded message");
    stats.refused++;
  }
  stats.slowest = Math.max(stats.slowest, performance.now() - started);
  stats.peakArrayBuffers = Math.max(stats.peakArrayBuffers, process.memoryUsage().arrayBuffers);
}

/** Runs `f` with console.warn silenced (integer dtypes and NaN weights warn; that is not under test here). */
function quietly(f: () => void): void {
  const warn = console.warn;
  console.warn = () => {};
  try {
    f();
  } finally {
    console.warn = warn;
  }
}

function fuzzHeaders(t: Target, runs: number): void {
  quietly(() =>
    fc.assert(
      fc.property(
        fc.array(headerEdit(t), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(0, 0, 0, -1, 1, -8, 8, 2 ** 20),
        (edits, delta) => load(t, t.configJson, mutatedWeights(t, edits, delta)),
      ),
      { numRuns: runs, seed: workerData.seed },
    ),
  );
}

/** Config edits: any key of the target's config, the layer counts and labels (absent from some configs), a stray key. */
function fuzzConfigs(t: Target, runs: number): void {
  const { configObject, weights } = t;
  const keys = [
    ...Object.keys(configObject),
    "num_hidden_layers",
    "decoder_num_hidden_layers",
    "num_labels",
    "id2label",
    "model_type",
    "x",
  ];
  quietly(() =>
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...keys), fc.option(nasty, { nil: undefined })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.oneof(fc.constant(-1), fc.nat()),
        (edits, cut) => {
          const c: Record<string, unknown> = structuredClone(configObject);
          for (const [key, value] of edits) {
            if (value === undefined) delete c[key];
            else c[key] = value;
          }
          load(t, c, weights);
          const text = JSON.stringify(c);
          load(t, cut < 0 ? text : text.slice(0, cut % (text.length + 1)), weights); // the text, sometimes cut short
        },
      ),
      { numRuns: runs, seed: workerData.seed },
    ),
  );
}

try {
  fuzzHeaders(preTraining, workerData.headerRuns);
  fuzzConfigs(preTraining, workerData.configRuns);
  fuzzHeaders(classifier, workerData.classifierHeaderRuns);
  fuzzConfigs(classifier, workerData.classifierConfigRuns);
  parentPort!.postMessage({ stats });
} catch (e) {
  parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e) });
}
