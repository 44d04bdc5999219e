// Linear (HF/PyTorch layout: weight [out, in], bias [out]): hand values, shapes, gradient check.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { checkGrads } from "../../src/autodiff/index.ts";
import { linear } from "../../src/nn/linear.ts";
import { throwsShape, weights } from "../helpers/tensors.ts";

test("linear: y = x·Wᵀ + b by hand, with and without bias", () => {
  const weight = T.fromNested([
    [1, 0],
    [0, 1],
    [1, 1],
  ]); // [out 3, in 2]
  const bias = T.fromArray([0.5, 0, -1], [3]);
  assert.deepEqual(linear({ weight, bias }, T.fromNested([[1, 2]])).toNested(), [[1.5, 2, 2]]);
  assert.deepEqual(linear({ weight }, T.fromNested([[1, 2]])).toNested(), [[1, 2, 3]]);
});

test("linear maps [..., in] → [..., out] over any leading dims", () => {
  const p = { weight: T.random.normal(T.key(1), [5, 4]), bias: T.zeros([5]) };
  assert.deepEqual(linear(p, T.zeros([2, 3, 4])).shape, [2, 3, 5]);
  assert.deepEqual(linear(p, T.zeros([4])).shape, [5]);
  throwsShape(() => linear(p, T.zeros([2, 3])), "linear", "[2, 3]", "4 features");
});

test("linear: gradients w.r.t. input, weight and bias match central differences", () => {
  const [kx, kw, kb] = T.random.split(T.key(2), 3);
  const cot = T.fromArray(weights(2 * 3 * 5), [2, 3, 5]);
  const f = (x: T.Tensor, w: T.Tensor, b: T.Tensor) => T.sum(T.mul(linear({ weight: w, bias: b }, x), cot));
  const r = checkGrads(f, [T.random.normal(kx, [2, 3, 4]), T.random.normal(kw, [5, 4]), T.random.normal(kb, [5])]);
  assert.ok(r.ok, `worst: ${JSON.stringify(r.worst)}`);
});
