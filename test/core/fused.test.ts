// The fused primitives (softmax, layerNorm, gelu) against the compositions they replace: same values,
// same gradients, and their own VJPs against finite differences.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { checkGrads, valueAndGrad } from "../../src/autodiff/index.ts";

const maxDiff = (a: T.Tensor, b: T.Tensor) => Math.max(0, ...Array.from(T.abs(T.sub(a, b)).toArray()));
const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 });

const cases = [
  { name: "softmax", fused: (x: T.Tensor) => T.softmax(x), composite: (x: T.Tensor) => T.softmaxComposite(x) },
  { name: "gelu", fused: (x: T.Tensor) => T.gelu(x), composite: (x: T.Tensor) => T.geluComposite(x) },
  {
    name: "layerNorm",
    fused: (x: T.Tensor) =>
      T.layerNorm(x, T.arange(1, 1 + x.shape[x.shape.length - 1]), T.full([x.shape[x.shape.length - 1]], 0.3), 1e-5),
    composite: (x: T.Tensor) =>
      T.layerNormComposite(
        x,
        T.arange(1, 1 + x.shape[x.shape.length - 1]),
        T.full([x.shape[x.shape.length - 1]], 0.3),
        1e-5,
      ),
  },
];

for (const c of cases) {
  test(`fused ${c.name} equals its composition, values and gradients`, () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 0, max: 1000 }), (shape, seed) => {
        const x = T.random.normal(T.key(seed), shape, 0, 2);
        const weights = T.random.normal(T.key(seed + 1), shape);
        assert.ok(maxDiff(c.fused(x), c.composite(x)) < 1e-5);
        const loss = (f: (x: T.Tensor) => T.Tensor) => (x: T.Tensor) => T.sum(T.mul(f(x), weights));
        const [, gf] = valueAndGrad(loss(c.fused))(x);
        const [, gc] = valueAndGrad(loss(c.composite))(x);
        assert.ok(maxDiff(gf, gc) < 1e-4, `${c.name} gradients differ by ${maxDiff(gf, gc)}`);
        assert.ok(checkGrads(loss(c.fused), [x]).ok);
      }),
      { numRuns: 25, seed: 7 },
    );
  });
}

test("fused layerNorm gives weight and bias gradients (finite differences)", () => {
  const x = T.random.normal(T.key(3), [2, 3, 6]);
  const r = T.random.normal(T.key(4), [2, 3, 6]);
  const w = T.random.normal(T.key(5), [6]);
  const b = T.random.normal(T.key(6), [6]);
  const result = checkGrads((x, w, b) => T.sum(T.mul(T.layerNorm(x, w, b, 1e-6), r)), [x, w, b]);
  assert.ok(result.ok, JSON.stringify(result.worst));
});

test("fused softmax on non-last axes and strided inputs matches the composition", () => {
  const x = T.random.normal(T.key(9), [3, 4, 5]);
  assert.ok(maxDiff(T.softmax(x, 1), T.softmaxComposite(x, 1)) < 1e-6);
  const xt = T.transpose(x);
  assert.ok(maxDiff(T.softmax(xt), T.softmaxComposite(xt)) < 1e-6);
});

test("fused softmax keeps -inf entries at probability 0 and rows sum to 1", () => {
  const x = T.fromNested([
    [0, -Infinity, 1],
    [2, 2, -Infinity],
  ]);
  const y = T.softmax(x).toNested() as number[][];
  assert.equal(y[0][1], 0);
  assert.equal(y[1][2], 0);
  for (const row of y) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

test("fused layerNorm names a wrongly shaped weight", () => {
  assert.throws(() => T.layerNorm(T.zeros([2, 4]), T.ones([3]), T.zeros([3]), 1e-5), /layerNorm: weight \[3\]/);
});
