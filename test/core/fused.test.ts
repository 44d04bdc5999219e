// The fused primitives (softmax, layerNorm, gelu) against the compositions they replace: same values,
// same gradients, and their own VJPs against finite differences.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { checkGrads, valueAndGrad } from "../../src/autodiff/index.ts";
import { assertClose } from "../helpers/tensors.ts";

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
        // In float64, where the composition is exact enough for a tight bound even on nearly
        // constant rows (in float32 its own rounding there exceeds 1e-5).
        T.withFloat64(() => {
          const x = T.random.normal(T.key(seed), shape, 0, 2);
          const weights = T.random.normal(T.key(seed + 1), shape);
          assertClose(c.fused(x).toArray(), c.composite(x).toArray(), 1e-9, `${c.name} values`);
          const loss = (f: (x: T.Tensor) => T.Tensor) => (x: T.Tensor) => T.sum(T.mul(f(x), weights));
          const [, gf] = valueAndGrad(loss(c.fused))(x);
          const [, gc] = valueAndGrad(loss(c.composite))(x);
          assertClose(gf.toFloat64Array(), gc.toFloat64Array(), 1e-9, `${c.name} gradients`);
        });
        const x32 = T.random.normal(T.key(seed), shape, 0, 2);
        const r = checkGrads((x: T.Tensor) => T.sum(T.mul(c.fused(x), T.random.normal(T.key(seed + 1), shape))), [x32]);
        assert.ok(r.ok, `${c.name}: ${JSON.stringify(r.worst)}`);
      }),
      { numRuns: 25 },
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

test("softmax on a non-last axis (the composite) equals the fused last-axis softmax of the permuted input", () => {
  const x = T.random.normal(T.key(9), [3, 4, 5]);
  const viaLast = T.permute(T.softmax(T.permute(x, [0, 2, 1])), [0, 2, 1]); // axis 1 moved last and back
  assert.ok(maxDiff(T.softmax(x, 1), viaLast) < 1e-6);
  assert.ok(maxDiff(T.softmax(x, 0), T.transpose(T.softmax(T.transpose(x, 0, 2)), 0, 2)) < 1e-6);
  const xt = T.transpose(x); // a strided input to the fused kernel
  assert.ok(maxDiff(T.softmax(xt), T.softmaxComposite(xt)) < 1e-6);
});

// ---- Special values: the fused ops give what their compositions give ----

/** Rows of 4 to 6 values, a fifth of them special: NaN, ±Infinity, ±0, subnormal, and huge when `huge`. */
const specialRowsArb = (specials: number[]) =>
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 4, max: 6 })).chain(([n, d]) =>
    fc
      .array(
        fc.oneof({ weight: 4, arbitrary: fc.double({ min: -20, max: 20, noNaN: true }) }, fc.constantFrom(...specials)),
        {
          minLength: n * d,
          maxLength: n * d,
        },
      )
      .map((v) => T.fromArray(v, [n, d])),
  );
const SPECIAL = [NaN, -Infinity, 0, -0, 1e-40, -1e-40];

test("fused softmax, gelu and layerNorm equal their compositions on NaN, -Infinity, ±0 and subnormal values", () => {
  const w = T.fromArray([1, -2, 0.5, 3, 1, 2], [6]);
  const b = T.fromArray([0, 1, -1, 0.5, 0, 2], [6]);
  fc.assert(
    fc.property(specialRowsArb([...SPECIAL, Infinity, 3e38, -3e38]), (x) => {
      assertClose(T.gelu(x).toArray(), T.geluComposite(x).toArray(), 1e-6, `gelu of ${x.toArray()}`);
    }),
  );
  fc.assert(
    fc.property(specialRowsArb(SPECIAL), (x) => {
      const d = x.shape[1];
      assertClose(T.softmax(x).toArray(), T.softmaxComposite(x).toArray(), 1e-6, `softmax of ${x.toArray()}`);
      const [wd, bd] = [T.slice(w, [{ stop: d }]), T.slice(b, [{ stop: d }])];
      const [fused, composite] = [T.layerNorm(x, wd, bd, 1e-5), T.layerNormComposite(x, wd, bd, 1e-5)];
      assertClose(fused.toArray(), composite.toArray(), 1e-5, `layerNorm of ${x.toArray()}`);
    }),
  );
});

test("fused softmax of a row holding +Infinity is NaN throughout, as the composition and torch give", () => {
  const x = T.fromNested([[Infinity, 1, 2]]);
  assertClose(T.softmaxComposite(x).toArray(), [NaN, NaN, NaN]);
  assertClose(T.softmax(x).toArray(), T.softmaxComposite(x).toArray());
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
