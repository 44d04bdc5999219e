// MAE's augmentation: RandomResizedCrop's sampling bounds and fallback, the flip, and the whole view as a pure function of the key.

import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import fc from "fast-check";
import { key } from "../../src/core/prng.ts";
import type { Image } from "../../src/io/image.ts";
import { augment, flipHorizontal } from "../../src/data/augment.ts";
import { preprocess } from "../../src/data/preprocess.ts";
import { randomResizedCropParams, roundHalfEven } from "../../src/data/randomResizedCrop.ts";

const seed = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });
const side = fc.integer({ min: 1, max: 400 });

function testImage(width: number, height: number, channels: 1 | 3): Image {
  const data = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 2654435761) >>> 24);
  return { width, height, channels, data };
}

describe("randomResizedCropParams", () => {
  test("the box lies inside the image; sampled boxes have area fraction in [0.2, 1] and w/h in [3/4, 4/3] up to rounding", () => {
    fc.assert(
      fc.property(seed, side, side, (s, width, height) => {
        const { top, left, h, w, fallback } = randomResizedCropParams(key(s), width, height);
        assert.ok(Number.isInteger(top) && Number.isInteger(left) && Number.isInteger(h) && Number.isInteger(w));
        assert.ok(
          top >= 0 && left >= 0 && h >= 1 && w >= 1 && top + h <= height && left + w <= width,
          `box ${top},${left},${h},${w}`,
        );
        if (fallback) return;
        // w and h are each rounded from exact values, so allow half a pixel either way.
        const area = width * height;
        assert.ok((w + 0.5) * (h + 0.5) >= 0.2 * area && (w - 0.5) * (h - 0.5) <= area, `area ${w * h} of ${area}`);
        assert.ok(
          (w + 0.5) / (h - 0.5 || 0.5) >= 3 / 4 - 1e-12 && (w - 0.5) / (h + 0.5) <= 4 / 3 + 1e-12,
          `ratio ${w}/${h}`,
        );
      }),
      { numRuns: 400 },
    );
  });

  test("the same key gives the same box; different keys give different boxes", () => {
    const boxes = new Set<string>();
    for (let s = 0; s < 30; s++) {
      const box = randomResizedCropParams(key(s), 224, 160);
      assert.deepEqual(randomResizedCropParams(key(s), 224, 160), box);
      boxes.add(JSON.stringify(box));
    }
    assert.ok(boxes.size >= 25, `only ${boxes.size} distinct boxes from 30 keys`);
  });

  test("when no sample fits, the center crop with its ratio clamped (torchvision's fallback)", () => {
    // 1 pixel wide, 100 tall: every sample is wider than 1. Ratio 1/100 < 3/4, so w = 1, h = round(1 / (3/4)) = 1.
    assert.deepEqual(randomResizedCropParams(key(0), 1, 100), { top: 49, left: 0, h: 1, w: 1, fallback: true });
    // 200 wide, 2 tall: ratio 100 > 4/3, so h = 2, w = round(2 · 4/3) = 3, centred at (200 - 3) // 2 = 98.
    assert.deepEqual(randomResizedCropParams(key(1), 200, 2), { top: 0, left: 98, h: 2, w: 3, fallback: true });
  });

  test("bad sizes and ranges are refused", () => {
    assert.throws(() => randomResizedCropParams(key(0), 0, 5), /positive integers/);
    assert.throws(() => randomResizedCropParams(key(0), 5, 5, [0.5, 0.2]), /scale must be \(min, max\)/);
    assert.throws(() => randomResizedCropParams(key(0), 5, 5, [0.2, 1], [0, 1]), /ratio must be \(min, max\)/);
  });

  test("roundHalfEven is Python's round", () => {
    assert.deepEqual([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, 4, -0, -2, 2, 3]);
  });
});

describe("flip and the whole view", () => {
  test("flipHorizontal is a mirror: pixel (y, x) goes to (y, w - 1 - x), and twice is the identity", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom(1 as const, 3 as const),
        (width, height, channels) => {
          const img = testImage(width, height, channels);
          const flipped = flipHorizontal(img);
          for (let y = 0; y < height; y++) {
            for (let x = 0; x < width; x++) {
              for (let c = 0; c < channels; c++) {
                assert.equal(
                  flipped.data[(y * width + width - 1 - x) * channels + c],
                  img.data[(y * width + x) * channels + c],
                );
              }
            }
          }
          assert.deepEqual(flipHorizontal(flipped).data, img.data);
        },
      ),
      { numRuns: 50 },
    );
  });

  test("with the same key, the flipped view is the mirror of the unflipped one (the crop does not change)", () => {
    const img = testImage(40, 30, 3);
    const opts = { height: 16, width: 12, channels: 3 };
    for (let s = 0; s < 5; s++) {
      const plain = augment(img, key(s), { ...opts, flipProbability: 0 });
      const mirrored = augment(img, key(s), { ...opts, flipProbability: 1 });
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 16; y++) {
          for (let x = 0; x < 12; x++) assert.equal(mirrored[(c * 16 + y) * 12 + x], plain[(c * 16 + y) * 12 + 11 - x]);
        }
      }
    }
  });

  test("a full-image crop (scale 1, ratio 1 on a square) is the HF preprocessing with bicubic resampling", () => {
    const img = testImage(20, 20, 1);
    const opts = { height: 8, width: 8, channels: 3, mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.25] };
    const view = augment(img, key(7), { ...opts, scale: [1, 1], ratio: [1, 1], flipProbability: 0 });
    assert.deepEqual(view, preprocess(img, { ...opts, resample: "bicubic" }));
  });

  test("about half of the views are flipped", () => {
    const img = testImage(4, 4, 1);
    const opts = {
      height: 4,
      width: 4,
      channels: 1,
      scale: [1, 1] as [number, number],
      ratio: [1, 1] as [number, number],
    };
    const unflipped = augment(img, key(0), { ...opts, flipProbability: 0 });
    let flips = 0;
    for (let s = 0; s < 400; s++) {
      const view = augment(img, key(s), opts);
      if (!view.every((v, i) => v === unflipped[i])) flips++;
    }
    assert.ok(flips > 160 && flips < 240, `${flips} flips in 400`); // binomial(400, 1/2): mean 200, sd 10
  });

  test("a view is a pure function of (image, key), shaped [C, H, W]", () => {
    const img = testImage(33, 21, 1);
    const opts = { height: 10, width: 14, channels: 3 };
    const a = augment(img, key(3), opts);
    assert.equal(a.length, 3 * 10 * 14);
    assert.deepEqual(augment(img, key(3), opts), a);
    assert.notDeepEqual(augment(img, key(4), opts), a);
  });
});
