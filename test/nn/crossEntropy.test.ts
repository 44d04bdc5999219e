// Label-smoothing and soft-target cross entropy against timm's formulas, written out in float64.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { grad } from "../../src/autodiff/index.ts";
import { crossEntropy, smoothedTargets, softTargetCrossEntropy } from "../../src/nn/crossEntropy.ts";

const logSoftmaxRow = (row: number[]) => {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
};
const batchArb = fc.record({
  b: fc.integer({ min: 1, max: 5 }),
  k: fc.integer({ min: 2, max: 7 }),
  seed: fc.nat(),
  smoothing: fc.double({ min: 0, max: 0.5, noNaN: true }),
});

test("label smoothing is timm's LabelSmoothingCrossEntropy: mean of (1 − s)·nll + s·mean(−log p)", () => {
  fc.assert(
    fc.property(batchArb, ({ b, k, seed, smoothing }) => {
      const logits = T.random.normal(T.key(seed), [b, k], 0, 3);
      const labels = Array.from({ length: b }, (_, i) => (seed + 3 * i) % k);
      const rows = Array.from({ length: b }, (_, i) => Array.from(logits.toArray().slice(i * k, i * k + k)));
      const want =
        rows.reduce((s, row, i) => {
          const lp = logSoftmaxRow(row);
          return s + (1 - smoothing) * -lp[labels[i]] + smoothing * -(lp.reduce((a, v) => a + v, 0) / k);
        }, 0) / b;
      const got = crossEntropy(logits, labels, smoothing).item();
      assert.ok(Math.abs(got - want) <= 1e-5 * (1 + Math.abs(want)), `${got} vs ${want}`);
    }),
  );
});

test("soft-target cross entropy: its gradient is (softmax − target) / B, and smoothed targets sum to 1", () => {
  fc.assert(
    fc.property(batchArb, ({ b, k, seed, smoothing }) => {
      const labels = Array.from({ length: b }, (_, i) => (seed + i) % k);
      const t = smoothedTargets(labels, k, smoothing);
      for (let i = 0; i < b; i++) {
        const row = Array.from(t.slice(i * k, i * k + k));
        assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6);
        assert.ok(Math.abs(row[labels[i]] - (1 - smoothing + smoothing / k)) < 1e-6);
      }
      const targets = T.fromArray(t, [b, k]);
      const logits = T.random.normal(T.key(seed + 1), [b, k]);
      const g = grad((z: T.Tensor) => softTargetCrossEntropy(z, targets))(logits).toArray();
      const p = T.softmax(logits, -1).toArray();
      for (let i = 0; i < b * k; i++) assert.ok(Math.abs(g[i] - (p[i] - t[i]) / b) < 1e-6, `gradient ${i}`);
    }),
  );
});

test("bad labels and shapes are named", () => {
  assert.throws(() => crossEntropy(T.zeros([2, 3]), [0, 3]), /label 3 \(example 1\) is not a class index in \[0, 3\)/);
  assert.throws(() => crossEntropy(T.zeros([2, 3]), [0]), /one label per example/);
  assert.throws(() => softTargetCrossEntropy(T.zeros([2, 3]), T.zeros([2, 4])), /must both be \[batch, classes\]/);
  assert.throws(() => smoothedTargets([0], 2, 1), /label smoothing must be in \[0, 1\)/);
});
