// Probing: BatchNorm-style standardisation, the linear probe trained by autodiff + AdamW, DINO's k-NN vote.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import {
  accuracy,
  knn,
  knnPredict,
  linearProbe,
  predictLinear,
  standardize,
  trainLinearHead,
} from "../../src/eval/probe.ts";

/** n points in d dims, class i % k shifted by `gap` along axis (class), noise N(0, 1). */
function clusters(n: number, d: number, k: number, gap: number, seed: number): { x: T.Tensor; y: Int32Array } {
  const x = T.random.normal(T.key(seed), [n, d]).toArray();
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % k;
    x[i * d + y[i]] += gap;
  }
  return { x: T.fromArray(x, [n, d]), y };
}

test("standardize: the train split gets mean 0 and variance 1 per dim; other splits use the train statistics", () => {
  const train = T.fromArray([1, 10, 3, 20, 5, 60], [3, 2]);
  const other = T.fromArray([3, 30], [1, 2]);
  const [a, b] = standardize(train, other);
  const col = (t: T.Tensor, j: number) => Array.from(t.toArray()).filter((_, i) => i % 2 === j);
  for (const j of [0, 1]) {
    const v = col(a, j);
    const mean = v.reduce((s, x) => s + x, 0) / 3;
    const variance = v.reduce((s, x) => s + (x - mean) ** 2, 0) / 3;
    assert.ok(Math.abs(mean) < 1e-6);
    assert.ok(Math.abs(variance - 1) < 1e-5, `variance ${variance}`); // biased, as BatchNorm normalises
  }
  // dim 0: mean 3, var 8/3; 3 → 0. dim 1: mean 30, var 1400/3; 30 → 0.
  assert.deepEqual(
    Array.from(b.toArray()).map((v) => Math.round(v * 1e6) / 1e6),
    [0, 0],
  );
  assert.throws(() => standardize(train, T.zeros([2, 3])), /features 1 have 3 dims, expected 2/);
});

test("the linear probe separates clear clusters (train loss falls, held-out accuracy high) and is deterministic by seed", async () => {
  const { x, y } = clusters(240, 12, 3, 4, 1);
  const trainX = T.slice(x, [{ stop: 180 }]);
  const testX = T.slice(x, [{ start: 180 }]);
  const [a, b] = standardize(trainX, testX);
  const trainY = y.subarray(0, 180);
  const testY = y.subarray(180);
  const { head, losses } = await trainLinearHead(a, trainY, { numClasses: 3, epochs: 30, seed: 2 });
  assert.ok(losses[losses.length - 1] < losses[0] * 0.3, `losses ${losses}`);
  assert.ok(accuracy(await predictLinear(head, b), testY) >= 0.9);
  const again = await linearProbe(a, trainY, b, testY, { numClasses: 3, epochs: 30, seed: 2 });
  assert.equal(again, accuracy(await predictLinear(head, b), testY));
  assert.deepEqual(
    (await trainLinearHead(a, trainY, { numClasses: 3, epochs: 2, seed: 2 })).head.weight.toArray(),
    (await trainLinearHead(a, trainY, { numClasses: 3, epochs: 2, seed: 2 })).head.weight.toArray(),
  );
  assert.notDeepEqual(
    (await trainLinearHead(a, trainY, { numClasses: 3, epochs: 2, seed: 2 })).head.weight.toArray(),
    (await trainLinearHead(a, trainY, { numClasses: 3, epochs: 2, seed: 3 })).head.weight.toArray(),
  );
});

test("the linear probe rejects labels outside the classes and mismatched lengths", async () => {
  const x = T.zeros([3, 2]);
  await assert.rejects(trainLinearHead(x, [0, 1, 2], { numClasses: 2 }), /label 2 at row 2 is not a class in \[0, 2\)/);
  await assert.rejects(trainLinearHead(x, [0, 1], { numClasses: 2 }), /2 labels for 3 feature rows/);
  await assert.rejects(trainLinearHead(T.zeros([3]), [0, 1, 0], { numClasses: 2 }), /must be a \[N, D\] tensor/);
});

test("k-NN on hand-made points: cosine neighbours; weighted and majority votes can disagree", async () => {
  // Train: class 0 points at angles near 0°, class 1 near 90°. Test point at 30°: closer to class 0.
  const pt = (deg: number) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
  const train = T.fromArray(
    [...pt(0), ...pt(5), ...pt(85), ...pt(90), ...pt(95)].map((v, i) => v * (1 + i)),
    [5, 2],
  ); // lengths do not matter
  const trainY = [0, 0, 1, 1, 1];
  const test = T.fromArray([...pt(30), ...pt(80)], [2, 2]);
  assert.deepEqual(Array.from(await knnPredict(train, trainY, test, { numClasses: 2, k: 1 })), [0, 1]);
  // k = 5: majority says 1 (three votes to two); the exp(cos/0.07) weights favour the much closer class 0 at 30°.
  assert.deepEqual(
    Array.from(await knnPredict(train, trainY, test, { numClasses: 2, k: 5, vote: "majority" })),
    [1, 1],
  );
  assert.deepEqual(Array.from(await knnPredict(train, trainY, test, { numClasses: 2, k: 5 })), [0, 1]);
  assert.equal(await knn(train, trainY, test, [0, 1], { numClasses: 2, k: 5 }), 1);
  // k larger than the train split uses all of it; blocks of 1 row give the same answer.
  assert.deepEqual(Array.from(await knnPredict(train, trainY, test, { numClasses: 2, k: 50, blockSize: 1 })), [0, 1]);
});

test("k-NN with k = 1 on the train split itself is exact (property: distinct random points)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), async (seed) => {
      const x = T.random.normal(T.key(seed), [12, 5]);
      const y = Array.from({ length: 12 }, (_, i) => i % 4);
      assert.equal(await knn(x, y, x, y, { numClasses: 4, k: 1 }), 1);
    }),
    { numRuns: 10 },
  );
});

test("k-NN separates clear clusters", async () => {
  const { x, y } = clusters(160, 10, 4, 5, 7);
  const [a, b] = standardize(T.slice(x, [{ stop: 120 }]), T.slice(x, [{ start: 120 }]));
  assert.ok((await knn(a, y.subarray(0, 120), b, y.subarray(120), { numClasses: 4 })) >= 0.95);
});

test("accuracy counts matches and refuses mismatched or empty inputs", () => {
  assert.equal(accuracy([0, 1, 2, 2], [0, 1, 1, 2]), 0.75);
  assert.throws(() => accuracy([0], [0, 1]), /1 predictions for 2 labels/);
  assert.throws(() => accuracy([], []), /no examples/);
});
