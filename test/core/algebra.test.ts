// Algebraic properties of the core ops: broadcasting, round trips, sorting, softmax, matmul against
// loops, reductions, and the immutability of views (ops never copy or write where they should not).

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { valueAndGrad } from "../../src/autodiff/index.ts";
import { assertClose, axesArb, broadcastPairArb, shapeArb, size, tensorArb, valuesArb } from "../helpers/tensors.ts";

const RUNS = { numRuns: 60, includeErrorInReport: true };
const prop = <A>(arb: fc.Arbitrary<A>, check: (a: A) => void) => fc.assert(fc.property(arb, check), RUNS);
const pairArb = broadcastPairArb().chain(([sa, sb]) => fc.tuple(tensorArb(sa), tensorArb(sb)));

test("broadcasting a binary op equals the op on both operands materialised at the full shape", () => {
  const ops = [T.add, T.sub, T.mul, T.div, T.maximum, T.minimum, T.less, T.equal] as const;
  // Materialised: fresh contiguous tensors, so the kernel's broadcast (stride-0) loops meet a plain one.
  const full = (t: T.Tensor, shape: readonly number[]) => T.fromArray(T.broadcastTo(t, shape).toArray(), shape);
  prop(pairArb, ([a, b]) => {
    const shape = T.broadcastShapes("test", a.shape, b.shape);
    for (const op of ops) {
      const implicit = op(a, b);
      const explicit = op(full(a, shape), full(b, shape));
      assert.deepEqual(implicit.shape, shape);
      assertClose(implicit.toArray(), explicit.toArray(), 0, op.name);
    }
  });
});

test("reshape and permute round-trip", () => {
  prop(
    shapeArb(0, 4).chain((s) => fc.tuple(tensorArb(s), fc.shuffledSubarray([...s.keys()], { minLength: s.length }))),
    ([x, perm]) => {
      const inverse = perm.map((_, i) => perm.indexOf(i));
      const back = T.permute(T.permute(x, perm), inverse);
      assert.deepEqual(back.shape, x.shape);
      assert.deepEqual(back.toArray(), x.toArray());
      const flat = T.reshape(T.permute(x, perm), [-1]); // a copy, as the permuted view is not contiguous
      assert.deepEqual(
        T.permute(
          T.reshape(
            flat,
            perm.map((p) => x.shape[p]),
          ),
          inverse,
        ).toArray(),
        x.toArray(),
      );
      if (x.shape.length >= 2) assert.deepEqual(T.transpose(T.transpose(x)).toArray(), x.toArray());
    },
  );
});

/** Many ties: values from {0, 1, 2, 3}. */
const tiedArb = shapeArb(1, 3, 5).chain((s) =>
  tensorArb(s, (n) => fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n })),
);

test("argsort gives a permutation that sorts, stable on ties (ascending and descending)", () => {
  prop(fc.tuple(tiedArb, fc.boolean()), ([x, descending]) => {
    const ax = x.shape.length - 1;
    const idx = T.argsort(x, ax, { descending });
    const sorted = T.takeAlongAxis(x, idx, ax).toNested() as unknown;
    const rows = (t: unknown): number[][] =>
      Array.isArray(t) && Array.isArray(t[0]) ? (t as unknown[]).flatMap(rows) : [t as number[]];
    const idxRows = rows(idx.toNested());
    rows(sorted).forEach((row, r) => {
      const order = idxRows[r];
      assert.deepEqual(
        [...order].sort((a, b) => a - b),
        [...order.keys()],
        "a permutation",
      );
      for (let i = 1; i < row.length; i++) {
        const [prev, cur] = [row[i - 1], row[i]];
        assert.ok(descending ? prev >= cur : prev <= cur, `sorted: ${row}`);
        if (prev === cur) assert.ok(order[i - 1] < order[i], `stable on ties: ${order}`);
      }
    });
  });
});

test("argsort puts NaN last and sorts -0, ±Infinity", () => {
  const x = T.fromArray([NaN, 3, -Infinity, NaN, Infinity, -1], [6]);
  assert.deepEqual([...T.argsort(x).toArray()], [2, 5, 1, 4, 0, 3]);
  assert.deepEqual([...T.argsort(x, 0, { descending: true }).toArray()], [4, 1, 5, 2, 0, 3]);
});

test("takeAlongAxis with argsort(argsort(x)) undoes a shuffle (the MAE idsRestore)", () => {
  const arb = shapeArb(1, 3, 5).chain((s) =>
    fc.tuple(tensorArb(s), fc.integer({ min: 0, max: s.length - 1 }), fc.integer()),
  );
  prop(arb, ([x, ax, seed]) => {
    const noise = T.random.uniform(T.key(seed), x.shape);
    const idsShuffle = T.argsort(noise, ax);
    const idsRestore = T.argsort(idsShuffle, ax);
    const shuffled = T.takeAlongAxis(x, idsShuffle, ax);
    assert.deepEqual(T.takeAlongAxis(shuffled, idsRestore, ax).toArray(), x.toArray());
  });
});

test("argmax picks the largest value, the first one on ties", () => {
  prop(tiedArb, (x) => {
    const best = T.argmax(x).toArray();
    const lines = x.toArray();
    const n = x.shape.at(-1)!;
    best.forEach((j, r) => {
      const line = [...lines.subarray(r * n, (r + 1) * n)];
      assert.equal(j, line.indexOf(Math.max(...line)));
    });
  });
});

test("softmax rows are positive and sum to 1, shift-invariant", () => {
  const arb = shapeArb(1, 3, 4).chain((s) =>
    fc.tuple(
      tensorArb(s, (n) => valuesArb(n, -30, 30)),
      fc.integer({ min: -s.length, max: s.length - 1 }),
    ),
  );
  prop(arb, ([x, axis]) => {
    const p = T.softmax(x, axis);
    assert.ok(p.toArray().every((v) => v >= 0 && v <= 1));
    assertClose(T.sum(p, axis).toArray(), new Array(T.sum(p, axis).size).fill(1), 1e-5);
    assertClose(T.softmax(T.add(x, 100), axis).toArray(), p.toArray(), 1e-5);
    assertClose(T.exp(T.logSoftmax(x, axis)).toArray(), p.toArray(), 1e-5);
  });
});

test("matmul equals a naive triple loop (with broadcast batch dims)", () => {
  // k >= 1 here: k = 0 under batch dims is the todo test below.
  const arb = fc
    .tuple(
      broadcastPairArb(0, 2),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
    )
    .chain(([[ba, bb], m, k, n]) => fc.tuple(tensorArb([...ba, m, k]), tensorArb([...bb, k, n])));
  prop(arb, ([a, b]) => {
    const c = T.matmul(a, b);
    const batch = c.shape.slice(0, -2);
    const [m, k, n] = [a.shape.at(-2)!, a.shape.at(-1)!, b.shape.at(-1)!];
    const A = T.broadcastTo(a, [...batch, m, k]).toArray();
    const B = T.broadcastTo(b, [...batch, k, n]).toArray();
    const expected: number[] = [];
    for (let t = 0; t < size(batch); t++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) acc += A[t * m * k + i * k + p] * B[t * k * n + p * n + j];
          expected.push(acc);
        }
    assertClose(c.toArray(), expected, 1e-5);
  });
});

test("matmul with k = 0 gives zeros, also when a has batch dims and b has none", () => {
  assert.deepEqual([...T.matmul(T.ones([3, 0]), T.ones([0, 2])).toArray()], new Array(6).fill(0));
  assert.deepEqual([...T.matmul(T.ones([2, 3, 0]), T.ones([0, 2])).toArray()], new Array(12).fill(0));
});

test("matmul of identity and of transposes: I·a = a, (ab)ᵀ = bᵀaᵀ", () => {
  prop(
    fc
      .tuple(shapeArb(2, 2, 4), fc.integer({ min: 1, max: 4 }))
      .chain(([[m, k], n]) => fc.tuple(tensorArb([m, k]), tensorArb([k, n]))),
    ([a, b]) => {
      assertClose(T.matmul(T.eye(a.shape[0]), a).toArray(), a.toArray(), 0);
      assertClose(T.transpose(T.matmul(a, b)).toArray(), T.matmul(T.transpose(b), T.transpose(a)).toArray(), 1e-5);
    },
  );
});

test("sum over all axes equals the sum of partial sums, in any grouping", () => {
  prop(
    shapeArb(0, 4).chain((s) => fc.tuple(tensorArb(s), axesArb(s.length))),
    ([x, axes]) => {
      const total = T.sum(x).item();
      assertClose([T.sum(T.sum(x, axes)).item()], [total], 1e-5);
      assertClose([T.sum(T.sum(x, axes, { keepdims: true })).item()], [total], 1e-5);
      assertClose([T.mean(x).item() * x.size], [total], 1e-5);
      assert.deepEqual(T.sum(x, axes, { keepdims: true }).shape.length, x.shape.length);
    },
  );
});

test("variance: unbiased = biased · n/(n-1), and var(x) = mean(x²) - mean(x)²", () => {
  prop(
    shapeArb(1, 3, 4, 2).chain((s) => fc.tuple(tensorArb(s), fc.integer({ min: 0, max: s.length - 1 }))),
    ([x, ax]) => {
      const n = x.shape[ax];
      const biased = T.variance(x, ax);
      assertClose(T.variance(x, ax, { unbiased: true }).toArray(), T.mul(biased, n / (n - 1)).toArray(), 1e-5);
      assertClose(biased.toArray(), T.sub(T.mean(T.square(x), ax), T.square(T.mean(x, ax))).toArray(), 1e-4);
      assert.ok(biased.toArray().every((v) => v >= 0));
    },
  );
});

test("views share storage: slice, permute, transpose, broadcastTo, reshape of contiguous, expandDims, squeeze, split", () => {
  const x = T.reshape(T.arange(24), [2, 3, 4]);
  const views = [
    T.slice(x, [null, { start: 2, stop: 0, step: -1 }]),
    T.permute(x, [2, 0, 1]),
    T.transpose(x),
    T.broadcastTo(x, [5, 2, 3, 4]),
    T.reshape(x, [6, 4]),
    T.expandDims(x, 1),
    T.squeeze(T.expandDims(x, 0)),
    ...T.split(x, 2, 2),
    T.slice(T.permute(x, [1, 0, 2]), [{ step: 2 }]),
  ];
  for (const v of views) assert.equal(v.storage, x.storage, `${v} should be a view`);
  assert.deepEqual(T.slice(x, [null, { start: 2, stop: 0, step: -1 }]).toNested(), [
    [
      [8, 9, 10, 11],
      [4, 5, 6, 7],
    ],
    [
      [20, 21, 22, 23],
      [16, 17, 18, 19],
    ],
  ]);
  assert.notEqual(T.reshape(T.permute(x, [2, 0, 1]), [-1]).storage, x.storage); // a non-contiguous reshape copies
});

test("broadcastTo broadcasts a size-1 dim whose stride is already 0 (a slice of a broadcast view)", () => {
  const row = T.slice(T.broadcastTo(T.arange(4), [3, 4]), [{ stop: 1 }]); // shape [1, 4], strides [0, 1]
  assert.deepEqual(T.broadcastTo(row, [2, 4]).toNested(), [
    [0, 1, 2, 3],
    [0, 1, 2, 3],
  ]);
  assert.deepEqual(T.add(row, T.zeros([2, 1])).shape, [2, 4]);
  assert.deepEqual(T.matmul(T.zeros([1, 1, 0]), T.zeros([2, 0, 1])).toArray(), new Float32Array(2));
});

test("toArray returns a copy: writing into it changes nothing", () => {
  const x = T.arange(4);
  x.toArray()[0] = 99;
  assert.equal(x.toArray()[0], 0);
  assert.ok(Object.isFrozen(x.shape));
});

/** Everything in a tensor's storage, reached or not. */
const storageValues = (t: T.Tensor) =>
  t.backend.readSync({ storage: t.storage, shape: [t.storage.size], strides: [1], offset: 0 });

/** Every op (forward and backward) leaves its inputs' storage unchanged. */
test("ops and their VJPs never write into their inputs' buffers", () => {
  const arb = fc.tuple(shapeArb(2, 3, 3, 2), valuesArb(2));
  prop(
    arb.chain(([s]) => fc.tuple(tensorArb(s), tensorArb([s.at(-1)!]), tensorArb(s))),
    ([x, row, y]) => {
      const inputs = [x, row, y];
      const before = inputs.map(storageValues);
      const index = T.argsort(y, -1);
      const f = (a: T.Tensor, r: T.Tensor, b: T.Tensor) => {
        const parts = [
          T.add(a, r),
          T.mul(T.slice(a, [{ step: -1 }]), b),
          T.maximum(a, b),
          T.softmax(a),
          T.layerNorm(a, r, r, 1e-5),
          T.gelu(b),
          T.matmul(a, T.transpose(b)),
          T.takeAlongAxis(a, index, -1),
          T.scatterAdd(a, index, b, -1),
          T.concat([a, b]),
          T.variance(a, 0),
          T.max(b, -1),
          T.where(T.greater(a, 0), a, b),
          T.reshape(T.permute(a, [...a.shape.keys()].reverse()), [-1]),
          T.stack([a, b]),
        ];
        return parts.reduce((acc: T.Tensor, p) => T.add(acc, T.sum(p)), T.scalar(0));
      };
      valueAndGrad(f, { argnums: [0, 1, 2] })(x, row, y);
      inputs.forEach((t, i) => assert.deepEqual(storageValues(t), before[i], `input ${i} was written`));
    },
  );
});
