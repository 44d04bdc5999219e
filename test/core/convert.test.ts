// Moving tensors: dtypes (astype), backends (toBackend), and the scijs ndarray world (fromNdarray /
// toNdarray: zero-copy where the storage is host memory, a copy elsewhere).

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import ndarray from "ndarray";
import * as T from "../../src/core/index.ts";
import { grad } from "../../src/autodiff/index.ts";
import { onBackend } from "../helpers/backends.ts";
import { shapeArb, size, valuesArb } from "../helpers/tensors.ts";

test("fromNdarray on the reference backend shares the ndarray's memory, its strides and offset included", () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => i);
  const nd = ndarray(data, [2, 3, 4]).transpose(2, 0, 1).hi(3, 2, 2).lo(1, 0, 1); // a strided window
  const t = onBackend("reference", () => T.fromNdarray(nd));
  assert.deepEqual(t.shape, nd.shape);
  const expected: number[] = [];
  for (let i = 0; i < nd.shape[0]; i++)
    for (let j = 0; j < nd.shape[1]; j++) for (let k = 0; k < nd.shape[2]; k++) expected.push(nd.get(i, j, k));
  assert.deepEqual([...t.toArray()], expected);
  data[nd.offset] = 99; // shared: the tensor sees the ndarray's memory
  assert.equal(t.toArray()[0], 99);
});

test("fromNdarray copies onto other backends and for other array types; toNdarray round-trips", () => {
  fc.assert(
    fc.property(
      shapeArb(0, 3, 4).chain((s) => fc.tuple(fc.constant(s), valuesArb(size(s)))),
      ([shape, values]) => {
        const nd = ndarray(Float64Array.from(values), shape.length ? shape : [1]);
        for (const name of T.availableBackends().filter((n) => n === "reference" || n === "cpu")) {
          const t = onBackend(name, () => T.fromNdarray(nd));
          assert.deepEqual([...t.toArray()], values.map(Math.fround), `${name}: values`);
          const back = T.toNdarray(t);
          assert.deepEqual(back.shape, [...t.shape]);
          // Every element, read through the ndarray's own indexing.
          const at = (i: number) =>
            back.shape.map((_, d) => Math.floor(i / size(back.shape.slice(d + 1))) % back.shape[d]);
          for (let i = 0; i < t.size; i++)
            assert.equal(back.get(...at(i)), Math.fround(values[i]), `${name}: element ${i}`);
        }
        const fromPlain = onBackend("reference", () =>
          T.fromNdarray(ndarray(Array.from(values), shape.length ? shape : [1])),
        );
        assert.deepEqual([...fromPlain.toArray()], values.map(Math.fround));
      },
    ),
  );
});

test("toNdarray of a strided view on the reference backend is a view of the same memory", () => {
  const x = onBackend("reference", () => T.reshape(T.arange(12), [3, 4]));
  const v = T.toNdarray(T.transpose(x));
  assert.deepEqual(v.shape, [4, 3]);
  assert.equal(v.get(1, 2), 9); // x[2][1]
});

test("astype moves values between float32 and float64 and is differentiable", () => {
  const x = T.fromArray([0.1, 1 / 3, 2], [3]);
  const y = T.astype(x, "float64");
  assert.equal(y.dtype, "float64");
  assert.deepEqual([...y.toFloat64Array()], [...x.toArray()].map(Number));
  assert.equal(T.astype(y, "float32").dtype, "float32");
  const g = grad((t: T.Tensor) => T.sum(T.mul(T.astype(t, "float64"), 3)))(x);
  assert.equal(g.dtype, "float32");
  assert.deepEqual([...g.toArray()], [3, 3, 3]);
});

test("toBackend copies between backends (and back for gradients); a float64 op pulls float32 inputs along", async () => {
  const x = onBackend("reference", () => T.fromArray([1, 2, 3], [3]));
  for (const name of T.availableBackends().filter((n) => n === "cpu" || n.startsWith("gpujs:cpu"))) {
    const y = await T.toBackend(x, name);
    assert.equal(y.backend.name, name);
    assert.deepEqual([...y.toArray()], [1, 2, 3]);
    assert.equal(T.toBackendSync(y, "reference").backend.name, "reference");
    const g = grad((t: T.Tensor) => T.sum(T.square(T.toBackendSync(t, name))))(x);
    assert.equal(g.backend.name, "reference");
    assert.deepEqual([...g.toArray()], [2, 4, 6]);
  }
  const mixed = T.add(T.fromArray([1], [1], { dtype: "float64" }), T.fromArray([2], [1]));
  assert.equal(mixed.dtype, "float64");
  assert.equal(mixed.backend.name, "reference");
});
