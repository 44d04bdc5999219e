// The evaluation code on a backend that reads only asynchronously, as a GPU does (async-reference:
// test/helpers/asyncReference.ts, where every synchronous read throws). Features, probes, k-NN,
// reconstructions, the mean-fill baseline and the panels must read with await and give exactly the
// numbers the reference backend (the same kernels, read synchronously) gives.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { DEFAULT_PREPROCESSOR_CONFIG, preprocessOptions, type Dataset } from "../../src/data/index.ts";
import { encoderFeatures } from "../../src/eval/features.ts";
import { panels } from "../../src/eval/panels.ts";
import { knnPredict, standardize, trainLinearHead, predictLinear } from "../../src/eval/probe.ts";
import { meanFillBaselineMse, reconstruct } from "../../src/eval/reconstruct.ts";
import { initPreTraining } from "../../src/mae/init.ts";
import { unsafeConfig } from "../../src/mae/config.ts";
import { on } from "../helpers/asyncReference.ts"; // importing it registers the async-reference backend
import { pictureOf, smallConfig } from "../helpers/pretrainFixture.ts";

const preprocess = preprocessOptions({ ...DEFAULT_PREPROCESSOR_CONFIG }, { height: 16, width: 16, channels: 3 });
const data: Dataset = { name: "ten", size: 10, numClasses: 3, get: (i) => ({ image: pictureOf(i), label: i % 3 }) };

/** Everything src/eval computes from one small model, as plain numbers (every tensor read with await). */
async function evaluation() {
  const config = unsafeConfig({ normPixLoss: true }, smallConfig);
  const params = initPreTraining(T.key(1), config);
  const features = await encoderFeatures({ config, params: params.vit }, data, { preprocess, batchSize: 4 });
  const [trainX, testX] = standardize(
    T.slice(features.meanPool, [{ stop: 7 }]),
    T.slice(features.meanPool, [{ start: 7 }]),
  );
  const trainY = features.labels.subarray(0, 7);
  const probe = await trainLinearHead(trainX, trainY, { numClasses: 3, epochs: 3, batchSize: 3, seed: 2 });
  const pixels = T.fromArray(
    Float32Array.from([0, 1, 2].flatMap((i) => [...pictureOf(i).data].map((v) => v / 255 - 0.5))),
    [3, 3, 16, 16],
  );
  const r = await reconstruct({ config, params }, pixels, { key: T.key(5), unnormalizeWithTargetStats: true });
  return {
    cls: Array.from(await features.cls.data()),
    meanPool: Array.from(await features.meanPool.data()),
    labels: Array.from(features.labels),
    probeLosses: probe.losses,
    probeWeight: Array.from(await probe.head.weight.data()),
    predicted: Array.from(await predictLinear(probe.head, testX)),
    knn: Array.from(await knnPredict(trainX, trainY, testX, { numClasses: 3, k: 3, blockSize: 2 })),
    maskedMse: r.maskedMse,
    loss: r.loss,
    baseline: await meanFillBaselineMse(pixels, r.mask, config.patchSize, config.normPixLoss),
    panels: (await panels(r, DEFAULT_PREPROCESSOR_CONFIG)).flat().map((image) => Array.from(image.data)),
  };
}

test("src/eval on a backend that reads only with await: the reference backend's numbers, exactly", async () => {
  const got = await on("async-reference", evaluation);
  const want = await on("reference", evaluation);
  assert.deepEqual(got, want);
  // Something was computed: 10 feature rows of 16, 3 epochs, 3 images × 4 panels.
  assert.equal(got.cls.length, 10 * 16);
  assert.equal(got.probeLosses.length, 3);
  assert.equal(got.panels.length, 12);
  for (const v of [...got.probeLosses, ...got.maskedMse, got.loss, got.baseline]) assert.ok(Number.isFinite(v), `${v}`);
});

test("a synchronous read on async-reference throws (so the test above would catch a leftover toArray)", async () => {
  await on("async-reference", async () => {
    const x = T.ones([2]);
    assert.throws(() => x.toArray(), /asynchronously|synchronous read/);
    assert.deepEqual(Array.from(await x.data()), [1, 1]);
  });
});
