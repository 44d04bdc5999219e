// ViTForImageClassification checkpoints: HF names and config round trips, the pooling in the config, clear errors.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isLeft, isRight } from "fp-ts/lib/Either.js";
import * as T from "../../src/core/index.ts";
import { readSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { namedParameters } from "../../src/mae/params.ts";
import { unsafeConfig } from "../../src/mae/config.ts";
import {
  classifierShapes,
  initClassifier,
  loadClassifier,
  makeViTConfig,
  parseViTConfig,
  saveClassifier,
  vitToHFJson,
  ViTForImageClassification,
} from "../../src/vit/index.ts";
import { repoRoot, values } from "../helpers/reference.ts";

const hfVit = (name: string) => path.join(repoRoot, "test/fixtures/hf-vit", name);
const tmp = () => mkdtempSync(path.join(tmpdir(), "vit-ckpt-"));
const encoder = unsafeConfig({
  imageSize: 16,
  patchSize: 4,
  numChannels: 1,
  hiddenSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 64,
});

test("a transformers checkpoint saved again holds the same tensors (names, values) and config fields", () => {
  const dir = tmp();
  try {
    const { config, params } = loadClassifier(hfVit("tiny_cls"));
    saveClassifier(dir, config, params);
    const ours = readSafetensorsFile(path.join(dir, "model.safetensors")).tensors;
    const theirs = readSafetensorsFile(path.join(hfVit("tiny_cls"), "model.safetensors")).tensors;
    assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), "HF's names, no more, no fewer");
    for (const [n, t] of theirs) assert.deepEqual(values(ours.get(n)!, n), values(t, n), n);
    const json = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    const hf = JSON.parse(readFileSync(path.join(hfVit("tiny_cls"), "config.json"), "utf8"));
    for (const key of [
      "model_type",
      "hidden_size",
      "num_hidden_layers",
      "num_attention_heads",
      "intermediate_size",
      "hidden_act",
      "layer_norm_eps",
      "image_size",
      "patch_size",
      "num_channels",
      "qkv_bias",
      "id2label",
      "label2id",
      "architectures",
      "encoder_stride",
    ])
      assert.deepEqual(json[key], hf[key], `config.json ${key}`);
    assert.equal(json.use_mean_pooling, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const useMeanPooling of [false, true]) {
  test(`our own classifier round-trips (${useMeanPooling ? "mean pool + fc_norm" : "CLS"}): config, names, values`, () => {
    const dir = tmp();
    try {
      const cfg = makeViTConfig(encoder, { numLabels: 4, id2label: ["a", "b", "c", "d"], useMeanPooling });
      const model = ViTForImageClassification.init(cfg, T.key(3));
      model.savePretrained(dir);
      const back = ViTForImageClassification.fromPretrained(dir);
      assert.deepEqual(vitToHFJson(back.config), vitToHFJson(cfg));
      assert.deepEqual(back.config.id2label, ["a", "b", "c", "d"]);
      const a = namedParameters(model.params);
      const b = namedParameters(back.params);
      assert.deepEqual(
        [...b.keys()],
        classifierShapes(cfg).map(([n]) => n),
      );
      for (const [n, t] of a) assert.deepEqual(b.get(n)!.toFloat64Array(), t.toFloat64Array(), n);
      assert.equal(b.has("vit.layernorm.weight"), !useMeanPooling, "MAE's mean pool has no final vit.layernorm");
      assert.equal(b.has("fc_norm.weight"), useMeanPooling);
      const bytes = model.toBytes();
      const fromBytes = ViTForImageClassification.fromBytes(bytes.configJson, bytes.weights);
      assert.deepEqual(vitToHFJson(fromBytes.config), vitToHFJson(cfg), "fromBytes(toBytes()) is the same model");
      assert.deepEqual(
        namedParameters(fromBytes.params).get("classifier.weight")!.toArray(),
        a.get("classifier.weight")!.toArray(),
      );
      const x = T.random.normal(T.key(1), [2, 1, 16, 16]);
      assert.deepEqual(
        back.forward({ pixelValues: x }).logits.toFloat64Array(),
        model.forward({ pixelValues: x }).logits.toFloat64Array(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("config: id2label gives the classes; a ViTMAE config converts as transformers converts it", () => {
  const mae = JSON.parse(readFileSync(path.join(repoRoot, "test/fixtures/hf/tiny/config.json"), "utf8"));
  const cfg = parseViTConfig(mae, "tiny", { numLabels: 3 });
  assert.ok(isRight(cfg));
  const json = vitToHFJson(cfg.right);
  const hf = JSON.parse(readFileSync(path.join(hfVit("from_mae_tiny"), "config.json"), "utf8"));
  for (const key of [
    "model_type",
    "id2label",
    "label2id",
    "decoder_hidden_size",
    "mask_ratio",
    "hidden_size",
    "image_size",
  ])
    assert.deepEqual(json[key], hf[key], `config.json ${key} as transformers writes it`);
});

test("bad configs and checkpoints are clear errors naming the field or tensor", () => {
  const bad = parseViTConfig({
    model_type: "bert",
    id2label: { 0: "x", 2: "y" },
    use_mean_pooling: "yes",
    hidden_size: 30,
  });
  assert.ok(isLeft(bad));
  for (const field of ["model_type", "id2label.1", "use_mean_pooling", "hidden_size"])
    assert.match(bad.left.message, new RegExp(field.replace(".", "\\.")), `names ${field}`);
  assert.throws(() => loadClassifier(hfVit("tiny_cls"), { numLabels: 7 }), /classifier for 5 classes, not 7/);
  assert.throws(() => loadClassifier(hfVit("tiny_cls"), { useMeanPooling: true }), /pooling cannot change/);
  const dir = tmp();
  try {
    const cfg = makeViTConfig(encoder, { numLabels: 2 });
    const params = initClassifier(T.key(0), cfg);
    saveClassifier(dir, cfg, { ...params, classifier: { weight: T.zeros([3, 32]), bias: T.zeros([3]) } });
    assert.throws(() => loadClassifier(dir), /classifier\.weight" has shape \[3, 32\], expected \[2, 32\]/);
    writeFileSync(path.join(dir, "config.json"), "{ not json");
    assert.throws(() => loadClassifier(dir), /config\.json.*is not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
