// The fast CPU backend held to the reference backend: matmul (both the small-JS and the wasm path,
// with strided, transposed and broadcast batch operands), elementwise ops and reductions.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { cpuBackend } from "../../src/core/backends/cpu.ts";
import { referenceBackend } from "../../src/core/backends/reference.ts";
import { BINARY_OPS, UNARY_OPS, type View } from "../../src/core/backend.ts";

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const ok = Object.is(got[i], want[i]) || Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i]));
    assert.ok(ok, `${what}: element ${i}: ${got[i]} vs ${want[i]}`);
  }
};

test("cpu matmul equals the reference on strided, transposed and broadcast operands, small and large", () => {
  fc.assert(
    fc.property(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
        m: fc.integer({ min: 1, max: 40 }),
        k: fc.integer({ min: 1, max: 40 }),
        n: fc.integer({ min: 1, max: 40 }),
        transA: fc.boolean(),
        transB: fc.boolean(),
        broadcastB: fc.boolean(),
        seed: fc.nat(1000),
      }),
      ({ batch, m, k, n, transA, transB, broadcastB, seed }) => {
        const [ka, kb] = T.random.split(T.key(seed), 2);
        const a = transA ? T.transpose(T.random.normal(ka, [...batch, k, m])) : T.random.normal(ka, [...batch, m, k]);
        const bBatch = broadcastB ? batch.map(() => 1) : batch;
        const b0 = transB
          ? T.transpose(T.random.normal(kb, [...bBatch, n, k]))
          : T.random.normal(kb, [...bBatch, k, n]);
        const b = T.broadcastTo(b0, [...batch, k, n]);
        close(cpuBackend.matmul(a, b), referenceBackend.matmul(a, b), 1e-4 * Math.sqrt(k), "matmul");
      },
    ),
    { numRuns: 60, seed: 11 },
  );
});

test("cpu elementwise ops and reductions equal the reference on strided and broadcast views", () => {
  const x = T.random.normal(T.key(1), [3, 4, 5]);
  const views: [string, View, View][] = [
    ["contiguous", x, T.random.normal(T.key(2), [3, 4, 5])],
    ["transposed", T.permute(x, [2, 0, 1]), T.permute(T.random.normal(T.key(3), [3, 4, 5]), [2, 0, 1])],
    ["broadcast", x, T.broadcastTo(T.random.normal(T.key(4), [5]), [3, 4, 5])],
    [
      "sliced",
      T.slice(x, [null, { step: 2 }]),
      T.slice(T.random.normal(T.key(5), [3, 4, 5]), [null, { start: 1, step: 2 }]),
    ],
  ];
  for (const [name, a, b] of views) {
    for (const op of BINARY_OPS)
      close(cpuBackend.binary(op, a, b), referenceBackend.binary(op, a, b), 1e-6, `${op} ${name}`);
    for (const op of UNARY_OPS) close(cpuBackend.unary(op, a), referenceBackend.unary(op, a), 1e-6, `${op} ${name}`);
    for (const axes of [[2], [0, 1], [0], [1, 2], [0, 1, 2]]) {
      for (const op of ["sum", "max", "min"] as const)
        close(cpuBackend.reduce(op, a, axes), referenceBackend.reduce(op, a, axes), 1e-5, `${op} ${axes} ${name}`);
    }
  }
});
