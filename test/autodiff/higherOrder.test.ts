// Transforms compose: grad of grad, grad through vjp and valueAndGrad, forward mode (jvp) and
// Hessian-vector products — with no perturbation confusion — and a gradient penalty through the
// whole MAE forward pass checked against finite differences.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import type { Tensor } from "../../src/core/index.ts";
import { checkGrads, grad, hvp, jvp, valueAndGrad, vjp } from "../../src/autodiff/index.ts";
import { forward, loadPreTraining, namedParameters, parametersFromNamed } from "../../src/mae/index.ts";
import { loadReferenceCase, values } from "../helpers/reference.ts";
import { valuesArb } from "../helpers/tensors.ts";

const vec = (xs: number[]) => T.fromArray(xs, [xs.length]);
const near = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++)
    assert.ok(
      Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])),
      `${what}[${i}]: ${got[i]} vs ${want[i]}`,
    );
};

test("grad(grad(f)): for f(u) = Σu³, the gradient of x ↦ Σ ∇f(x) is 6x", () => {
  const f = (u: Tensor) => T.sum(T.pow(u, 3));
  const g = (x: Tensor) => T.sum(grad(f)(x));
  assert.deepEqual([...grad(g)(vec([1, 2, 3])).toArray()], [6, 12, 18]);
});

test("tanh's second derivative is -2·tanh·(1 - tanh²), not zero", () => {
  fc.assert(
    fc.property(valuesArb(4, -2, 2), (xs) => {
      const d2 = grad((x: Tensor) => T.sum(grad((y: Tensor) => T.sum(T.tanh(y)))(x)))(vec(xs)).toArray();
      near(
        d2,
        xs.map((x) => -2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2)),
        1e-5,
        "tanh''",
      );
    }),
  );
});

test("no perturbation confusion: d/dx [x · d/dy (x + y)] = 1", () => {
  const outer = (x: Tensor) => T.sum(T.mul(x, grad((y: Tensor) => T.sum(T.add(x, y)))(vec([0.5]))));
  assert.deepEqual([...grad(outer)(vec([3])).toArray()], [1]);
  // And through valueAndGrad and vjp of the inner function.
  const viaVjp = (x: Tensor) => {
    const [, pullback] = vjp((y: Tensor) => T.add(T.mul(x, y), y), vec([2]));
    return T.sum(T.mul(x, pullback(vec([1]))[0])); // x · (x + 1)
  };
  assert.deepEqual([...grad(viaVjp)(vec([3])).toArray()], [7]); // 2x + 1
  const viaValueAndGrad = (x: Tensor) => {
    const [v, g] = valueAndGrad((y: Tensor) => T.sum(T.mul(T.mul(x, y), y)))(vec([2])); // v = 4x, g = 4x
    return T.add(v, T.sum(g));
  };
  assert.deepEqual([...grad(viaValueAndGrad)(vec([3])).toArray()], [8]);
});

test("jvp gives J·v; hvp gives H·v; both agree with the reverse-mode Jacobian and Hessian", () => {
  const f = (x: Tensor) => T.mul(T.sin(x), T.sum(T.square(x)));
  const x = vec([0.3, -1.1, 0.7]);
  const v = vec([1, 0.5, -2]);
  const [y, jv] = jvp(f, [x], [v]);
  near(y.toArray(), f(x).toArray(), 0, "primal");
  // Row i of J from reverse mode: J·v = Σ_j J_ij v_j.
  const rows = [0, 1, 2].map((i) =>
    grad((z: Tensor) => T.sum(T.mul(f(z), vec([0, 1, 2].map((k) => +(k === i))))))(x).toArray(),
  );
  near(
    jv.toArray(),
    rows.map((r) => r.reduce((s: number, rij: number, j: number) => s + rij * [1, 0.5, -2][j], 0)),
    1e-5,
    "J·v",
  );
  const s = (z: Tensor) => T.sum(T.mul(T.exp(z), T.sum(T.pow(z, 3))));
  const hv = hvp(s, x, v).toArray();
  const hessianColumns = [0, 1, 2].map((j) => hvp(s, x, vec([0, 1, 2].map((k) => +(k === j)))).toArray());
  near(
    hv,
    [0, 1, 2].map((i) => hessianColumns.reduce((acc, col, j) => acc + col[i] * [1, 0.5, -2][j], 0)),
    1e-5,
    "H·v",
  );
  // H is symmetric.
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) near([hessianColumns[j][i]], [hessianColumns[i][j]], 1e-5, `H[${i}][${j}]`);
});

test("a gradient penalty through the MAE forward (loss + λ‖∂loss/∂pixels‖², tiny case) agrees with finite differences", () => {
  const c = loadReferenceCase("tiny");
  const params = loadPreTraining(c.modelDir).params;
  const pixels = T.fromArray(values(c.io.get("pixel_values")!), c.io.get("pixel_values")!.shape);
  const noise = T.fromArray(values(c.io.get("noise")!), c.io.get("noise")!.shape);
  const named = namedParameters(params);
  const w = named.get("vit.encoder.layer.1.intermediate.dense.bias")!;
  const d = named.get("decoder.decoder_layers.0.attention.attention.query.weight")!;
  // The penalised loss as a function of two parameters (the rest fixed) and the pixels.
  const penalised = (bias: Tensor, query: Tensor, x: Tensor): Tensor => {
    const withParams = (px: Tensor) => {
      const swapped = new Map(named);
      swapped.set("vit.encoder.layer.1.intermediate.dense.bias", bias);
      swapped.set("decoder.decoder_layers.0.attention.attention.query.weight", query);
      return forward(parametersFromNamed(c.config, swapped), c.config, px, { noise }).loss;
    };
    const [loss, gx] = valueAndGrad(withParams)(x);
    return T.add(loss, T.mul(T.sum(T.square(gx)), 100));
  };
  const r = checkGrads(penalised, [w, d, pixels], { maxElements: 12, atol: 1e-7, rtol: 1e-4 });
  assert.ok(r.ok, JSON.stringify(r.worst));
  assert.ok(r.worst!.analytic !== 0, "the penalty has a gradient");
});
