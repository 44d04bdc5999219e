// Held-out evaluation of a classifier: top-1, mean cross entropy and the confusion matrix's orientation.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import type { Dataset } from "../../src/data/index.ts";
import { preprocessOptions } from "../../src/data/preprocess.ts";
import { DEFAULT_PREPROCESSOR_CONFIG } from "../../src/data/preprocessorConfig.ts";
import { evaluateClassifier } from "../../src/eval/evaluateClassifier.ts";
import { unsafeConfig } from "../../src/mae/config.ts";
import { initClassifier, makeViTConfig } from "../../src/vit/index.ts";
import { pictureOf } from "../helpers/pretrainFixture.ts";

test("a head that always says class 2: confusion[true][predicted], accuracy and loss by hand", async () => {
  const encoder = unsafeConfig({
    imageSize: 16,
    patchSize: 4,
    numChannels: 3,
    hiddenSize: 8,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    intermediateSize: 16,
  });
  const cfg = makeViTConfig(encoder, { numLabels: 3 });
  const params = initClassifier(T.key(0), cfg);
  const bias = [0.5, -1, 2];
  const rigged = { ...params, classifier: { weight: T.zeros([3, 8]), bias: T.fromArray(bias, [3]) } };
  const labels = [0, 0, 1, 2, 2, 2, 1];
  const data: Dataset = {
    name: "seven",
    size: 7,
    numClasses: 3,
    get: (i) => ({ image: pictureOf(i), label: labels[i] }),
  };
  const preprocess = preprocessOptions({ ...DEFAULT_PREPROCESSOR_CONFIG }, { height: 16, width: 16, channels: 3 });
  const r = await evaluateClassifier(rigged, cfg, data, { preprocess, batchSize: 3 });
  assert.deepEqual(r.confusion, [
    [0, 0, 2],
    [0, 0, 2],
    [0, 0, 3],
  ]);
  assert.equal(r.count, 7);
  assert.equal(r.accuracy, 3 / 7);
  const lse = Math.log(bias.reduce((s, b) => s + Math.exp(b), 0));
  const want = labels.reduce((s, y) => s + lse - bias[y], 0) / 7;
  assert.ok(Math.abs(r.loss - want) < 1e-5, `${r.loss} vs ${want}`);
  const wrong: Dataset = { ...data, get: (i) => ({ image: pictureOf(i), label: i === 4 ? 3 : labels[i] }) };
  await assert.rejects(evaluateClassifier(rigged, cfg, wrong, { preprocess }), /label 3, but the model has 3 classes/);
});
