// Tests for bench/protocol.ts: summaries, the check comparison, and the median.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compareOutputs, median, sampleIndex, type Summary, summarize } from "../../bench/protocol.ts";

test("summarize by hand: sums, head, and evenly spaced samples", () => {
  const s = summarize({ shape: [2, 3], data: new Float32Array([1, -2, 3, -4, 5, -6]) });
  assert.deepEqual(s, {
    shape: [2, 3],
    sum: -3,
    absSum: 21,
    head: [1, -2, 3, -4, 5, -6],
    sample: [1, -2, 3, -4, 5, -6],
  });
  const big = summarize({ shape: [1000], data: Float32Array.from({ length: 1000 }, (_, i) => i) });
  assert.equal(big.sample.length, 64);
  assert.equal(big.sample[1], 15); // floor(1·1000/64)
  assert.equal(big.head.length, 8);
});

test("sampleIndex stays inside [0, n) and strictly increases when n ≥ count", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10_000_000 }), (n) => {
      const count = Math.min(64, n);
      let previous = -1;
      for (let k = 0; k < count; k++) {
        const i = sampleIndex(k, n, count);
        assert.ok(i > previous && i < n);
        previous = i;
      }
    }),
  );
});

const summary = (values: number[]): Summary => summarize({ shape: [values.length], data: Float32Array.from(values) });

test("compareOutputs: the same outputs agree with error 0", () => {
  const a = { out: summary([1, 2, 3]) };
  const c = compareOutputs(a, a, ["out"], 1e-6);
  assert.deepEqual([c.ok, c.worst, c.where, c.problems], [true, 0, "out", []]);
});

test("compareOutputs: a perturbation is caught exactly when it exceeds rtol × the largest magnitude", () => {
  fc.assert(
    fc.property(fc.double({ min: 1e-6, max: 1, noNaN: true }), (delta) => {
      const ref = { out: summary([0.5, -4, 2]) };
      const got = { out: summary([0.5, -4, 2 + delta]) };
      const c = compareOutputs(ref, got, ["out"], 1e-3);
      // value error = |Δ|/4 ; sum error = |Δ|/6.5: the value error dominates
      assert.equal(c.ok, Math.fround(2 + delta) - 2 <= 4e-3);
      if (!c.ok) assert.match(c.problems[0], /^out: relative error/);
    }),
  );
});

test("compareOutputs fails on a missing output, a different shape, or a NaN (null in JSON)", () => {
  const ref = { out: summary([1, 2]), loss: summary([3]) };
  assert.match(compareOutputs(ref, { out: ref.out }, ["out", "loss"], 1).problems[0], /loss: missing from this impl/);
  const reshaped = { ...ref, out: { ...ref.out, shape: [2, 1] } };
  assert.match(compareOutputs(ref, reshaped, ["out"], 1).problems[0], /shape \[2,1\] but the reference has \[2\]/);
  const viaJson = JSON.parse(JSON.stringify({ out: summary([1, NaN]) })) as Record<string, Summary>;
  assert.equal(viaJson.out.sample[1], null);
  const c = compareOutputs(ref, viaJson, ["out"], 1);
  assert.equal(c.ok, false);
  assert.equal(c.worst, Infinity);
});

test("median: the middle value, or the mean of the two middle ones; never from no values", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1 }), (xs) => {
      const m = median(xs);
      assert.ok(xs.filter((x) => x <= m).length >= xs.length / 2);
      assert.ok(xs.filter((x) => x >= m).length >= xs.length / 2);
    }),
  );
  assert.throws(() => median([]), /no values/);
});
