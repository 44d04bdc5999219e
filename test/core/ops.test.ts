// The op table: every differentiable op's VJP against float64 central differences on random shapes
// (broadcasting and size-1 dims included), then forward values at 0, ±Infinity, NaN and size-0 dims.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { checkGrads } from "../../src/autodiff/index.ts";
import {
  assertClose,
  awayFromZeroArb,
  axesArb,
  broadcastPairArb,
  distinctArb,
  latticeArb,
  shapeArb,
  size,
  tensorArb,
  throwsShape,
  valuesArb,
  weights,
} from "../helpers/tensors.ts";

type Fn = (...xs: T.Tensor[]) => T.Tensor;
/** One draw: the differentiated arguments and the function of them (constants such as indices are captured). */
interface Draw {
  args: T.Tensor[];
  f: Fn;
  note?: string;
}
interface OpRow {
  name: string;
  arity: number;
  draw: fc.Arbitrary<Draw>;
}
type Values = (n: number) => fc.Arbitrary<number[]>;

const positive: Values = (n) => valuesArb(n, 0.2, 3);
const nonZero: Values = (n) => awayFromZeroArb(n, 0.5, 2);

const unary = (name: string, f: Fn, values: Values = valuesArb): OpRow => ({
  name,
  arity: 1,
  draw: shapeArb()
    .chain((s) => tensorArb(s, values))
    .map((x) => ({ args: [x], f })),
});

const binary = (name: string, f: Fn, va: Values = valuesArb, vb: Values = valuesArb): OpRow => ({
  name,
  arity: 2,
  draw: broadcastPairArb()
    .chain(([sa, sb]) => fc.tuple(tensorArb(sa, va), tensorArb(sb, vb)))
    .map(([a, b]) => ({ args: [a, b], f })),
});

/** A reduction over random axes, with and without keepdims. */
const reduction = (
  name: string,
  op: (x: T.Tensor, axes: number | number[] | undefined, o: T.VarOptions) => T.Tensor,
  values: Values = valuesArb,
  minDim = 1,
): OpRow => ({
  name,
  arity: 1,
  draw: shapeArb(0, 3, 3, minDim)
    .chain((s) =>
      fc.record({ x: tensorArb(s, values), axes: axesArb(s.length), keepdims: fc.boolean(), unbiased: fc.boolean() }),
    )
    .map(({ x, axes, keepdims, unbiased }) => ({
      args: [x],
      f: (t) => op(t, axes, { keepdims, unbiased }),
      note: `axes ${JSON.stringify(axes)} keepdims ${keepdims} unbiased ${unbiased}`,
    })),
});

/** An op along one random axis of a rank >= 1 tensor. */
const alongAxis = (name: string, op: (x: T.Tensor, axis: number) => T.Tensor, minDim = 1): OpRow => ({
  name,
  arity: 1,
  draw: shapeArb(1, 3, 3, minDim)
    .chain((s) => fc.tuple(tensorArb(s), fc.integer({ min: -s.length, max: s.length - 1 })))
    .map(([x, axis]) => ({ args: [x], f: (t) => op(t, axis), note: `axis ${axis}` })),
});

const permutationOf = (n: number): fc.Arbitrary<number[]> =>
  fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });
const sliceSpec = fc.record({
  start: fc.option(fc.integer({ min: -4, max: 4 }), { nil: undefined }),
  stop: fc.option(fc.integer({ min: -4, max: 4 }), { nil: undefined }),
  step: fc.option(
    fc.integer({ min: -3, max: 3 }).filter((k) => k !== 0),
    { nil: undefined },
  ),
});
/** Sizes that add up to n (zero-size parts included). */
const compositionOf = (n: number): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 0, max: n }), { maxLength: 3 }).map((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), n];
    return points.slice(1).map((p, i) => p - points[i]);
  });
/** Integer indices in [0, n) carried as a float tensor of the given shape (repeats included). */
const indexArb = (shape: number[], n: number) =>
  fc
    .array(fc.integer({ min: 0, max: n - 1 }), { minLength: size(shape), maxLength: size(shape) })
    .map((v) => T.fromArray(v, shape));
/** [x of shape s, axis, index shape: s with `m` on the axis]. */
const gatherArb = shapeArb(1, 3).chain((s) =>
  fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), fc.integer({ min: 1, max: 3 })).chain(([axis, m]) => {
    const is = s.map((d, i) => (i === axis ? m : d));
    return fc.record({ x: tensorArb(s), axis: fc.constant(axis), index: indexArb(is, s[axis]), src: tensorArb(is) });
  }),
);

const OPS: OpRow[] = [
  // name, arity, domain
  binary("add", (a, b) => T.add(a, b)),
  binary("sub", (a, b) => T.sub(a, b)),
  binary("mul", (a, b) => T.mul(a, b)),
  binary("div", (a, b) => T.div(a, b), valuesArb, nonZero),
  binary(
    "pow",
    (a, b) => T.pow(a, b),
    (n) => valuesArb(n, 0.5, 2),
    valuesArb,
  ),
  binary(
    "maximum",
    (a, b) => T.maximum(a, b),
    (n) => latticeArb(n, 0),
    (n) => latticeArb(n, 1),
  ),
  binary(
    "minimum",
    (a, b) => T.minimum(a, b),
    (n) => latticeArb(n, 0),
    (n) => latticeArb(n, 1),
  ),
  unary("neg", T.neg),
  unary("exp", T.exp),
  unary("log", T.log, positive),
  unary("sqrt", T.sqrt, positive),
  unary("rsqrt", T.rsqrt, positive),
  unary("abs", T.abs, awayFromZeroArb),
  unary("tanh", T.tanh),
  unary("erf", T.erf),
  unary("sigmoid", T.sigmoid),
  unary("relu", T.relu, awayFromZeroArb),
  unary("sin", T.sin),
  unary("cos", T.cos),
  unary("square", T.square),
  unary("gelu", T.gelu),
  unary("geluTanh", T.geluTanh),
  unary("geluFast", T.geluFast),
  unary("selu", T.selu, awayFromZeroArb),
  unary("silu", T.silu),
  unary("quickGelu", T.quickGelu),
  unary("leakyRelu", (x) => T.leakyRelu(x, 0.1), awayFromZeroArb),
  {
    name: "where",
    arity: 2,
    draw: broadcastPairArb()
      .chain(([sa, sb]) =>
        fc.record({
          a: tensorArb(sa),
          b: tensorArb(sb),
          cond: tensorArb(T.broadcastShapes("where", sa, sb), (n) =>
            fc.array(fc.constantFrom(0, 1), { minLength: n, maxLength: n }),
          ),
        }),
      )
      .map(({ a, b, cond }) => ({ args: [a, b], f: (x, y) => T.where(cond, x, y) })),
  },
  reduction("sum", (x, axes, o) => T.sum(x, axes, o)),
  reduction("mean", (x, axes, o) => T.mean(x, axes, o)),
  reduction("max", (x, axes, o) => T.max(x, axes, o), distinctArb),
  reduction("min", (x, axes, o) => T.min(x, axes, o), distinctArb),
  // Bessel's n - 1 only where at least 2 elements are reduced (else it divides by 0).
  reduction(
    "variance",
    (x, axes, o) => T.variance(x, axes, { ...o, unbiased: o.unbiased && T.sum(x, axes).size < x.size }),
    valuesArb,
    2,
  ),
  {
    name: "matmul",
    arity: 2,
    draw: fc
      .tuple(
        broadcastPairArb(0, 2),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
      )
      .chain(([[ba, bb], m, k, n]) => fc.tuple(tensorArb([...ba, m, k]), tensorArb([...bb, k, n])))
      .map(([a, b]) => ({ args: [a, b], f: (x, y) => T.matmul(x, y) })),
  },
  {
    name: "reshape",
    arity: 1, // also of a permuted (non-contiguous) input, which reshape must copy
    draw: shapeArb()
      .chain((s) =>
        fc.record({
          x: tensorArb(s),
          perm: permutationOf(s.length),
          target: fc.constantFrom([-1], [...s].reverse(), [1, -1], [-1, 1]),
        }),
      )
      .map(({ x, perm, target }) => ({ args: [x], f: (t) => T.reshape(T.permute(t, perm), target) })),
  },
  {
    name: "permute",
    arity: 1,
    draw: shapeArb()
      .chain((s) => fc.tuple(tensorArb(s), permutationOf(s.length)))
      .map(([x, perm]) => ({ args: [x], f: (t) => T.permute(t, perm) })),
  },
  {
    name: "transpose",
    arity: 1,
    draw: shapeArb(2, 3)
      .chain((s) =>
        fc.tuple(
          tensorArb(s),
          fc.integer({ min: -s.length, max: s.length - 1 }),
          fc.integer({ min: -s.length, max: s.length - 1 }),
        ),
      )
      .map(([x, a, b]) => ({ args: [x], f: (t) => T.transpose(t, a, b) })),
  },
  {
    name: "expandDims",
    arity: 1,
    draw: shapeArb()
      .chain((s) => fc.tuple(tensorArb(s), fc.integer({ min: -s.length - 1, max: s.length })))
      .map(([x, axis]) => ({ args: [x], f: (t) => T.expandDims(t, axis) })),
  },
  {
    name: "squeeze",
    arity: 1,
    draw: shapeArb(0, 4, 2)
      .chain((s) =>
        fc.tuple(tensorArb(s), fc.option(fc.subarray(s.flatMap((d, i) => (d === 1 ? [i] : []))), { nil: undefined })),
      )
      .map(([x, axes]) => ({ args: [x], f: (t) => T.squeeze(t, axes) })),
  },
  {
    name: "broadcastTo",
    arity: 1,
    draw: broadcastPairArb().chain(([s]) =>
      fc.tuple(tensorArb(s), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 })).map(([x, lead]) => {
        const target = [...lead, ...s.map((d, i) => (d === 1 ? 1 + (i % 3) : d))];
        return { args: [x], f: (t: T.Tensor) => T.broadcastTo(t, target) };
      }),
    ),
  },
  {
    name: "slice",
    arity: 1, // steps, negative steps, out-of-range and empty ranges
    draw: shapeArb(1, 3, 4)
      .chain((s) => fc.tuple(tensorArb(s), fc.array(fc.option(sliceSpec, { nil: null }), { maxLength: s.length })))
      .map(([x, specs]) => ({ args: [x], f: (t) => T.slice(t, specs), note: JSON.stringify(specs) })),
  },
  {
    name: "concat",
    arity: 3,
    draw: shapeArb(1, 3).chain((s) =>
      fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
        fc
          .array(
            fc.integer({ min: 0, max: 3 }).chain((d) => tensorArb(s.map((n, i) => (i === axis ? d : n)))),
            { minLength: 3, maxLength: 3 },
          )
          .map((xs) => ({ args: xs, f: (...ts: T.Tensor[]) => T.concat(ts, axis) })),
      ),
    ),
  },
  {
    name: "stack",
    arity: 2,
    draw: shapeArb()
      .chain((s) => fc.tuple(tensorArb(s), tensorArb(s), fc.integer({ min: -s.length - 1, max: s.length })))
      .map(([a, b, axis]) => ({ args: [a, b], f: (x, y) => T.stack([x, y], axis) })),
  },
  {
    name: "split",
    arity: 1, // parts weighted differently, then joined again
    draw: shapeArb(1, 3, 4)
      .chain((s) =>
        fc
          .integer({ min: 0, max: s.length - 1 })
          .chain((axis) => fc.tuple(tensorArb(s), fc.constant(axis), compositionOf(s[axis]))),
      )
      .map(([x, axis, sizes]) => ({
        args: [x],
        f: (t) =>
          T.concat(
            T.split(t, sizes, axis).map((p, i) => T.mul(p, i + 1)),
            axis,
          ),
      })),
  },
  {
    name: "takeAlongAxis",
    arity: 1,
    draw: gatherArb.map(({ x, axis, index }) => ({ args: [x], f: (t) => T.takeAlongAxis(t, index, axis) })),
  },
  {
    name: "take",
    arity: 1,
    draw: shapeArb(1, 3).chain((s) =>
      fc
        .tuple(tensorArb(s), fc.integer({ min: -s.length, max: s.length - 1 }))
        .chain(([x, axis]) =>
          fc
            .array(fc.integer({ min: 0, max: s.at(axis)! - 1 }), { maxLength: 4 })
            .map((idx) => ({ args: [x], f: (t: T.Tensor) => T.take(t, idx, axis) })),
        ),
    ),
  },
  {
    name: "scatterAdd",
    arity: 2,
    draw: gatherArb.map(({ x, axis, index, src }) => ({
      args: [x, src],
      f: (b, v) => T.scatterAdd(b, index, v, axis),
    })),
  },
  alongAxis("softmax", (x, axis) => T.softmax(x, axis)),
  alongAxis("logSoftmax", (x, axis) => T.logSoftmax(x, axis)),
  alongAxis("logSumExp", (x, axis) => T.logSumExp(x, axis, axis % 2 === 0)),
  {
    name: "layerNorm",
    arity: 3,
    draw: shapeArb(1, 3, 3, 2)
      .chain((s) => fc.tuple(tensorArb(s), tensorArb([s.at(-1)!]), tensorArb([s.at(-1)!])))
      .map(([x, w, b]) => ({ args: [x, w, b], f: (t, wt, bt) => T.layerNorm(t, wt, bt, 1e-5) })),
  },
];

// Each output is weighted by fixed, varied numbers, so the cotangent is not all ones.
const weighted =
  (f: Fn): Fn =>
  (...xs) => {
    const y = f(...xs);
    return T.sum(T.mul(y, T.fromArray(weights(y.size), y.shape)));
  };

for (const row of OPS) {
  test(`VJP of ${row.name} agrees with finite differences`, () => {
    fc.assert(
      fc.property(row.draw, ({ args, f, note }) => {
        assert.equal(
          args.length,
          row.arity,
          `${row.name}: the draw gives ${args.length} arguments, the table says ${row.arity}`,
        );
        const r = checkGrads(weighted(f), args);
        assert.ok(
          r.ok,
          `${row.name} ${args.map((a) => T.fmt(a.shape)).join(" ")} ${note ?? ""}: ${JSON.stringify(r.worst)}`,
        );
      }),
      { numRuns: 30, includeErrorInReport: true },
    );
  });

  // Every VJP is itself differentiable: H·v (reverse over reverse) against differences of ⟨∇f, v⟩.
  test(`second derivatives of ${row.name} agree with finite differences of the first`, () => {
    fc.assert(
      fc.property(row.draw, fc.nat(1000), ({ args, f, note }, seed) => {
        const r = checkGrads(weighted(f), args, { order: 2, seed, atol: 1e-5, rtol: 1e-4 });
        assert.ok(
          r.ok,
          `${row.name} ${args.map((a) => T.fmt(a.shape)).join(" ")} ${note ?? ""}: ${JSON.stringify(r.worst)}`,
        );
      }),
      { numRuns: 10, includeErrorInReport: true },
    );
  });
}

// ---- Forward values at the edges: 0, ±Infinity, NaN ----

const EDGE = [0, Infinity, -Infinity, NaN];
const EDGE_CASES: [string, (x: T.Tensor) => T.Tensor, number[]][] = [
  // op, f, f at [0, +inf, -inf, NaN]
  ["neg", T.neg, [-0, -Infinity, Infinity, NaN]],
  ["exp", T.exp, [1, Infinity, 0, NaN]],
  ["log", T.log, [-Infinity, Infinity, NaN, NaN]],
  ["sqrt", T.sqrt, [0, Infinity, NaN, NaN]],
  ["rsqrt", T.rsqrt, [Infinity, 0, NaN, NaN]],
  ["abs", T.abs, [0, Infinity, Infinity, NaN]],
  ["tanh", T.tanh, [0, 1, -1, NaN]],
  ["erf", T.erf, [0, 1, -1, NaN]],
  ["sigmoid", T.sigmoid, [0.5, 1, 0, NaN]],
  ["relu", T.relu, [0, Infinity, 0, NaN]],
  ["sin", T.sin, [0, NaN, NaN, NaN]],
  ["cos", T.cos, [1, NaN, NaN, NaN]],
  ["sign", T.sign, [0, 1, -1, NaN]],
  ["maximum(x, 0)", (x) => T.maximum(x, 0), [0, Infinity, 0, NaN]],
  ["minimum(x, 0)", (x) => T.minimum(x, 0), [0, 0, -Infinity, NaN]],
  ["gelu", T.gelu, [0, Infinity, NaN, NaN]], // -inf: ½x(1 + erf) is -inf·0 = NaN, as in torch
  ["geluTanh", T.geluTanh, [0, Infinity, NaN, NaN]],
  ["silu", T.silu, [0, Infinity, NaN, NaN]],
  ["selu", T.selu, [0, Infinity, -1.0507009873554805 * 1.6732632423543772, NaN]],
];

for (const [name, f, expected] of EDGE_CASES) {
  test(`${name} at 0, ±Infinity and NaN`, () => {
    assertClose(f(T.fromArray(EDGE, [4])).toArray(), expected, 1e-6, name);
  });
}

test("reductions and normalisers at ±Infinity and NaN", () => {
  const v = (xs: number[]) => T.fromArray(xs, [xs.length]);
  assert.equal(T.max(v([1, Infinity, 2])).item(), Infinity);
  assert.equal(T.min(v([1, -Infinity, 2])).item(), -Infinity);
  assert.ok(Number.isNaN(T.max(v([1, NaN, 2])).item()), "max propagates NaN");
  assert.ok(Number.isNaN(T.min(v([NaN, 1, 2])).item()), "min propagates NaN");
  assert.ok(Number.isNaN(T.sum(v([Infinity, -Infinity])).item()));
  assertClose(T.softmax(v([0, -Infinity, 0])).toArray(), [0.5, 0, 0.5]); // a masked position gets 0
  assert.equal(T.logSumExp(v([-Infinity, -Infinity])).item(), -Infinity); // an all-masked row, as torch.logsumexp
  assert.equal(T.logSumExp(v([Infinity, 0])).item(), Infinity);
  assertClose(T.logSumExp(v([1000, 1000])).toArray(), [1000 + Math.LN2], 1e-6); // no overflow
  assertClose(T.logSoftmax(v([-1000, 0])).toArray(), [-1000, 0], 1e-6);
});

// ---- Size-0 dims ----

test("size-0 dims: sums are 0, max/min throw a ShapeError, other ops keep the empty shape", () => {
  const e = T.zeros([2, 0, 3]);
  assert.deepEqual([...T.sum(e, 1).toArray()], [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(T.sum(e, 1).shape, [2, 3]);
  assert.equal(T.sum(T.zeros([0])).item(), 0);
  assert.deepEqual(T.sum(e, [0, 2]).shape, [0]);
  throwsShape(() => T.max(e, 1), "max", "empty axis", "[2, 0, 3]");
  throwsShape(() => T.min(e), "min", "empty axis");
  assert.deepEqual(T.max(e, 2).shape, [2, 0]); // reducing a non-empty axis of an empty tensor is fine
  for (const f of [
    T.exp,
    T.neg,
    T.relu,
    T.gelu,
    (x: T.Tensor) => T.softmax(x, 2),
    (x: T.Tensor) => T.add(x, T.ones([3])),
  ]) {
    assert.deepEqual(f(e).shape, [2, 0, 3]);
  }
  assert.deepEqual([...T.matmul(T.zeros([2, 0]), T.zeros([0, 3])).toArray()], [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(T.matmul(T.zeros([0, 4]), T.zeros([4, 3])).shape, [0, 3]);
  assert.deepEqual(T.concat([T.zeros([0, 2]), T.ones([1, 2])]).toNested(), [[1, 1]]);
  assert.deepEqual(T.slice(T.arange(4), [{ start: 3, stop: 1 }]).shape, [0]);
  assert.deepEqual(T.argsort(T.zeros([2, 0])).shape, [2, 0]);
  assert.deepEqual(T.reshape(e, [3, 0, 2]).shape, [3, 0, 2]);
  throwsShape(() => T.reshape(e, [0, -1]), "reshape", "[2, 0, 3]", "[0, -1]"); // -1 is ambiguous with 0 elements
  assert.deepEqual(T.broadcastTo(T.ones([1, 3]), [0, 3]).shape, [0, 3]);
  throwsShape(() => T.argmax(T.zeros([2, 0])), "argmax", "empty axis");
});

test("softmax along an empty axis gives an empty result, as torch's", () => {
  assert.deepEqual(T.softmax(T.zeros([2, 0]), -1).shape, [2, 0]);
  assert.deepEqual(T.softmax(T.zeros([0, 3]), 0).shape, [0, 3]);
});

test("gradients through size-0 dims are empty or zero", () => {
  assert.equal(checkGrads((x) => T.sum(T.exp(x)), [T.zeros([2, 0])]).ok, true);
  assert.equal(checkGrads((x, y) => T.sum(T.matmul(x, y)), [T.ones([2, 0]), T.ones([0, 3])]).ok, true);
  assert.equal(checkGrads((x) => T.sum(T.concat([T.slice(x, [{ start: 2, stop: 0 }]), x])), [T.arange(3)]).ok, true);
});
