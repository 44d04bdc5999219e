// Dropout with explicit keys: identity in eval, inverted scaling in training, one fresh key per site.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { dropout, KeyStream } from "../../src/nn/dropout.ts";

test("dropout is the identity without a key (eval) or with p = 0", () => {
  const x = T.random.normal(T.key(1), [4, 5]);
  assert.equal(dropout(x, 0.5, undefined), x);
  assert.equal(dropout(x, 0, T.key(2)), x);
});

test("dropout zeroes about p of the elements, scales the rest by 1/(1-p), deterministically per key", () => {
  const x = T.ones([100, 100]);
  const y = dropout(x, 0.3, T.key(3)).toArray();
  const zeros = y.filter((v) => v === 0).length / y.length;
  assert.ok(Math.abs(zeros - 0.3) < 0.02, `fraction dropped ${zeros}`);
  assert.ok(
    y.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6),
    "kept values are scaled by 1/(1-p)",
  );
  assert.deepEqual([...dropout(x, 0.3, T.key(3)).toArray()], [...y], "same key, same mask");
  assert.notDeepEqual([...dropout(x, 0.3, T.key(4)).toArray()], [...y], "another key, another mask");
});

test("dropout refuses p outside [0, 1)", () => {
  for (const p of [1, 1.5, -0.1, NaN])
    assert.throws(
      () => dropout(T.ones([2]), p, T.key(0)),
      (e: Error) => e instanceof RangeError && e.message.includes("dropout"),
    );
});

test("KeyStream: distinct keys per site, reproducible from the base key, none in eval", () => {
  const a = new KeyStream(T.key(5));
  const b = new KeyStream(T.key(5));
  const [a1, a2] = [a.next()!, a.next()!];
  const draw = (k: T.Key) => [...T.random.uniform(k, [4]).toArray()];
  assert.notDeepEqual(draw(a1), draw(a2));
  assert.deepEqual(draw(b.next()!), draw(a1));
  assert.equal(new KeyStream(undefined).next(), undefined);
});
