// Properties of MAE's random masking (HF ViTMAEEmbeddings.random_masking, SPEC.md §4) and of the loss
// it feeds (only masked patches count), on random batches, grids and mask ratios.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { ShapeError } from "../../src/core/index.ts";
import { lenKeepOf, maeLoss, patchify, randomMasking, unpatchify } from "../../src/mae/index.ts";

const RUNS = { numRuns: 60 };

/** Pairwise distinct noise in [0, 1) (HF's torch.rand has no ties in practice; argsort order is then unique). */
const noiseArb = (b: number, l: number) =>
  fc
    .array(fc.uniqueArray(fc.integer({ min: 0, max: 1_000_000 }), { minLength: l, maxLength: l }), {
      minLength: b,
      maxLength: b,
    })
    .map((rows) => rows.map((r) => r.map((v) => Math.fround(v / 1_000_001))));

/** batch, patches, a mask ratio in [0, 1), and distinct noise. */
const setupArb = fc
  .record({
    b: fc.integer({ min: 1, max: 3 }),
    l: fc.integer({ min: 1, max: 40 }),
    ratio: fc.double({ min: 0, max: 0.999, noNaN: true }),
  })
  .chain((s) => noiseArb(s.b, s.l).map((noise) => ({ ...s, noise })));

/** x [B, L, D] whose row (b, i) is [b·1000 + i·10 + 0, …, + D-1]: every row tells where it came from. */
const labelled = (b: number, l: number, d: number) =>
  T.fromArray(
    Array.from({ length: b * l * d }, (_, k) => {
      const [bi, i, j] = [Math.floor(k / (l * d)), Math.floor(k / d) % l, k % d];
      return bi * 1000 + i * 10 + j;
    }),
    [b, l, d],
  );

/** argsort of one row, ascending (noise is distinct, so this is unique). */
const argsortRow = (row: number[]) =>
  row
    .map((v, i) => [v, i] as const)
    .sort((a, c) => a[0] - c[0])
    .map(([, i]) => i);

test("lenKeep is int(L·(1 - mask_ratio)) in double precision, truncated (HF's examples)", () => {
  assert.equal(lenKeepOf(25, 0.8), 4, "25·(1-0.8) = 4.999999999999999 truncates to 4");
  assert.equal(lenKeepOf(16, 0.6), 6, "16·(1-0.6) = 6.4 truncates to 6");
  assert.equal(lenKeepOf(16, 0.75), 4);
  assert.equal(lenKeepOf(196, 0.75), 49);
  assert.equal(lenKeepOf(16, 0), 16);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 5000 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (l, r) => {
      assert.equal(lenKeepOf(l, r), Math.trunc(l * (1 - r)));
    }),
  );
});

test("the 25·(1-0.8) case: randomMasking keeps exactly 4 of 25 patches", () => {
  const noise = T.fromArray(
    Array.from({ length: 25 }, (_, i) => ((i * 7) % 25) / 25),
    [1, 25],
  );
  const m = randomMasking(labelled(1, 25, 2), 0.8, { noise });
  assert.equal(m.lenKeep, 4);
  assert.deepEqual(m.kept.shape, [1, 4, 2]);
  assert.equal(T.sum(m.mask).item(), 21);
});

test("exactly lenKeep patches kept per sample; the mask (0/1) sums to L - lenKeep per sample", () => {
  fc.assert(
    fc.property(setupArb, fc.integer({ min: 1, max: 3 }), ({ b, l, ratio, noise }, d) => {
      const m = randomMasking(labelled(b, l, d), ratio, { noise: T.fromNested(noise) });
      const keep = Math.trunc(l * (1 - ratio));
      assert.equal(m.lenKeep, keep);
      assert.deepEqual(m.kept.shape, [b, keep, d]);
      assert.deepEqual(m.mask.shape, [b, l]);
      const mask = m.mask.toNested() as number[][];
      for (const row of mask) {
        assert.ok(
          row.every((v) => v === 0 || v === 1),
          `mask values are 0/1: ${row}`,
        );
        assert.equal(
          row.reduce<number>((a, v) => a + v, 0),
          l - keep,
        );
      }
    }),
    RUNS,
  );
});

test("ids_restore is the inverse permutation of ids_shuffle = argsort(noise)", () => {
  fc.assert(
    fc.property(setupArb, ({ b, l, ratio, noise }) => {
      const m = randomMasking(labelled(b, l, 1), ratio, { noise: T.fromNested(noise) });
      const restore = m.idsRestore.toNested() as number[][];
      for (let s = 0; s < b; s++) {
        const shuffle = argsortRow(noise[s]);
        assert.deepEqual(
          [...restore[s]].sort((x, y) => x - y),
          Array.from({ length: l }, (_, i) => i),
          "a permutation",
        );
        shuffle.forEach((patch, rank) =>
          assert.equal(restore[s][patch], rank, `sample ${s}: ids_restore[ids_shuffle[${rank}]] = ${rank}`),
        );
      }
    }),
    RUNS,
  );
});

test("unshuffling the shuffled sequence (gather by ids_restore) is the identity", () => {
  fc.assert(
    fc.property(setupArb, fc.integer({ min: 1, max: 3 }), ({ b, l, ratio, noise }, d) => {
      const x = labelled(b, l, d);
      const m = randomMasking(x, ratio, { noise: T.fromNested(noise) });
      const shuffle = T.fromNested(noise.map(argsortRow));
      const shuffled = T.takeAlongAxis(x, T.broadcastTo(T.expandDims(shuffle, -1), [b, l, d]), 1);
      const back = T.takeAlongAxis(shuffled, T.broadcastTo(T.expandDims(m.idsRestore, -1), [b, l, d]), 1);
      assert.deepEqual(back.toNested(), x.toNested());
      // The kept tokens are the head of the shuffled sequence.
      assert.deepEqual(m.kept.toNested(), T.slice(shuffled, [null, { stop: m.lenKeep }]).toNested());
    }),
    RUNS,
  );
});

test("the kept patches are those with the smallest noise, in ascending-noise order; the mask marks the rest", () => {
  fc.assert(
    fc.property(setupArb, ({ b, l, ratio, noise }) => {
      const m = randomMasking(labelled(b, l, 1), ratio, { noise: T.fromNested(noise) });
      const kept = m.kept.toNested() as number[][][];
      const mask = m.mask.toNested() as number[][];
      for (let s = 0; s < b; s++) {
        const smallest = argsortRow(noise[s]).slice(0, m.lenKeep); // ascending noise
        assert.deepEqual(
          kept[s].map(([v]) => (v - s * 1000) / 10),
          smallest,
          `sample ${s}: kept patch indices`,
        );
        mask[s].forEach((v, i) => assert.equal(v, smallest.includes(i) ? 0 : 1, `sample ${s}, patch ${i}`));
      }
    }),
    RUNS,
  );
});

test("masking from a key equals masking by uniform noise drawn from that key, and is deterministic", () => {
  const x = labelled(2, 16, 3);
  const k = T.key(11);
  const a = randomMasking(x, 0.75, { key: k });
  const b = randomMasking(x, 0.75, { key: k });
  const byNoise = randomMasking(x, 0.75, { noise: T.random.uniform(k, [2, 16]) });
  assert.deepEqual(a.idsRestore.toNested(), b.idsRestore.toNested());
  assert.deepEqual(a.idsRestore.toNested(), byNoise.idsRestore.toNested());
  assert.deepEqual(a.kept.toNested(), byNoise.kept.toNested());
  const other = randomMasking(x, 0.75, { key: T.key(12) });
  assert.notDeepEqual(other.idsRestore.toNested(), a.idsRestore.toNested(), "another key gives another order");
});

test("bad masking input: ratio outside [0, 1), no noise source, wrong noise shape", () => {
  const x = labelled(2, 4, 1);
  const noise = T.fromNested([
    [0.1, 0.2, 0.3, 0.4],
    [0.4, 0.3, 0.2, 0.1],
  ]);
  for (const r of [1, -0.1, NaN, 1.5])
    assert.throws(
      () => randomMasking(x, r, { noise }),
      (e: Error) => e instanceof RangeError && e.message.includes("maskRatio"),
    );
  assert.throws(() => randomMasking(x, 0.5, {}), /noise.*key|key.*noise/);
  assert.throws(
    () => randomMasking(x, 0.5, { noise: T.zeros([2, 5]) }),
    (e: Error) => e instanceof ShapeError && /noise must be \[2, 4\]/.test(e.message),
  );
});

// ---- the loss only looks at masked patches ----

const lossSetupArb = fc
  .record({
    b: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 3 }),
    gh: fc.integer({ min: 1, max: 3 }),
    gw: fc.integer({ min: 1, max: 3 }),
    ph: fc.integer({ min: 1, max: 3 }),
    pw: fc.integer({ min: 1, max: 3 }),
    ratio: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
    normPix: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1 << 20 }),
  })
  .filter((s) => Math.trunc(s.gh * s.gw * (1 - s.ratio)) < s.gh * s.gw && s.ph * s.pw * s.c > (s.normPix ? 2 : 1));
// Something masked; norm-pix needs 3+ values per patch: a 2-value patch normalises to ±0.707 whatever its pixels.

test("the loss does not change when the target pixels of visible patches change (logits held fixed)", () => {
  fc.assert(
    fc.property(lossSetupArb, (s) => {
      const [k1, k2, k3, k4] = T.random.split(T.key(s.seed), 4);
      const l = s.gh * s.gw;
      const patch = [s.ph, s.pw] as const;
      const pixels = T.random.normal(k1, [s.b, s.c, s.gh * s.ph, s.gw * s.pw]);
      const logits = T.random.normal(k2, [s.b, l, s.ph * s.pw * s.c]);
      const { mask } = randomMasking(T.zeros([s.b, l, 1]), s.ratio, { noise: T.random.uniform(k3, [s.b, l]) });
      const delta = T.random.normal(k4, [s.b, l, s.ph * s.pw * s.c]);
      const visible = T.expandDims(T.sub(1, mask), -1); // 1 on kept patches
      const change = (where: T.Tensor) =>
        unpatchify(T.add(patchify(pixels, patch), T.mul(delta, where)), patch, [s.gh, s.gw], s.c);
      const base = maeLoss(pixels, logits, mask, patch, s.normPix).item();
      assert.equal(
        maeLoss(change(visible), logits, mask, patch, s.normPix).item(),
        base,
        "changing kept patches' pixels moved the loss",
      );
      // The property has teeth: the same change on the masked patches does move it.
      const hidden = T.expandDims(mask, -1);
      assert.notEqual(
        maeLoss(change(hidden), logits, mask, patch, s.normPix).item(),
        base,
        "changing masked patches' pixels must move the loss",
      );
    }),
    { numRuns: 40 },
  );
});

test("maeLoss by hand: a batch-wide mean over masked patches (not per sample), and NaN with nothing masked", () => {
  // One channel, 1x1 patches, a 1x2 grid, 2 samples: target = pixels.
  const pixels = T.fromArray([1, 2, 3, 4], [2, 1, 1, 2]);
  const logits = T.fromArray([1, 0, 0, 0], [2, 2, 1]);
  const mask = T.fromNested([
    [0, 1],
    [1, 1],
  ]);
  // masked errors: (0-2)² = 4, (0-3)² = 9, (0-4)² = 16 → (4+9+16)/3.
  assert.equal(maeLoss(pixels, logits, mask, [1, 1], false).item(), Math.fround(29 / 3));
  assert.ok(Number.isNaN(maeLoss(pixels, logits, T.zeros([2, 2]), [1, 1], false).item()), "0/0 as in HF");
});
