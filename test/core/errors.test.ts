// Bad input gives a named error that says what is wrong: the op, the shapes, the axis, the key.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { KeyError, ShapeError } from "../../src/core/index.ts";
import { valueAndGrad, vjp } from "../../src/autodiff/index.ts";
import { assertThrowsWith, throwsShape } from "../helpers/tensors.ts";

// Erased shapes (T.Tensor), so that the wrong calls below compile and fail at run time.
const t23: T.Tensor = T.zeros([2, 3]);
const t4: T.Tensor = T.zeros([4]);
const t45: T.Tensor = T.zeros([4, 5]);

test("shape mismatches name the op and both shapes", () => {
  throwsShape(() => T.add(t23, t4), "add", "[2, 3]", "[4]");
  throwsShape(() => T.mul(t4, t23), "mul", "[4]", "[2, 3]");
  throwsShape(() => T.where(T.ones([3]), t23, t4), "where", "[2, 3]", "[4]");
  throwsShape(() => T.matmul(t23, t45), "matmul", "[2, 3]", "[4, 5]", "3 vs 4");
  throwsShape(
    () => T.matmul(T.zeros([2, 2, 3]) as T.Tensor, T.zeros([3, 3, 4])),
    "matmul",
    "batch dims",
    "[2, 2, 3]",
    "[3, 3, 4]",
  );
  throwsShape(() => T.reshape(t23, [4]), "reshape", "[2, 3]", "[4]");
  throwsShape(() => T.reshape(t23, [-1, -1]), "reshape", "[-1, -1]");
  throwsShape(() => T.reshape(t23, [4, -1]), "reshape", "[4, -1]");
  throwsShape(() => T.broadcastTo(t23, [3, 3]), "broadcastTo", "[2, 3]", "[3, 3]");
  throwsShape(() => T.broadcastTo(t23, [3]), "broadcastTo", "[2, 3]", "[3]");
  throwsShape(() => T.concat([t23, T.zeros([2, 4])]), "concat", "[2, 3]", "[2, 4]", "axis 0");
  throwsShape(() => T.concat([t23, t4], 0), "concat", "[2, 3]", "[4]");
  throwsShape(() => T.stack([t23, T.zeros([3, 2])]), "stack", "[2, 3]", "[3, 2]");
  throwsShape(() => T.concat([]), "concat", "at least one");
  throwsShape(() => T.split(T.zeros([5]), 2), "split", "[5]", "2 equal parts");
  throwsShape(() => T.split(T.zeros([5]), [2, 2]), "split", "[2, 2]", "5");
  throwsShape(() => T.takeAlongAxis(t23, T.zeros([3, 3]), 1), "takeAlongAxis", "[3, 3]", "[2, 3]");
  throwsShape(() => T.scatterAdd(t23, T.zeros([2, 1]), T.zeros([2, 2]), 1), "scatterAdd", "[2, 2]", "[2, 1]");
  throwsShape(() => T.fromArray([1, 2, 3], [2, 2]), "fromArray", "3 values", "[2, 2]");
  throwsShape(() => T.fromNested([[1, 2], [3]]), "fromNested", "ragged", "values[1]");
  throwsShape(() => T.zeros([2, -1]), "zeros", "[2, -1]");
  throwsShape(() => T.zeros([1.5]), "zeros", "[1.5]");
  throwsShape(() => t23.item(), "item", "[2, 3]");
});

test("wrong ranks name the op and the shapes", () => {
  throwsShape(() => T.matmul(t4, t45), "matmul", "rank >= 2", "[4]", "[4, 5]");
  throwsShape(() => T.matmul(T.scalar(1) as T.Tensor, t45), "matmul", "[]");
  throwsShape(() => T.transpose(t4), "transpose", "rank 1");
  throwsShape(() => T.permute(t23, [0]), "permute", "[0]", "[2, 3]");
  throwsShape(() => T.permute(t23, [1, 1]), "permute", "[1, 1]", "not a permutation");
  throwsShape(() => T.slice(t4, [null, null]), "slice", "2 slice specs", "rank 1");
  throwsShape(() => T.takeAlongAxis(t23, T.zeros([2]), 0), "takeAlongAxis", "[2]", "[2, 3]");
  throwsShape(() => T.squeeze(t23, 0), "squeeze", "axis 0", "[2, 3]", "size 2");
});

test("axes out of range name the op, the axis and the rank", () => {
  const cases: [string, () => unknown, string][] = [
    ["sum", () => T.sum(t23, 2), "axis 2"],
    ["sum", () => T.sum(t23, [0, -3]), "axis -3"],
    ["max", () => T.max(t23, 5), "axis 5"],
    ["mean", () => T.mean(t23, 2), "axis 2"],
    ["variance", () => T.variance(t23, -3), "axis -3"],
    ["softmax", () => T.softmax(t23, 2), "axis 2"],
    ["logSoftmax", () => T.logSoftmax(t23, -3), "axis -3"],
    ["logSumExp", () => T.logSumExp(t23, 7), "axis 7"],
    ["argsort", () => T.argsort(t23, 2), "axis 2"],
    ["argmax", () => T.argmax(t23, 2), "axis 2"],
    ["concat", () => T.concat([t23, t23], 2), "axis 2"],
    ["split", () => T.split(t23, 1, 2), "axis 2"],
    ["squeeze", () => T.squeeze(t23, 2), "axis 2"],
    ["take", () => T.take(t23, [0], 2), "axis 2"],
    ["takeAlongAxis", () => T.takeAlongAxis(t23, t23, 2), "axis 2"],
    ["permute", () => T.permute(t23, [0, 2]), "axis 2"],
  ];
  for (const [op, f, axis] of cases) throwsShape(f, `${op}:`, axis, "rank 2");
  // stack and expandDims insert an axis, so they count the rank the result will have
  throwsShape(() => T.stack([t23, t23], 3), "stack:", "axis 3", "rank 3");
  throwsShape(() => T.expandDims(t23, -4), "expandDims:", "axis -4", "rank 3");
  throwsShape(() => T.sum(t23, [1, 1]), "sum", "repeated axis");
  throwsShape(() => T.slice(t4, [{ step: 0 }]), "slice", "step", "axis 0");
});

test("indices out of range give a RangeError naming the op, the index and the axis size", () => {
  assertThrowsWith(() => T.take(t23, [3], 1), RangeError, "takeAlongAxis", "index 3", "size 3");
  assertThrowsWith(() => T.take(t23, [-1], 0), RangeError, "index -1", "size 2");
  assertThrowsWith(() => T.take(t23, [0.5], 0), RangeError, "index 0.5");
  assertThrowsWith(() => T.scatterAdd(t4, T.fromArray([4], [1]), T.zeros([1]), 0), RangeError, "scatterAdd", "index 4");
  assertThrowsWith(() => T.arange(0, 3, 0), RangeError, "arange", "step");
});

test("operands that are not tensors give a TypeError naming the op", () => {
  const notATensor = [1, 2] as unknown as T.Tensor; // deliberately wrong at run time
  assertThrowsWith(() => T.add(notATensor, 1), TypeError, "add", "expected a Tensor", "object");
  assertThrowsWith(() => T.exp(null as unknown as T.Tensor), TypeError, "exp", "null");
  assertThrowsWith(() => T.matmul("x" as unknown as T.Tensor, t45), TypeError, "matmul", "string");
});

test("bad keys and seeds give a KeyError naming the function", () => {
  const k = T.key(0);
  const notAKey = { hi: 1, lo: 2 } as unknown as T.Key; // has the fields but is no Key
  assertThrowsWith(() => T.random.uniform(notAKey, [2]), KeyError, "uniform", "PRNG key", "Object");
  assertThrowsWith(() => T.random.normal(undefined as unknown as T.Key, [2]), KeyError, "normal", "undefined");
  assertThrowsWith(() => T.random.split(42 as unknown as T.Key), KeyError, "split", "number 42");
  assertThrowsWith(() => T.random.permutation("k" as unknown as T.Key, 3), KeyError, "permutation");
  assertThrowsWith(() => T.key(1.5), KeyError, "seed", "1.5");
  assertThrowsWith(() => T.key(2 ** 60), KeyError, "safe integer");
  assertThrowsWith(() => T.random.split(k, 0), KeyError, "split", "0");
  assertThrowsWith(() => T.random.foldIn(k, 0.5), KeyError, "foldIn", "0.5");
  assertThrowsWith(() => T.random.keyFromData([1]), KeyError, "keyFromData", "[1]");
  assertThrowsWith(() => T.random.keyFromData([1, -1]), KeyError, "uint32");
  assertThrowsWith(() => T.random.keyFromData("1,2"), KeyError, "keyFromData");
  assertThrowsWith(() => T.random.uniform(k, [2, -1]), ShapeError, "uniform", "[2, -1]");
  assertThrowsWith(() => T.random.bernoulli(k, [2], 1.5), RangeError, "bernoulli", "1.5");
  assertThrowsWith(() => T.random.permutation(k, -1), RangeError, "permutation", "-1");
  assertThrowsWith(() => T.random.truncatedNormal(k, [2], 2, -2), RangeError, "truncatedNormal", "lower < upper");
});

test("autodiff misuse: cotangent shape or count, argnums, non-scalar f", () => {
  const [, pullback] = vjp((x: T.Tensor) => T.mul(x, 2), t23);
  throwsShape(() => pullback(t4), "vjp", "[4]", "[2, 3]");
  assertThrowsWith(() => pullback([t23, t23] as unknown as T.Tensor), TypeError, "vjp", "2 tensors", "1");
  assertThrowsWith(() => valueAndGrad((x: T.Tensor) => T.exp(x))(t23), TypeError, "scalar", "[2, 3]");
  assertThrowsWith(
    () => valueAndGrad((x: T.Tensor) => [T.sum(x), 1], { hasAux: false })(t23),
    TypeError,
    "scalar",
    "object",
  );
  assertThrowsWith(
    () => valueAndGrad((x: T.Tensor) => T.sum(x), { argnums: 1 })(t23),
    RangeError,
    "argnum 1",
    "1 arguments",
  );
  assertThrowsWith(() => valueAndGrad((x: T.Tensor) => T.sum(x), { argnums: [0, -1] })(t23), RangeError, "argnum -1");
});

test("integer arguments are checked: fractional or NaN slice bounds, reshape dims, axes, split sizes and key data", () => {
  const x = T.reshape(T.arange(12), [3, 4]);
  for (const spec of [{ start: 0.5 }, { stop: Number.NaN }, { start: 1, stop: 2.25 }, { step: 1.5 }]) {
    assert.throws(
      () => T.slice(x, [spec]),
      (e: Error) => e instanceof T.ShapeError && /slice: .* on axis 0/.test(e.message),
      JSON.stringify(spec),
    );
  }
  assert.throws(() => T.reshape(x, [2.5, -1]), /reshape: cannot reshape \[3, 4\]/);
  assert.throws(() => T.reshape(x, [Number.NaN, 12]), /reshape/);
  assert.throws(() => T.sum(x, 0.5), /sum: axis 0.5 is out of range/);
  assert.throws(() => T.split(x, [1.5, 1.5]), /split: sizes \[1.5, 1.5\]/);
  assert.throws(
    () => T.takeAlongAxis(x, T.fromArray([0.5, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], [3, 4]), 1),
    /takeAlongAxis: index 0.5/,
  );
  assert.throws(() => T.random.foldIn(T.key(0), 1.5), /foldIn: data must be a safe integer/);
  assert.throws(() => T.random.foldIn(T.key(0), 2 ** 60), /foldIn: data must be a safe integer/);
});

test("a tensor too large to exist is refused before anything is allocated, naming the op and the shape", () => {
  const huge = [2 ** 16, 2 ** 15] as const; // 2^31 elements
  assert.throws(() => T.ones(huge), /ones: shape \[65536, 32768\] has 2147483648 elements/);
  assert.throws(() => T.zeros([2 ** 31]), /zeros: shape \[2147483648\]/);
  assert.throws(() => T.random.normal(T.key(0), huge), /normal: shape \[65536, 32768\] has 2147483648 elements/);
  assert.throws(() => T.arange(0, 2 ** 32), /arange: 4294967296 elements/);
  assert.throws(() => T.full([-1], 0), /full: invalid shape \[-1\]/);
});
