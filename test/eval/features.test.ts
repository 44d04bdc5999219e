// Frozen-encoder features: CLS and mean-pooled patch tokens, batch by batch, labels required.

import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/core/index.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { DatasetError } from "../../src/data/dataset.ts";
import { preprocess as preprocessImage } from "../../src/data/preprocess.ts";
import { encoderFeatures, poolFeatures } from "../../src/eval/features.ts";
import { tiny, ViTMAEModel } from "../../src/mae/index.ts";

test("poolFeatures: CLS is token 0, mean-pool the mean of tokens 1.. (MAE's global_pool)", () => {
  // [1, 3, 2]: CLS (9, 9), patches (1, 2) and (3, 6)
  const { cls, meanPool } = poolFeatures(T.fromArray([9, 9, 1, 2, 3, 6], [1, 3, 2]));
  assert.deepEqual(Array.from(cls.toArray()), [9, 9]);
  assert.deepEqual(Array.from(meanPool.toArray()), [2, 4]);
});

function dataset(n: number, labelled: boolean): Dataset {
  const ds: Dataset = {
    name: "synthetic",
    size: n,
    numClasses: labelled ? 2 : undefined,
    get(i) {
      const data = new Uint8Array(32 * 32 * 3).map((_, j) => (i * 37 + j * 11) % 256);
      return labelled || i < 2
        ? { image: { width: 32, height: 32, channels: 3, data }, label: i % 2 }
        : { image: { width: 32, height: 32, channels: 3, data } };
    },
  };
  return ds;
}

const encoder = ViTMAEModel.init(tiny, T.key(1));
const preprocess = { height: 32, width: 32, channels: 3 };

test("encoderFeatures equals the encoder run on all patches in order, whatever the batch size", async () => {
  const ds = dataset(5, true);
  const whole = await encoderFeatures(encoder, ds, { preprocess, batchSize: 8 });
  let progress = 0;
  const pieces = await encoderFeatures(encoder, ds, {
    preprocess,
    batchSize: 2,
    onProgress: (done) => (progress = done),
  });
  assert.equal(progress, 5);
  assert.deepEqual(Array.from(whole.labels), [0, 1, 0, 1, 0]);
  assert.deepEqual(whole.cls.shape, [5, 64]);
  for (const f of ["cls", "meanPool"] as const) {
    const a = whole[f].toArray();
    const b = pieces[f].toArray();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${f}[${i}]`);
  }
  const out = encoder.forward({
    pixelValues: T.fromArray(preprocessImage(ds.get(3).image, preprocess), [1, 3, 32, 32]),
    maskRatio: 0,
  });
  assert.equal(out.lastHiddenState.shape[1], 17); // every patch kept
  const direct = poolFeatures(out.lastHiddenState).cls.toArray();
  const row = whole.cls.toArray().subarray(3 * 64, 4 * 64);
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(direct[i] - row[i]) < 1e-5);
});

test("encoderFeatures refuses a dataset without labels, naming it", async () => {
  await assert.rejects(
    encoderFeatures(encoder, dataset(4, false), { preprocess, batchSize: 2 }),
    (e: unknown) => e instanceof DatasetError && /"synthetic".*no label/.test(e.message),
  );
});
