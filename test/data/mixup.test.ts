// Mixup / CutMix with label mixing as timm's batch mode (MAE's fine-tuning): pixels, targets, the box's λ correction.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { cutmixBox, MAE_MIXUP, mixupBatch, sampleBeta } from "../../src/data/mixup.ts";
import { smoothedTargets } from "../../src/nn/crossEntropy.ts";

const shape = [4, 2, 6, 5] as const;
const image = 2 * 6 * 5;
/** Image i is the constant i + 1, so every mixed pixel says where it came from. */
const constantImages = () => Float32Array.from({ length: 4 * image }, (_, p) => Math.floor(p / image) + 1);
const labels = [0, 2, 1, 2];

test("targets are λ·smooth(y_i) + (1 − λ)·smooth(y_{B−1−i}), rows summing to 1, for every mode", () => {
  fc.assert(
    fc.property(fc.nat(), (seed) => {
      const m = mixupBatch(constantImages(), shape, labels, 3, T.key(seed), MAE_MIXUP);
      const own = smoothedTargets(labels, 3, 0.1);
      for (let i = 0; i < 4; i++)
        for (let k = 0; k < 3; k++) {
          const want = m.lam * own[i * 3 + k] + (1 - m.lam) * own[(3 - i) * 3 + k];
          assert.ok(Math.abs(m.targets[i * 3 + k] - want) < 1e-6);
        }
      for (let i = 0; i < 4; i++)
        assert.ok(Math.abs(m.targets.slice(i * 3, i * 3 + 3).reduce((s, v) => s + v, 0) - 1) < 1e-6);
      assert.ok(m.lam >= 0 && m.lam <= 1);
    }),
    { numRuns: 40 },
  );
});

test("mixup blends each image with its partner by λ; cutmix pastes the partner's box, and λ is 1 − box area", () => {
  let seen = { mixup: 0, cutmix: 0 };
  for (let seed = 0; seed < 60; seed++) {
    const x = constantImages();
    const m = mixupBatch(x, shape, labels, 3, T.key(seed), MAE_MIXUP);
    if (m.mode === "mixup") {
      seen.mixup++;
      for (let i = 0; i < 4; i++) {
        const want = (i + 1) * m.lam + (4 - i) * (1 - m.lam);
        assert.ok(m.pixels.slice(i * image, (i + 1) * image).every((v) => Math.abs(v - want) < 1e-5));
      }
    } else if (m.mode === "cutmix") {
      seen.cutmix++;
      for (let i = 0; i < 4; i++) {
        const px = m.pixels.slice(i * image, (i + 1) * image);
        const fromPartner = px.filter((v) => v === 4 - i).length;
        assert.equal(px.filter((v) => v !== 4 - i && v !== i + 1).length, 0, "every pixel is its own or its partner's");
        assert.ok(Math.abs(fromPartner / image - (1 - m.lam)) < 1e-9, "λ is corrected to the pasted area");
      }
    }
    assert.deepEqual(x, constantImages(), "the input batch is not modified");
  }
  // switch prob 0.5: both modes occur (P(one of them never in 60) < 1e-17)
  assert.ok(seen.mixup > 10 && seen.cutmix > 10, `mixup ${seen.mixup}, cutmix ${seen.cutmix}`);
  seen = { mixup: 0, cutmix: 0 };
});

test("the cutmix box: inside the image, side int(H·√(1−λ)) before clipping, λ = 1 − area/(H·W)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (h, w, lam, u0, u1) => {
        const { box, lam: corrected } = cutmixBox(h, w, lam, [u0, u1]);
        assert.ok(0 <= box.yl && box.yl <= box.yh && box.yh <= h && 0 <= box.xl && box.xl <= box.xh && box.xh <= w);
        assert.ok(box.yh - box.yl <= Math.trunc(h * Math.sqrt(1 - lam)));
        assert.equal(corrected, 1 - ((box.yh - box.yl) * (box.xh - box.xl)) / (h * w));
      },
    ),
  );
});

test("off (prob 0, or both alphas 0): the images unchanged and the smoothed one-hot targets", () => {
  for (const opts of [
    { ...MAE_MIXUP, prob: 0 },
    { ...MAE_MIXUP, mixupAlpha: 0, cutmixAlpha: 0 },
  ]) {
    const m = mixupBatch(constantImages(), shape, labels, 3, T.key(1), opts);
    assert.equal(m.mode, "none");
    assert.deepEqual(m.pixels, constantImages());
    assert.deepEqual(m.targets, smoothedTargets(labels, 3, 0.1));
  }
  const onlyCutmix = mixupBatch(constantImages(), shape, labels, 3, T.key(2), { ...MAE_MIXUP, mixupAlpha: 0 });
  assert.equal(onlyCutmix.mode, "cutmix");
  assert.throws(
    () => mixupBatch(new Float32Array(3 * image), [3, 2, 6, 5], [0, 1, 2], 3, T.key(0), MAE_MIXUP),
    /batch size must be even/,
  );
});

test("Beta(α, α) draws have mean 1/2 and variance 1/(4(2α + 1)) (α = 0.8 and 1)", () => {
  for (const alpha of [0.8, 1]) {
    const n = 3000;
    const xs = Array.from({ length: n }, (_, i) => sampleBeta(T.random.foldIn(T.key(11), i), alpha, alpha));
    const mean = xs.reduce((s, v) => s + v, 0) / n;
    const variance = xs.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    const want = 1 / (4 * (2 * alpha + 1));
    assert.ok(xs.every((v) => v > 0 && v < 1));
    assert.ok(Math.abs(mean - 0.5) < 4 * Math.sqrt(want / n), `mean ${mean}`);
    assert.ok(Math.abs(variance - want) < 0.15 * want, `variance ${variance} vs ${want}`);
  }
});
