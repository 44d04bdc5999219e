// Issue 13 for the ViT classifier loader, as for ViTMAE's: a config far from its weights is refused before
// its tensors are listed, sizes no array can hold are refused by field before anything is allocated, and
// loaded weights that are integers or not finite are warned about by name.

import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/core/index.ts";
import { parseSafetensors, serializeSafetensors, type WritableTensor } from "../../src/io/safetensors.ts";
import { CheckpointError, checkpointToBytes, encoderFromBytes } from "../../src/mae/checkpoint.ts";
import { ConfigError, toHFJson, unsafeConfig } from "../../src/mae/config.ts";
import { initEncoder, initPreTraining } from "../../src/mae/init.ts";
import { ParameterError } from "../../src/mae/params.ts";
import {
  classifierFromBytes,
  initClassifier,
  makeViTConfig,
  MAX_LABELS,
  ViTForImageClassification,
  vitToHFJson,
} from "../../src/vit/index.ts";

const encoderFields = {
  imageSize: 8,
  patchSize: 4,
  numChannels: 1,
  hiddenSize: 8,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  intermediateSize: 8,
};
/** The encoder, with ViTMAE's default decoder (8 blocks of 512) in its config: never made here. */
const encoder = unsafeConfig(encoderFields);
/** A pre-training checkpoint with a small decoder. */
const small = unsafeConfig({
  ...encoderFields,
  decoderHiddenSize: 8,
  decoderNumHiddenLayers: 1,
  decoderNumAttentionHeads: 2,
  decoderIntermediateSize: 8,
});
const mae = checkpointToBytes(small, initPreTraining(T.key(0), small));
const cfg = makeViTConfig(encoder, { numLabels: 2, useMeanPooling: true });
const classifier = ViTForImageClassification.init(cfg, T.key(0)).toBytes();
const json = vitToHFJson(cfg);

/** Calls `f`, checking that it throws an error of `type` whose message matches `why`, within `ms`. */
function refusedQuickly(f: () => unknown, type: new (...a: never[]) => Error, why: RegExp, ms = 1000): void {
  const started = performance.now();
  assert.throws(f, (e: Error) => {
    assert.ok(e instanceof type, `${e.name}: ${e.message}`);
    assert.match(e.message, why);
    return true;
  });
  assert.ok(performance.now() - started < ms, `refused in ${(performance.now() - started).toFixed(0)} ms`);
}

test("a classifier config of a million layers against small weights is refused before its tensors are listed", () => {
  refusedQuickly(
    () => classifierFromBytes({ ...json, num_hidden_layers: 1e6 }, classifier.weights),
    ParameterError,
    /describes 16000008 parameter tensors \(.*num_hidden_layers 1000000.*num_labels 2\) but the file holds 24:/,
  );
  // A ViTMAE checkpoint given a new head: the encoder's count, the same refusal.
  refusedQuickly(
    () => classifierFromBytes({ ...toHFJson(small), num_hidden_layers: 1e6 }, mae.weights, {}, { numLabels: 3 }),
    ParameterError,
    /describes 16000006 parameter tensors .*num_hidden_layers 1000000/,
  );
});

test("a bare encoder checkpoint of one block loads, though its config carries ViTMAE's default 8-block decoder", () => {
  // The pre-check counts the encoder's tensors for an encoder, not the pre-training model's (158 here).
  const { configJson, weights } = checkpointToBytes(encoder, initEncoder(T.key(0), encoder), { encoderOnly: true });
  assert.equal(JSON.parse(configJson).decoder_num_hidden_layers, 8);
  assert.equal(encoderFromBytes(configJson, weights).config.numHiddenLayers, 1);
  const loaded = classifierFromBytes(configJson, weights, {}, { numLabels: 3 });
  assert.ok(loaded.newHead);
  assert.deepEqual(loaded.params.classifier.weight.shape, [3, 8]);
});

test("num_labels beyond MAX_LABELS is a ConfigError naming it, never an attempt at a huge label list", () => {
  for (const k of [1e12, MAX_LABELS + 1, 2 ** 53]) {
    refusedQuickly(
      () =>
        classifierFromBytes({ ...json, id2label: undefined, label2id: undefined, num_labels: k }, classifier.weights),
      ConfigError,
      new RegExp(`num_labels.*must be an integer in \\[1, ${MAX_LABELS}\\]`),
    );
    refusedQuickly(
      () => classifierFromBytes(mae.configJson, mae.weights, {}, { numLabels: k }),
      ConfigError,
      /num_labels/,
    );
    refusedQuickly(() => makeViTConfig(encoder, { numLabels: k }), ConfigError, /num_labels/);
  }
});

test("a head no array can hold is refused by field before it is made (loading a new head, init)", () => {
  // hidden_size 4352 × 1e6 classes = 4.35e9 elements, over the 2^32 of one typed array.
  const wide = unsafeConfig({
    ...encoderFields,
    hiddenSize: 4352,
    numHiddenLayers: 0,
    numAttentionHeads: 1,
    imageSize: 4,
  });
  const bare = checkpointToBytes(wide, initEncoder(T.key(0), wide), { encoderOnly: true });
  const why = /the classifier head \(num_labels × hidden_size\) would have 4\.35e\+9 elements.*hidden_size 4352/;
  refusedQuickly(
    () => classifierFromBytes(bare.configJson, bare.weights, { config: "x/config.json" }, { numLabels: MAX_LABELS }),
    CheckpointError,
    new RegExp(`x/config\\.json: cannot make a classifier of ${MAX_LABELS} classes on it: ${why.source}`),
  );
  const huge = makeViTConfig(wide, { numLabels: MAX_LABELS });
  refusedQuickly(() => ViTForImageClassification.init(huge, T.key(0)), RangeError, /init: cannot make this model/);
  refusedQuickly(
    () =>
      ViTForImageClassification.init(
        makeViTConfig(unsafeConfig({ ...encoderFields, hiddenSize: 2 ** 17 }), { numLabels: 2 }),
        T.key(0),
      ),
    RangeError,
    /an attention weight \(hidden_size²\)/,
  );
});

test("classifier weights stored as integers or holding NaN load with one warning naming them", () => {
  const file = parseSafetensors(classifier.weights);
  const tensors = new Map<string, WritableTensor>(
    [...file.tensors].map(([n, t]) => [
      n,
      { dtype: "F32", shape: t.shape, data: new Float32Array(t.data as Float32Array) },
    ]),
  );
  (tensors.get("classifier.bias")!.data as Float32Array)[1] = Number.NaN;
  tensors.set("fc_norm.bias", { dtype: "I64", shape: [8], data: new BigInt64Array(8).fill(1n) });
  const warned: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => void warned.push(a.join(" "));
  try {
    const loaded = classifierFromBytes(json, serializeSafetensors(tensors), { weights: "w.safetensors" });
    assert.deepEqual(loaded.params.fc_norm?.bias.toArray(), new Float32Array(8).fill(1));
  } finally {
    console.warn = warn;
  }
  assert.equal(warned.length, 2, JSON.stringify(warned));
  assert.match(warned[0], /w\.safetensors: fc_norm\.bias \(I64\) stored under an integer dtype/);
  assert.match(warned[1], /w\.safetensors: classifier\.bias holds 1 non-finite value/);
  assert.ok(initClassifier(T.key(1), cfg), "a sane config still initialises");
});
