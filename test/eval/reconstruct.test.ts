// The reconstruction core: the notebook's four panels on a tiny random model, and the mean-fill baseline by hand.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { maskedMsePerImage, maskToPixels, meanFillBaselineMse, reconstruct } from "../../src/eval/reconstruct.ts";
import { patchify, target, tiny, unsafeConfig, ViTMAEForPreTraining } from "../../src/mae/index.ts";

const model = ViTMAEForPreTraining.init(tiny, T.key(3));
const pixels = T.random.normal(T.key(4), [2, 3, 32, 32]);

test("the pasted panel is the original on visible pixels, the masked panel 0 on masked ones (the notebook's x·(1−mask))", async () => {
  const r = await reconstruct(model, pixels, { key: T.key(5) });
  const m = r.pixelMask.toArray();
  const [x, masked, pasted, recon] = [r.original, r.masked, r.pasted, r.reconstruction].map((t) => t.toArray());
  let visible = 0;
  for (let i = 0; i < m.length; i++) {
    if (m[i] === 0) {
      visible++;
      assert.equal(pasted[i], x[i]);
      assert.equal(masked[i], x[i]);
    } else {
      assert.equal(m[i], 1);
      assert.ok(masked[i] === 0, `masked pixel ${i} is ${masked[i]}`); // ±0, as x·0 is in the notebook
      assert.equal(pasted[i], recon[i]);
    }
  }
  // tiny: 16 patches of 8x8x3, 4 kept per image at mask ratio 0.75
  assert.equal(visible, 2 * 4 * 8 * 8 * 3);
  assert.deepEqual(
    r.mask.toArray().reduce((a, b) => a + b, 0),
    2 * 12,
  );
  assert.equal(r.space, "pixels");
});

test("the per-image masked MSEs average to HF's loss (equal masked counts) and the same noise gives the same picture", async () => {
  const noise = T.random.uniform(T.key(6), [2, 16]);
  const a = await reconstruct(model, pixels, { noise });
  const b = await reconstruct(model, pixels, { noise, key: T.key(99) }); // noise wins over key
  assert.deepEqual(a.reconstruction.toArray(), b.reconstruction.toArray());
  const mean = (a.maskedMse[0] + a.maskedMse[1]) / 2;
  assert.ok(Math.abs(mean - a.loss) < 1e-5 * Math.max(1, a.loss), `${mean} vs ${a.loss}`);
  // One image alone gives its own row's value.
  const one = await reconstruct(model, T.slice(pixels, [{ stop: 1 }]), { noise: T.slice(noise, [{ stop: 1 }]) });
  assert.ok(Math.abs(one.maskedMse[0] - a.maskedMse[0]) < 1e-5);
});

test("a norm_pix_loss model's reconstruction: raw (normalised-patch space) or un-normalised with each target patch's mean and var", async () => {
  const cfg = unsafeConfig({ normPixLoss: true }, tiny);
  const m = ViTMAEForPreTraining.init(cfg, T.key(7));
  const noise = T.random.uniform(T.key(8), [2, 16]);
  const raw = await reconstruct(m, pixels, { noise });
  const stats = await reconstruct(m, pixels, { noise, unnormalizeWithTargetStats: true });
  assert.equal(raw.space, "normalized-patches");
  assert.equal(stats.space, "target-stats");
  // Hand-computed for one patch: pred·sqrt(var_unbiased + 1e-6) + mean.
  const pred = patchify(raw.reconstruction, cfg.patchSize).toArray();
  const tgt = patchify(pixels, cfg.patchSize).toArray();
  const got = patchify(stats.reconstruction, cfg.patchSize).toArray();
  const dim = cfg.patchDim;
  for (const p of [0, 5, 31]) {
    const t = tgt.subarray(p * dim, (p + 1) * dim);
    const mu = t.reduce((a, v) => a + v, 0) / dim;
    const v = t.reduce((a, x) => a + (x - mu) ** 2, 0) / (dim - 1);
    for (const j of [0, 17, dim - 1]) {
      const want = pred[p * dim + j] * Math.sqrt(v + 1e-6) + mu;
      assert.ok(Math.abs(got[p * dim + j] - want) < 1e-4, `patch ${p} value ${j}: ${got[p * dim + j]} vs ${want}`);
    }
  }
  // The error stays in the loss's space either way.
  assert.deepEqual(raw.maskedMse, stats.maskedMse);
  await assert.rejects(reconstruct(model, pixels, { noise, unnormalizeWithTargetStats: true }), /norm_pix_loss/);
});

test("reconstruct refuses a mask ratio that masks nothing, and a call without a noise source", async () => {
  await assert.rejects(reconstruct(model, pixels, { key: T.key(0), maskRatio: 0 }), /maskRatio must be in \(0, 1\)/);
  await assert.rejects(reconstruct(model, pixels, {}), /noise .* or a PRNG key/);
});

test("maskToPixels: every pixel of a masked patch is 1, in HF's patch order (fast-check over masks)", async () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (bits) => {
      const mask = T.fromArray(bits.map(Number), [1, 6]);
      const px = maskToPixels(mask, [2, 3], [2, 3], 2).toArray(); // 2x3 grid of 2x3 patches, 2 channels: [1, 2, 4, 9]
      for (let c = 0; c < 2; c++)
        for (let y = 0; y < 4; y++)
          for (let x = 0; x < 9; x++) {
            const patch = Math.floor(y / 2) * 3 + Math.floor(x / 3);
            assert.equal(px[(c * 4 + y) * 9 + x], bits[patch] ? 1 : 0);
          }
    }),
    { numRuns: 30 },
  );
});

test("meanFillBaselineMse on hand-computed values (1 channel, 2 patches side by side)", async () => {
  // 1x1x2x4 image, patch 2x2: patch 0 = [1, 2, 3, 4] visible (mean 2.5), patch 1 = [0, 1, 5, 6] masked.
  const img = T.fromArray([1, 2, 0, 1, 3, 4, 5, 6], [1, 1, 2, 4]);
  const mask = T.fromArray([0, 1], [1, 2]);
  // ((0−2.5)² + (1−2.5)² + (5−2.5)² + (6−2.5)²) / 4 = (6.25 + 2.25 + 6.25 + 12.25) / 4
  assert.ok(Math.abs((await meanFillBaselineMse(img, mask, [2, 2])) - 27 / 4) < 1e-6);
  // norm_pix: a constant patch normalises to 0; the target patch [0,1,5,6] has mean 3, unbiased var 26/3.
  const sd = Math.sqrt(26 / 3 + 1e-6);
  const want = [0, 1, 5, 6].reduce((a, v) => a + ((v - 3) / sd) ** 2, 0) / 4;
  assert.ok(Math.abs((await meanFillBaselineMse(img, mask, [2, 2], true)) - want) < 1e-5);
});

test("meanFillBaselineMse: per channel means, masked patches of the whole batch weighted equally", async () => {
  // 2 images, 2 channels, 2x4 (two 2x2 patches). Image 0: patch 0 visible; image 1: patch 1 visible.
  const c0 = [1, 1, 5, 5, 1, 1, 5, 5]; // channel 0 of image 0: left patch 1s, right patch 5s
  const c1 = [2, 2, 2, 2, 2, 2, 2, 2];
  const d0 = [7, 7, 3, 3, 7, 7, 3, 3];
  const d1 = [0, 0, 4, 4, 0, 0, 4, 4];
  const img = T.fromArray([...c0, ...c1, ...d0, ...d1], [2, 2, 2, 4]);
  const mask = T.fromArray([0, 1, 1, 0], [2, 2]);
  // image 0 fills (1, 2): error on its right patch: channel 0 (5−1)² ×4, channel 1 0 → 64/8 = 8
  // image 1 fills (3, 4): error on its left patch: channel 0 (7−3)² ×4, channel 1 (0−4)² ×4 → 128/8 = 16
  assert.ok(Math.abs((await meanFillBaselineMse(img, mask, [2, 2])) - 12) < 1e-6);
  await assert.rejects(
    meanFillBaselineMse(img, T.fromArray([1, 1, 0, 1], [2, 2]), [2, 2]),
    /image 0 has no visible patch/,
  );
});

test("maskedMsePerImage of the mean-fill prediction equals the baseline for one image", async () => {
  const img = T.random.normal(T.key(9), [1, 3, 32, 32]);
  const mask = T.fromArray(
    Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? 0 : 1)),
    [1, 16],
  );
  const keep = T.sub(1, maskToPixels(mask, [8, 8], [4, 4], 3));
  const fill = T.div(T.sum(T.mul(img, keep), [2, 3], { keepdims: true }), T.sum(keep, [2, 3], { keepdims: true }));
  const pred = target(T.broadcastTo(fill, [1, 3, 32, 32]), [8, 8], false);
  const [mse] = await maskedMsePerImage(img, pred, mask, [8, 8], false);
  assert.ok(Math.abs(mse - (await meanFillBaselineMse(img, mask, [8, 8]))) < 1e-6);
});
