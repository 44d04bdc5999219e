// The gradient checker itself: it must pass correct gradients and catch wrong ones, or the op table
// in test/core/ops.test.ts would prove nothing.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import {
  assertGradsClose,
  checkGrads,
  leaves,
  stopGradient,
  treeMap,
  treeZip,
  unflatten,
} from "../../src/autodiff/index.ts";

const x = T.fromArray([0.5, -1.25, 2], [3]);

test("checkGrads passes a correct gradient, in float64", () => {
  const r = checkGrads((t) => T.sum(T.mul(T.sin(t), t)), [x]);
  assert.equal(r.ok, true);
  assert.ok(r.maxAbsError < 1e-8, `float64 differences should be tight: ${r.maxAbsError}`);
});

test("checkGrads catches a wrong gradient and names the element", () => {
  // x·sg(x): the VJP says x, the function's true derivative is 2x.
  const r = checkGrads((t) => T.sum(T.mul(t, stopGradient(t))), [x]);
  assert.equal(r.ok, false);
  assert.equal(r.worst?.leaf, 0);
  assert.equal(r.worst?.index, 2);
  assert.ok(Math.abs(r.worst!.analytic - 2) < 1e-9 && Math.abs(r.worst!.numeric - 4) < 1e-6);
  assert.throws(
    () => assertGradsClose((t) => T.sum(T.mul(t, stopGradient(t))), [x]),
    /argument 0, element 2: analytic 2, numeric 4/,
  );
});

test("checkGrads checks every argument and can sample elements", () => {
  const y = T.fromArray([1, 2, 3, 4], [2, 2]);
  assert.equal(checkGrads((a, b) => T.sum(T.matmul(T.reshape(a, [1, 3]), b)), [x, T.ones([3, 2])]).ok, true);
  const wrongSecond = checkGrads((a, b) => T.add(T.sum(a), T.sum(T.mul(b, stopGradient(b)))), [x, y], {
    maxElements: 2,
  });
  assert.equal(wrongSecond.ok, false);
  assert.equal(wrongSecond.worst?.leaf, 1);
});

test("pytree helpers: leaves order, treeMap paths, unflatten and treeZip round-trip", () => {
  const tree = { b: [T.scalar(1), { c: T.scalar(2) }], a: T.scalar(3), tag: "keep" };
  assert.deepEqual(
    leaves(tree).map((t) => t.item()),
    [1, 2, 3],
  ); // insertion order, arrays by index
  const paths: string[] = [];
  treeMap((t, path) => {
    paths.push(path);
    return t;
  }, tree);
  assert.deepEqual(paths, ["b[0]", "b[1].c", "a"]);
  const rebuilt = unflatten(tree, [T.scalar(10), T.scalar(20), T.scalar(30)]);
  assert.deepEqual(
    leaves(rebuilt).map((t) => t.item()),
    [10, 20, 30],
  );
  assert.equal(rebuilt.tag, "keep");
  const summed = treeZip((p, q) => T.add(p, q), tree, rebuilt);
  assert.deepEqual(
    leaves(summed).map((t) => t.item()),
    [11, 22, 33],
  );
  assert.throws(() => treeZip((p) => p, tree, { b: [T.scalar(0)] } as unknown as typeof tree), /no leaf at b\[1\]\.c/);
});
