// AdamW against steps worked out by hand with torch.optim.AdamW's formulas; MAE's no-decay rule; global-norm clipping.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import type { Tensor } from "../../src/core/index.ts";
import { adamwStep, clipGradNorm, initAdamW, maeDecay, MAE_ADAMW, type AdamWConfig } from "../../src/nn/adamw.ts";

const t = (values: number[], shape = [values.length]) => T.fromArray(Float32Array.from(values), shape);
const named = (entries: [string, Tensor][]) => new Map(entries);
/** |actual − expected| ≤ tol, relative above 1 (float32 results). */
const near = (actual: ArrayLike<number>, expected: number[], tol: number, label: string) => {
  assert.equal(actual.length, expected.length, label);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])),
      `${label}[${i}]: got ${actual[i]}, expected ${expected[i]}`,
    );
  }
};

const p0 = [1, -2, 0.5];
const g1 = [0.1, -0.2, 0.3];
const g2 = [-0.05, 0.4, 0];
const lr = 0.01;
const [b1, b2] = [0.9, 0.999];

/** Two steps of one element as torch.optim.AdamW does them, written out (no loop over steps). */
function byHand(p: number, ga: number, gb: number, wd: number, eps: number): [number, number] {
  // Step 1: decay, moments, bias corrections 1 − β1 = 0.1 and √(1 − β2) = √0.001.
  const pDecayed1 = p * (1 - lr * wd);
  const m1 = (1 - b1) * ga;
  const v1 = (1 - b2) * ga * ga;
  const p1 = pDecayed1 - ((lr / (1 - b1)) * m1) / (Math.sqrt(v1) / Math.sqrt(1 - b2) + eps);
  // Step 2: bias corrections 1 − β1² = 0.19 and √(1 − β2²) = √0.001999.
  const pDecayed2 = p1 * (1 - lr * wd);
  const m2 = b1 * m1 + (1 - b1) * gb;
  const v2 = b2 * v1 + (1 - b2) * gb * gb;
  const p2 = pDecayed2 - ((lr / (1 - b1 * b1)) * m2) / (Math.sqrt(v2) / Math.sqrt(1 - b2 * b2) + eps);
  return [p1, p2];
}

function twoSteps(cfg: AdamWConfig, name = "w") {
  const decay = () => true;
  let params = named([[name, t(p0)]]);
  let state = initAdamW(params);
  const after: Float32Array[] = [];
  for (const g of [g1, g2]) {
    ({ params, state } = adamwStep(params, named([[name, t(g)]]), state, cfg, { lr, decay }));
    after.push(params.get(name)!.toArray());
  }
  return { after, state };
}

test("two AdamW steps on a 3-element tensor equal torch's formulas worked by hand (with and without weight decay)", () => {
  for (const wd of [0, 0.1]) {
    const { after, state } = twoSteps({ betas: [b1, b2], eps: 1e-8, weightDecay: wd });
    const expected = p0.map((p, i) => byHand(p, g1[i], g2[i], wd, 1e-8));
    near(
      after[0],
      expected.map((e) => e[0]),
      2e-7 * 4,
      `wd ${wd}, step 1`,
    );
    near(
      after[1],
      expected.map((e) => e[1]),
      2e-7 * 4,
      `wd ${wd}, step 2`,
    );
    assert.equal(state.step.item(), 2);
    near(
      state.m.get("w")!.toArray(),
      g1.map((g, i) => b1 * (1 - b1) * g + (1 - b1) * g2[i]),
      1e-8,
      "first moment",
    );
    near(
      state.v.get("w")!.toArray(),
      g1.map((g, i) => b2 * (1 - b2) * g * g + (1 - b2) * g2[i] ** 2),
      1e-10,
      "second moment",
    );
  }
  // The first step is ≈ p·(1 − lr·wd) − lr·sign(g) (m̂ = g, √v̂ = |g|), the textbook sanity check:
  near(
    twoSteps({ betas: [b1, b2], eps: 1e-8, weightDecay: 0 }).after[0],
    [0.99, -1.99, 0.49],
    1e-6,
    "step 1, no decay",
  );
  near(
    twoSteps({ betas: [b1, b2], eps: 1e-8, weightDecay: 0.1 }).after[0],
    [0.989, -1.988, 0.4895],
    1e-6,
    "step 1, decay 0.1",
  );
  // An element whose second gradient is 0 still moves on its momentum: 0.4895·0.999 − 0.01·(0.027/0.19)/(√(8.991e-5/0.001999) + 1e-8).
  near(
    [twoSteps({ betas: [b1, b2], eps: 1e-8, weightDecay: 0.1 }).after[1][2]],
    [0.4895 * 0.999 - (0.01 * (0.027 / 0.19)) / Math.sqrt(8.991e-5 / 0.001999)],
    1e-6,
    "momentum",
  );
});

test("eps is added outside the square root, after the bias correction (as torch does)", () => {
  // With a large eps the placements differ a lot: step 1 is exactly p − lr·g/(|g| + eps).
  const eps = 0.1;
  const { after } = twoSteps({ betas: [b1, b2], eps, weightDecay: 0 });
  near(
    after[0],
    p0.map((p, i) => p - (lr * g1[i]) / (Math.abs(g1[i]) + eps)),
    1e-6,
    "step 1",
  );
  near(
    after[1],
    p0.map((p, i) => byHand(p, g1[i], g2[i], 0, eps)[1]),
    1e-6,
    "step 2",
  );
});

test("frozen parameters and parameters without a gradient are untouched, their moments stay 0; inputs are not mutated", () => {
  const params = named([
    ["w", t(p0)],
    ["vit.embeddings.position_embeddings", t([0.25, 0.5, 0.75])],
    ["nograd", t([3, 4])],
  ]);
  const state = initAdamW(params);
  state.m.set("w", t([0.5, 0.5, 0.5]));
  const grads = named([
    ["w", t(g1)],
    ["vit.embeddings.position_embeddings", t([1, 1, 1])],
  ]);
  const out = adamwStep(params, grads, state, MAE_ADAMW, {
    lr: 0.1,
    decay: () => true,
    frozen: new Set(["vit.embeddings.position_embeddings"]),
  });
  assert.deepEqual([...out.params.get("vit.embeddings.position_embeddings")!.toArray()], [0.25, 0.5, 0.75]);
  assert.deepEqual([...out.state.m.get("vit.embeddings.position_embeddings")!.toArray()], [0, 0, 0]);
  assert.deepEqual([...out.state.v.get("vit.embeddings.position_embeddings")!.toArray()], [0, 0, 0]);
  assert.deepEqual([...out.params.get("nograd")!.toArray()], [3, 4]);
  assert.notDeepEqual([...out.params.get("w")!.toArray()], p0, "the trainable one moved");
  assert.deepEqual([...state.m.get("w")!.toArray()], [0.5, 0.5, 0.5], "the old state is not mutated");
  assert.deepEqual([...params.get("w")!.toArray()], p0, "the old params are not mutated");
  assert.equal(state.step.item(), 0);
  assert.equal(out.state.step.item(), 1);
});

test("maeDecay: no decay for 1-d tensors, biases, cls_token and mask_token; decay for weight matrices and the patch projection", () => {
  const cases: [string, number[], boolean][] = [
    ["vit.encoder.layer.0.attention.attention.query.weight", [4, 4], true],
    ["vit.embeddings.patch_embeddings.projection.weight", [4, 3, 2, 2], true],
    ["decoder.decoder_pred.weight", [12, 4], true],
    ["vit.encoder.layer.0.attention.attention.query.bias", [4], false],
    ["vit.layernorm.weight", [4], false],
    ["decoder.decoder_norm.weight", [4], false],
    ["vit.embeddings.cls_token", [1, 1, 4], false],
    ["decoder.mask_token", [1, 1, 4], false],
  ];
  for (const [name, shape, decays] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const p = t(
      Array.from({ length: n }, (_, i) => 1 + i),
      shape,
    );
    assert.equal(maeDecay(name, p), decays, name);
    // Through a step with a zero gradient, only the decay can move a parameter: p·(1 − lr·wd) exactly.
    const out = adamwStep(
      named([[name, p]]),
      named([[name, t(new Array(n).fill(0), shape)]]),
      initAdamW(named([[name, p]])),
      { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.05 },
      { lr: 0.5, decay: maeDecay },
    );
    const factor = decays ? 1 - 0.5 * 0.05 : 1;
    near(
      out.params.get(name)!.toArray(),
      [...p.toArray()].map((x) => x * factor),
      1e-6,
      name,
    );
  }
});

test("clipGradNorm scales all gradients by one factor so the global norm is maxNorm (torch's clip_grad_norm_)", () => {
  const grads = named([
    ["a", t([3, 0])],
    ["b", t([4])],
  ]); // global norm 5, each tensor's own norm below it
  const clipped = clipGradNorm(grads, 1);
  assert.equal(clipped.norm.item(), 5);
  near(clipped.grads.get("a")!.toArray(), [3 / (5 + 1e-6), 0], 1e-7, "a");
  near(clipped.grads.get("b")!.toArray(), [4 / (5 + 1e-6)], 1e-7, "b");
  const untouched = clipGradNorm(grads, 10);
  assert.equal(untouched.norm.item(), 5);
  assert.deepEqual([...untouched.grads.get("a")!.toArray()], [3, 0]);
  assert.deepEqual([...untouched.grads.get("b")!.toArray()], [4]);
});

test("clipGradNorm (property): the result's norm is min(norm, maxNorm), the direction is kept", () => {
  const vec = fc.array(fc.double({ min: -10, max: 10, noNaN: true }).map(Math.fround), { minLength: 1, maxLength: 6 });
  fc.assert(
    fc.property(vec, vec, fc.double({ min: 0.01, max: 20, noNaN: true }), (a, b, maxNorm) => {
      const { grads, norm } = clipGradNorm(
        named([
          ["a", t(a)],
          ["b", t(b)],
        ]),
        maxNorm,
      );
      const before = Math.hypot(...a, ...b);
      // The norm is summed in float32: within a few float32 roundings of the exact one.
      assert.ok(Math.abs(norm.item() - before) <= 1e-6 * Math.max(1, before));
      const after = [...grads.get("a")!.toArray(), ...grads.get("b")!.toArray()];
      assert.ok(
        Math.abs(Math.hypot(...after) - Math.min(before, maxNorm)) <= 1e-5 * Math.max(1, before),
        `norm ${Math.hypot(...after)} vs ${Math.min(before, maxNorm)}`,
      );
      const scale = before > 0 ? Math.hypot(...after) / before : 1;
      [...a, ...b].forEach((x, i) =>
        assert.ok(Math.abs(after[i] - x * scale) <= 1e-5 * Math.max(1, Math.abs(x)), `element ${i}`),
      );
    }),
    { numRuns: 100 },
  );
});

test("donateState updates the moments in place and gives the same step as the pure one", () => {
  const params = new Map([["w", T.fromArray([0.5, -1, 2, 0.25], [2, 2])]]);
  const grads = new Map([["w", T.fromArray([0.1, -0.2, 0.3, 0], [2, 2])]]);
  const cfg = { betas: [0.9, 0.95] as [number, number], eps: 1e-8, weightDecay: 0.05 };
  const start = initAdamW(params);
  const pure = adamwStep(params, grads, start, cfg, { lr: 1e-2, decay: () => true });
  assert.deepEqual([...start.m.get("w")!.toArray()], [0, 0, 0, 0], "the pure step leaves its input state alone");
  const donated = initAdamW(params);
  const mBefore = donated.m.get("w")!;
  const inPlace = adamwStep(params, grads, donated, cfg, { lr: 1e-2, decay: () => true, donateState: true });
  assert.equal(inPlace.state.m.get("w")!.storage, mBefore.storage, "the donated storage is reused");
  assert.deepEqual([...inPlace.params.get("w")!.toArray()], [...pure.params.get("w")!.toArray()]);
  assert.deepEqual([...inPlace.state.v.get("w")!.toArray()], [...pure.state.v.get("w")!.toArray()]);
  assert.deepEqual([...params.get("w")!.toArray()], [0.5, -1, 2, 0.25], "parameters are never written in place");
});
