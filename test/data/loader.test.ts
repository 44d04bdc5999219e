// The deterministic loader: batches as a pure function of (key, step), epochs as permutations, resumption, augmentation.

import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import fc from "fast-check";
import { key } from "../../src/core/prng.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { makeLoader, type Batch, type LoaderOptions } from "../../src/data/loader.ts";
import { mnistDataset } from "../../src/data/mnistDataset.ts";
import { preprocess } from "../../src/data/preprocess.ts";

/** n distinct 6x5 gray images; image i is filled from i, labelled i % 3 (or unlabelled). */
function toyDataset(n: number, labelled = true): Dataset {
  return {
    name: "toy",
    size: n,
    numClasses: labelled ? 3 : undefined,
    get(i) {
      const data = Uint8Array.from({ length: 30 }, (_, p) => (i * 31 + p * 7) % 256);
      const image = { width: 6, height: 5, channels: 1 as const, data };
      return labelled ? { image, label: i % 3 } : { image };
    },
  };
}

const base = (over: Partial<LoaderOptions> = {}): LoaderOptions => ({
  dataset: toyDataset(10),
  batchSize: 4,
  key: key(42),
  preprocess: { height: 4, width: 4, channels: 3 },
  ...over,
});
const epoch = (options: LoaderOptions, e: number): Batch[] => [...makeLoader(options).epochBatches(e)];

describe("makeLoader", () => {
  test("the same key gives identical batches; another key gives others", () => {
    const a = epoch(base(), 0);
    assert.deepEqual(epoch(base(), 0), a);
    const b = epoch(base({ key: key(43) }), 0);
    assert.notDeepEqual(
      b.map((x) => [...x.indices]),
      a.map((x) => [...x.indices]),
    );
  });

  test("every index appears exactly once per epoch; each epoch has its own order", () => {
    const sizes = [
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 0, max: 5 }),
    ] as const;
    fc.assert(
      fc.property(...sizes, (n, batchSize, e) => {
        const options = base({ dataset: toyDataset(n), batchSize, preprocess: { height: 2, width: 2, channels: 1 } });
        const batches = epoch(options, e);
        assert.equal(batches.length, Math.ceil(n / batchSize));
        const seen = batches.flatMap((b) => [...b.indices]).sort((x, y) => x - y);
        assert.deepEqual(
          seen,
          Array.from({ length: n }, (_, i) => i),
        );
      }),
      { numRuns: 60 },
    );
    const orders = [0, 1, 2].map((e) => [...makeLoader(base({ dataset: toyDataset(30) })).epochOrder(e)].join());
    assert.equal(new Set(orders).size, 3);
  });

  test("batchAt(s) is the s-th batch of an unbroken run, across epochs, from a fresh loader (a resumed run)", () => {
    const options = base({ augment: true });
    const run = makeLoader(options).batches();
    const unbroken = Array.from({ length: 8 }, () => run.next().value as Batch); // 3 batches per epoch: epochs 0, 1, 2
    unbroken.forEach((batch, s) => {
      assert.deepEqual(makeLoader(options).batchAt(s), batch);
      assert.deepEqual([batch.step, batch.epoch], [s, Math.floor(s / 3)]);
    });
    const resumed = makeLoader(options).batches(5);
    assert.deepEqual(resumed.next().value, unbroken[5]);
  });

  test("a batch holds [B, C, H, W] pixels from preprocess, the labels and the indices; the last batch may be short", () => {
    const options = base();
    const batches = epoch(options, 0);
    assert.deepEqual(
      batches.map((b) => b.shape),
      [
        [4, 3, 4, 4],
        [4, 3, 4, 4],
        [2, 3, 4, 4],
      ],
    );
    const ds = options.dataset;
    for (const b of batches) {
      b.indices.forEach((index, row) => {
        const expected = preprocess(ds.get(index).image, options.preprocess);
        assert.deepEqual(b.pixels.subarray(row * 48, (row + 1) * 48), expected);
        assert.equal(b.labels![row], index % 3);
      });
    }
    assert.equal(epoch(base({ dataset: toyDataset(10, false) }), 0)[0].labels, undefined);
  });

  test("dropLast drops the short batch; shuffle false keeps dataset order", () => {
    const dropped = epoch(base({ dropLast: true }), 3);
    assert.deepEqual(
      dropped.map((b) => b.shape[0]),
      [4, 4],
    );
    assert.equal(new Set(dropped.flatMap((b) => [...b.indices])).size, 8);
    const ordered = epoch(base({ shuffle: false }), 2);
    assert.deepEqual(
      ordered.flatMap((b) => [...b.indices]),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  });

  test("augmented views depend on (epoch, index), not on the batch an example lands in", () => {
    const options = base({ augment: true, shuffle: false, batchSize: 5 });
    const smaller = base({ augment: true, shuffle: false, batchSize: 2 });
    const e0 = epoch(options, 0)[0]; // indices 0-4
    const e0b = epoch(smaller, 0)[1]; // indices 2, 3
    assert.deepEqual(e0b.pixels, e0.pixels.subarray(2 * 48, 4 * 48));
    const e1 = epoch(options, 1)[0];
    assert.notDeepEqual(e1.pixels, e0.pixels); // a fresh view of the same examples next epoch
  });

  test("MNIST at the model's size, augmented, batch by batch", () => {
    const loader = makeLoader({
      dataset: mnistDataset(),
      batchSize: 8,
      key: key(0),
      augment: true,
      dropLast: true,
      preprocess: { height: 32, width: 32, channels: 1, mean: 0.1307, std: 0.3081 },
    });
    assert.equal(loader.batchesPerEpoch, 1250);
    const b = loader.batchAt(1249);
    assert.deepEqual(b.shape, [8, 1, 32, 32]);
    assert.ok(b.labels!.every((l) => l >= 0 && l <= 9));
    assert.ok(b.pixels.every(Number.isFinite));
    assert.deepEqual(loader.batchAt(1249), b);
  });

  test("bad options are named", () => {
    assert.throws(() => makeLoader(base({ batchSize: 0 })), /batchSize must be a positive integer, got 0/);
    assert.throws(() => makeLoader(base({ batchSize: 11, dropLast: true })), /10 examples, fewer than one batch of 11/);
    assert.throws(() => makeLoader(base({ preprocess: { height: 0, width: 4, channels: 3 } })), /got 0x4x3/);
    assert.throws(() => makeLoader(base()).batchAt(-1), /step must be a non-negative integer, got -1/);
    assert.throws(() => [...makeLoader(base()).epochBatches(1.5)], /epoch must be a non-negative integer, got 1.5/);
    assert.throws(() => makeLoader(base({ key: 42 as never })), /expected a PRNG key/);
  });
});
