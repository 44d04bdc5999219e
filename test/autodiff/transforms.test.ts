// grad, valueAndGrad and vjp as function transforms: pytrees, closures, argnums, aux outputs,
// stopGradient, cotangents, unreachable leaves, and outputs cut from the graph.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { grad, leaves, stopGradient, valueAndGrad, vjp } from "../../src/autodiff/index.ts";
import { assertClose, shapeArb, tensorArb } from "../helpers/tensors.ts";

const v = (...xs: number[]) => T.fromArray(xs, [xs.length]);
const vals = (t: T.Tensor) => [...t.toArray()];

test("grad over a pytree of nested records and arrays mirrors its structure", () => {
  const params = {
    layers: [
      { w: v(1, 2), b: v(3) },
      { w: v(-1, 0.5), b: v(0) },
    ],
    scale: T.scalar(2),
    name: "mlp",
    depth: 2,
  };
  // f = scale · Σ_l (Σ w_l² + 3·b_l)
  const f = (p: typeof params) =>
    T.mul(
      p.scale,
      p.layers.reduce((acc: T.Tensor, l) => T.add(acc, T.add(T.sum(T.square(l.w)), T.sum(T.mul(l.b, 3)))), T.scalar(0)),
    );
  const g = grad(f)(params) as typeof params;
  assert.deepEqual(Object.keys(g), Object.keys(params));
  assert.equal(g.name, "mlp"); // non-tensor leaves ride along unchanged
  assert.equal(g.depth, 2);
  assert.deepEqual(vals(g.layers[0].w), [4, 8]); // 2·scale·w
  assert.deepEqual(vals(g.layers[1].w), [-4, 2]);
  assert.deepEqual(vals(g.layers[0].b), [6]);
  assert.deepEqual(vals(g.scale), [1 + 4 + 9 + (1 + 0.25 + 0)]);
  assert.deepEqual(g.scale.shape, []);
});

test("valueAndGrad returns the value and the gradient; a tensor used twice gets both contributions", () => {
  const x = v(1, -2, 3);
  const [value, g] = valueAndGrad((t: T.Tensor) => T.sum(T.add(T.mul(t, t), t)))(x);
  assert.equal(value.item(), 1 + 1 + 4 - 2 + 9 + 3);
  assert.deepEqual(vals(g), [3, -3, 7]); // 2x + 1: fan-out adds
  // The same tensor at two places of a tree is two leaves with their own gradients.
  const gs = grad((p: { a: T.Tensor; b: T.Tensor }) => T.sum(T.mul(p.a, T.exp(p.b))))({ a: x, b: x }) as {
    a: T.Tensor;
    b: T.Tensor;
  };
  assertClose(gs.a.toArray(), [Math.exp(1), Math.exp(-2), Math.exp(3)], 1e-6);
  assertClose(gs.b.toArray(), [Math.exp(1), -2 * Math.exp(-2), 3 * Math.exp(3)], 1e-6);
});

test("captured tensors are constants: no gradient for them, and they are left untraced", () => {
  const k = v(2, 3, 4);
  const f = (x: T.Tensor) => T.sum(T.mul(T.mul(x, k), k));
  assert.deepEqual(vals(grad(f)(v(1, 1, 1))), [4, 9, 16]);
  assert.equal(k.node, undefined);
  // A traced argument captured by an inner closure is still traced.
  const g = grad((x: T.Tensor) => [1, 2].map((c) => T.sum(T.mul(x, c))).reduce((a, b) => T.add(a, b)))(v(5, 6));
  assert.deepEqual(vals(g), [3, 3]);
});

test("argnums: one index gives one gradient tree, a list gives a tuple, others get none", () => {
  const f = (a: T.Tensor, b: { u: T.Tensor }, c: T.Tensor) => T.sum(T.mul(T.mul(a, b.u), c));
  const [a, b, c] = [v(2), { u: v(3) }, v(5)];
  assert.deepEqual(vals(grad(f)(a, b, c)), [15]);
  const gb = grad(f, { argnums: 1 })(a, b, c) as { u: T.Tensor };
  assert.deepEqual(vals(gb.u), [10]);
  const both = grad(f, { argnums: [0, 2] })(a, b, c) as T.Tensor[];
  assert.equal(both.length, 2);
  assert.deepEqual([vals(both[0]), vals(both[1])], [[15], [6]]);
  const single = grad(f, { argnums: [1] })(a, b, c) as [{ u: T.Tensor }];
  assert.deepEqual(vals(single[0].u), [10]);
});

test("hasAux: the aux output passes through, undifferentiated and untraced", () => {
  const f = (x: T.Tensor) => [T.sum(T.square(x)), { pred: T.mul(x, 2), label: "train" }] as const;
  const [value, g, aux] = valueAndGrad(f, { hasAux: true })(v(1, 2));
  assert.equal(value.item(), 5);
  assert.deepEqual(vals(g), [2, 4]);
  assert.deepEqual(vals(aux.pred), [2, 4]);
  assert.equal(aux.label, "train");
  assert.equal(aux.pred.node, undefined);
  const [g2, aux2] = grad(f, { hasAux: true })(v(3));
  assert.deepEqual([vals(g2), vals(aux2.pred)], [[6], [6]]);
});

test("stopGradient blocks the gradient (x·sg(x) has derivative x, not 2x)", () => {
  const x = v(1.5, -2);
  assert.deepEqual(vals(grad((t: T.Tensor) => T.sum(T.mul(t, stopGradient(t))))(x)), [1.5, -2]);
  assert.deepEqual(vals(grad((t: T.Tensor) => T.sum(stopGradient(T.exp(t))))(x)), [0, 0]);
  assert.equal(stopGradient(x), x); // an untraced tensor is returned as is
});

test("f must return a scalar (one element); a [1, 1] tensor counts", () => {
  assert.throws(
    () => grad((t: T.Tensor) => T.mul(t, 2))(v(1, 2)),
    (e: Error) => e instanceof TypeError && /scalar/.test(e.message) && e.message.includes("[2]"),
  );
  assert.deepEqual(vals(grad((t: T.Tensor) => T.reshape(T.sum(t), [1, 1]))(v(1, 2))), [1, 1]);
  assert.deepEqual(vals(grad((t: T.Tensor) => t)(T.scalar(4))), [1]); // the output may be the leaf itself
});

test("unreachable leaves get zeros of their shape", () => {
  const g = grad((p: { used: T.Tensor; unused: T.Tensor[] }) => T.sum(p.used))({
    used: v(1, 2),
    unused: [T.ones([2, 3])],
  }) as { used: T.Tensor; unused: T.Tensor[] };
  assert.deepEqual(vals(g.used), [1, 1]);
  assert.deepEqual(g.unused[0].shape, [2, 3]);
  assert.deepEqual(vals(g.unused[0]), [0, 0, 0, 0, 0, 0]);
  const constant = grad((_x: T.Tensor) => T.scalar(7))(v(1, 2));
  assert.deepEqual(vals(constant), [0, 0]);
  // Cut by a comparison: no gradient flows through `greater`.
  assert.deepEqual(vals(grad((t: T.Tensor) => T.sum(T.greater(t, 0)))(v(1, -1))), [0, 0]);
});

test("vjp with a random cotangent equals the gradient of Σ out·ct", () => {
  const arb = shapeArb(1, 3).chain((s) =>
    fc.tuple(tensorArb(s), tensorArb([s.at(-1)!, 2]), tensorArb([...s.slice(0, -1), 2])),
  );
  fc.assert(
    fc.property(arb, ([x, w, ct]) => {
      const f = (t: T.Tensor) => T.tanh(T.matmul(T.expandDims(t, -2), w)); // [..., 1, 2]
      const [out, pullback] = vjp(f, x);
      const ct3 = T.reshape(ct, out.shape);
      const [viaVjp] = pullback(ct3);
      const viaGrad = grad((t: T.Tensor) => T.sum(T.mul(f(t), ct3)))(x) as T.Tensor;
      assertClose(viaVjp.toArray(), viaGrad.toArray(), 1e-5);
      assertClose(out.toArray(), f(x).toArray(), 0);
      assert.equal(out.node, undefined);
    }),
    { numRuns: 40, includeErrorInReport: true },
  );
});

test("vjp over pytree inputs and outputs, and a reusable pullback", () => {
  const f = (p: { a: T.Tensor; b: T.Tensor }, c: T.Tensor) => ({ sum: T.add(p.a, p.b), prod: [T.mul(p.a, c)] });
  const [out, pullback] = vjp(f, { a: v(1, 2), b: v(3, 4) }, v(5, 6));
  assert.deepEqual(vals(out.sum), [4, 6]);
  const [gp, gc] = pullback({ sum: v(1, 10), prod: [v(100, 1000)] });
  assert.deepEqual(vals(gp.a), [501, 6010]); // ct_sum + ct_prod·c
  assert.deepEqual(vals(gp.b), [1, 10]);
  assert.deepEqual(vals(gc), [100, 2000]);
  const [, gc2] = pullback({ sum: v(0, 0), prod: [v(1, 1)] }); // the pullback can be called again
  assert.deepEqual(vals(gc2), [1, 2]);
});

test("results are cut from the graph: values and gradients carry no trace", () => {
  const f = (p: { w: T.Tensor }) => T.sum(T.softmax(p.w));
  const [value, g] = valueAndGrad(f)({ w: v(1, 2, 3) });
  for (const t of [value, ...leaves(g)]) assert.equal(t.node, undefined);
  assertClose(g.w.toArray(), [0, 0, 0], 1e-6); // Σ softmax = 1 whatever w is
  assert.equal(g.w.dtype, "float32");
});

test("an error inside f leaves no trace open: later ops do not record", () => {
  const x = v(1);
  assert.throws(
    () =>
      grad((_x: T.Tensor): T.Tensor => {
        throw new Error("boom");
      })(x),
    /boom/,
  );
  const [, pullback] = vjp((t: T.Tensor) => T.exp(t), x);
  assert.equal(T.exp(x).node, undefined);
  assertClose(pullback(v(1))[0].toArray(), [Math.E], 1e-6);
});
