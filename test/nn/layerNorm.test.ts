// LayerNorm as HF's (biased variance, eps inside the square root): hand values, shapes, gradient check.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { checkGrads } from "../../src/autodiff/index.ts";
import { layerNorm } from "../../src/nn/layerNorm.ts";
import { assertClose, weights } from "../helpers/tensors.ts";

const unit = (d: number) => ({ weight: T.ones([d]), bias: T.zeros([d]) });

test("layerNorm by hand: biased variance ([1, 2, 3] → ±√1.5), then scale and shift", () => {
  const y = layerNorm(unit(3), T.fromNested([[1, 2, 3]]), 1e-12).toArray();
  assertClose(y, [-Math.sqrt(1.5), 0, Math.sqrt(1.5)], 1e-6); // var = 2/3 (biased), not 1
  const p = { weight: T.fromArray([2, 2, 2], [3]), bias: T.fromArray([1, 0, -1], [3]) };
  assertClose(
    layerNorm(p, T.fromNested([[1, 2, 3]]), 1e-12).toArray(),
    [1 - 2 * Math.sqrt(1.5), 0, -1 + 2 * Math.sqrt(1.5)],
    1e-6,
  );
});

test("layerNorm: eps is inside the square root", () => {
  // x = [1, -1]: mean 0, var 1; eps 1 → 1/√2 (inside), not 1/2 (added to the std).
  assertClose(layerNorm(unit(2), T.fromNested([[1, -1]]), 1).toArray(), [Math.SQRT1_2, -Math.SQRT1_2], 1e-6);
  // A constant row normalises to the bias, not NaN.
  assert.deepEqual([...layerNorm(unit(4), T.full([1, 4], 3), 1e-12).toArray()], [0, 0, 0, 0]);
});

test("layerNorm normalises the last axis only and keeps the shape", () => {
  const x = T.random.normal(T.key(3), [2, 5, 8]);
  const y = layerNorm(unit(8), x, 1e-12);
  assert.deepEqual(y.shape, [2, 5, 8]);
  assertClose(T.mean(y, -1).toArray(), new Array(10).fill(0), 1e-6);
  assertClose(T.mean(T.mul(y, y), -1).toArray(), new Array(10).fill(1), 1e-5);
});

test("layerNorm: gradients w.r.t. input, weight and bias match central differences", () => {
  const [kx, kw, kb] = T.random.split(T.key(4), 3);
  const cot = T.fromArray(weights(3 * 6), [3, 6]);
  const f = (x: T.Tensor, w: T.Tensor, b: T.Tensor) => T.sum(T.mul(layerNorm({ weight: w, bias: b }, x, 1e-5), cot));
  const r = checkGrads(f, [T.random.normal(kx, [3, 6]), T.random.normal(kw, [6]), T.random.normal(kb, [6])]);
  assert.ok(r.ok, `worst: ${JSON.stringify(r.worst)}`);
});
