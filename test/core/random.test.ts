// PRNG keys and random tensors: determinism, independence of split keys, and the distributions'
// ranges and moments (fixed keys and loose bounds, so never flaky).

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { threefry2x32 } from "../../src/core/prng.ts";

const { random } = T;
const N = 20000;

function moments(t: T.Tensor): { mean: number; variance: number } {
  const v = t.toFloat64Array();
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean, variance: v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length };
}

test("Threefry-2x32 matches the Random123 known-answer vectors", () => {
  // Random123 kat_vectors, threefry2x32_20: (counter, key) -> output.
  assert.deepEqual(threefry2x32(0, 0, 0, 0), [0x6b200159, 0x99ba4efe]);
  assert.deepEqual(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), [0x1cb996fc, 0xbb002be7]);
  assert.deepEqual(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3), [0xc4923a9c, 0x483df7a0]);
});

test("the same key gives the same numbers; different seeds give different ones", () => {
  fc.assert(
    fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER - 1 }), (seed) => {
      const [a, b] = [random.normal(T.key(seed), [16]), random.normal(T.key(seed), [16])];
      assert.deepEqual(a.toArray(), b.toArray());
      assert.notDeepEqual(random.normal(T.key(seed + 1), [16]).toArray(), a.toArray());
    }),
    { numRuns: 30 },
  );
});

test("split keys differ from each other and from the parent; foldIn is deterministic", () => {
  const k = T.key(42);
  const children = random.split(k, 8);
  const draws = [k, ...children].map((c) => random.uniform(c, [8]).toArray().join(","));
  assert.equal(new Set(draws).size, 9, "every key draws different numbers");
  assert.deepEqual(random.split(k, 8).map(String), children.map(String));
  assert.deepEqual(random.split(k, 3).map(String), children.slice(0, 3).map(String), "split(k, n) extends split(k, m)");
  assert.equal(String(random.foldIn(k, 5)), String(random.foldIn(k, 5)));
  assert.notEqual(String(random.foldIn(k, 5)), String(random.foldIn(k, 6)));
  assert.notEqual(
    String(random.foldIn(k, 1)),
    String(random.foldIn(k, 2 ** 32 + 1)),
    "foldIn sees all of a large integer",
  );
  assert.ok(children.every((c) => Object.isFrozen(c)));
});

test("keyFromData(k.toJSON()) gives k back, also through JSON text", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      fc.nat(5),
      (seed, depth) => {
        let k = T.key(seed);
        for (let i = 0; i < depth; i++) k = random.split(k)[1];
        const back = random.keyFromData(JSON.parse(JSON.stringify(k)));
        assert.deepEqual(back.toJSON(), k.toJSON());
        assert.deepEqual(random.uniform(back, [4]).toArray(), random.uniform(k, [4]).toArray());
      },
    ),
    { numRuns: 50 },
  );
});

test("uniform lies in [min, max) with mean and variance of the uniform law", () => {
  const u = random.uniform(T.key(1), [N], -2, 3);
  const values = u.toArray();
  assert.ok(values.every((v) => v >= -2 && v < 3));
  const { mean, variance } = moments(u);
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.ok(Math.abs(variance - 25 / 12) < 0.1, `variance ${variance}`);
  // Both tails are reached: the range is covered.
  assert.ok(Math.min(...values) < -1.99 && Math.max(...values) > 2.99);
});

test("normal has the asked-for mean and standard deviation, and finite values", () => {
  const z = random.normal(T.key(2), [N], 1, 3);
  const { mean, variance } = moments(z);
  assert.ok(z.toArray().every(Number.isFinite));
  assert.ok(Math.abs(mean - 1) < 0.1, `mean ${mean}`);
  assert.ok(Math.abs(variance - 9) < 0.4, `variance ${variance}`);
  // About 68% within one standard deviation.
  const within = z.toArray().filter((v) => Math.abs(v - 1) < 3).length / N;
  assert.ok(Math.abs(within - 0.6827) < 0.02, `within 1σ: ${within}`);
});

test("truncatedNormal stays within [lower, upper]·std and is symmetric", () => {
  const t = random.truncatedNormal(T.key(3), [N], -2, 2, 0.02);
  assert.ok(t.toArray().every((v) => v >= -0.04 && v <= 0.04));
  const { mean, variance } = moments(t);
  assert.ok(Math.abs(mean) < 0.001, `mean ${mean}`);
  // The variance of N(0,1) truncated to [-2, 2] is 0.7737.
  assert.ok(Math.abs(variance / 0.02 ** 2 - 0.7737) < 0.04, `variance ${variance / 0.02 ** 2}`);
  const oneSided = random.truncatedNormal(T.key(4), [1000], 0.5, 1).toArray();
  assert.ok(oneSided.every((v) => v >= 0.5 && v <= 1));
});

test("bernoulli is 0 or 1 at rate p", () => {
  for (const p of [0, 0.1, 0.75, 1]) {
    const b = random.bernoulli(T.key(5), [N], p).toArray();
    assert.ok(b.every((v) => v === 0 || v === 1));
    const rate = b.reduce((a, v) => a + v, 0) / N;
    assert.ok(Math.abs(rate - p) < 0.015, `p ${p}: rate ${rate}`);
  }
});

test("permutation is a permutation of 0..n-1, and varies with the key", () => {
  fc.assert(
    fc.property(fc.nat(200), fc.integer(), (n, seed) => {
      const p = [...random.permutation(T.key(seed), n).toArray()];
      assert.deepEqual(
        [...p].sort((a, b) => a - b),
        [...Array(n).keys()],
      );
    }),
    { numRuns: 50 },
  );
  const perms = new Set(Array.from({ length: 20 }, (_, s) => random.permutation(T.key(s), 10).toArray().join(",")));
  assert.ok(perms.size >= 19, "different keys give different permutations");
  // Every value lands in every position about equally often (n = 4, 4000 keys).
  const counts = Array.from({ length: 4 }, () => new Array(4).fill(0));
  for (let s = 0; s < 4000; s++)
    random
      .permutation(T.key(s), 4)
      .toArray()
      .forEach((v, i) => counts[i][v]++);
  for (const row of counts)
    for (const c of row) assert.ok(Math.abs(c - 1000) < 120, `position counts ${JSON.stringify(counts)}`);
});

test("random tensors keep their literal shape and are float32", () => {
  const u: T.Tensor<[2, 3]> = random.uniform(T.key(0), [2, 3]);
  assert.deepEqual(u.shape, [2, 3]);
  assert.equal(u.dtype, "float32");
  assert.deepEqual(random.normal(T.key(0), [0, 3]).shape, [0, 3]);
});
