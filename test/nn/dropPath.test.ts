// Drop path (stochastic depth) from explicit keys: per sample, an unbiased estimator of its input; in the block.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { block } from "../../src/nn/block.ts";
import { dropPath, dropPathRates } from "../../src/nn/dropPath.ts";
import { initLayerNorm, initLinear } from "../../src/nn/init.ts";

test("drop path is the identity without a key (evaluation) or at rate 0", () => {
  const x = T.random.normal(T.key(1), [3, 4, 5]);
  assert.equal(dropPath(x, 0.5, undefined), x);
  assert.equal(dropPath(x, 0, T.key(2)), x);
  for (const r of [1, -0.1, NaN]) assert.throws(() => dropPath(x, r, T.key(0)), /dropPath: rate must be in \[0, 1\)/);
});

test("each sample is dropped whole or kept whole and scaled by 1/(1 − rate); the same key, the same draw", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.double({ min: 0.05, max: 0.9, noNaN: true }),
      fc.nat(),
      (b, rate, seed) => {
        const x = T.random.normal(T.key(seed), [b, 3, 2]);
        const y = dropPath(x, rate, T.key(seed + 1));
        const xs = x.toArray();
        const ys = y.toArray();
        for (let i = 0; i < b; i++) {
          const row = ys.slice(i * 6, i * 6 + 6);
          const dropped = row.every((v) => v === 0);
          const kept = row.every((v, j) => Math.abs(v - xs[i * 6 + j] / (1 - rate)) <= 1e-6 * (1 + Math.abs(v)));
          assert.ok(dropped || kept, `sample ${i} is neither dropped nor kept whole`);
        }
        assert.deepEqual(dropPath(x, rate, T.key(seed + 1)).toArray(), ys);
      },
    ),
    { numRuns: 30 },
  );
});

test("its expectation over keys is the input", () => {
  const rate = 0.3;
  const n = 4000;
  const x = T.ones([n, 1]); // n samples: each an independent draw of the multiplier
  const mean = T.mean(dropPath(x, rate, T.key(7))).item();
  const sd = Math.sqrt(rate / (1 - rate) / n);
  assert.ok(Math.abs(mean - 1) < 4 * sd, `mean multiplier ${mean}, expected 1 ± ${4 * sd}`);
});

test("per-block rates rise linearly from 0 to the rate, as timm's linspace", () => {
  assert.deepEqual(dropPathRates(0.1, 1), [0]);
  assert.deepEqual(
    dropPathRates(0.3, 4).map((r) => +r.toFixed(12)),
    [0, 0.1, 0.2, 0.3],
  );
});

test("in the block, a dropped sample passes through unchanged: both residual branches are dropped per sample", () => {
  const d = 8;
  const ks = T.random.split(T.key(3), 6);
  const layer = {
    attention: {
      attention: {
        query: initLinear(ks[0], d, d, 0.2),
        key: initLinear(ks[1], d, d, 0.2),
        value: initLinear(ks[2], d, d, 0.2),
      },
      output: { dense: initLinear(ks[3], d, d, 0.2) },
    },
    intermediate: { dense: initLinear(ks[4], d, 16, 0.2) },
    output: { dense: initLinear(ks[5], 16, d, 0.2) },
    layernorm_before: initLayerNorm(d),
    layernorm_after: initLayerNorm(d),
  };
  const x = T.random.normal(T.key(9), [64, 3, d]);
  const opts = { heads: 2, eps: 1e-6, act: T.gelu };
  const y = block(layer, x, { ...opts, dropPath: 0.99, dropPathKey: T.key(1) }).out.toArray();
  const plain = block(layer, x, opts).out.toArray();
  const xs = x.toArray();
  let identity = 0;
  for (let i = 0; i < 64; i++) {
    const row = (a: ArrayLike<number>) => Array.from(a).slice(i * 3 * d, (i + 1) * 3 * d);
    if (row(y).every((v, j) => v === row(xs)[j])) identity++;
  }
  assert.ok(identity > 50, `at rate 0.99 most samples skip both branches (${identity}/64 did)`);
  assert.notDeepEqual(Array.from(plain), Array.from(xs), "without drop path the block changes its input");
  assert.deepEqual(
    Array.from(block(layer, x, { ...opts, dropPath: 0.5 }).out.toArray()),
    Array.from(plain),
    "no key: no drop",
  );
});
