// The RGB canvas: rectangles, lines, text inside its box, image blits and nearest-neighbour scaling.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Image } from "../../src/io/image.ts";
import { BLACK, Canvas, scaleNearest, WHITE } from "../../src/viz/canvas.ts";
import { textWidth } from "../../src/viz/font.ts";

const imageArb = (channels: 1 | 3) =>
  fc
    .record({ width: fc.integer({ min: 1, max: 6 }), height: fc.integer({ min: 1, max: 6 }) })
    .chain(({ width, height }) =>
      fc
        .uint8Array({ minLength: width * height * channels, maxLength: width * height * channels })
        .map((data): Image => ({ width, height, channels, data })),
    );

test("blit at scale s puts pixel (x, y) at every canvas pixel of its s×s block; gray is replicated (property)", () => {
  fc.assert(
    fc.property(fc.oneof(imageArb(1), imageArb(3)), fc.integer({ min: 1, max: 3 }), (img, s) => {
      const canvas = new Canvas(img.width * s + 3, img.height * s + 2, WHITE).blit(img, 2, 1, s);
      for (let y = 0; y < img.height * s; y++)
        for (let x = 0; x < img.width * s; x++) {
          const at = (Math.floor(y / s) * img.width + Math.floor(x / s)) * img.channels;
          const want =
            img.channels === 1
              ? [img.data[at], img.data[at], img.data[at]]
              : [img.data[at], img.data[at + 1], img.data[at + 2]];
          assert.deepEqual(canvas.pixel(2 + x, 1 + y), want);
        }
      assert.deepEqual(canvas.pixel(0, 0), [255, 255, 255]); // outside the blit: untouched
      const viaScaled = new Canvas(img.width * s + 3, img.height * s + 2, WHITE).blit(scaleNearest(img, s), 2, 1);
      assert.deepEqual(viaScaled.data, canvas.data); // blit(·, s) = blit(scaleNearest(·, s), 1)
    }),
    { numRuns: 40 },
  );
});

test("scaleNearest repeats each pixel factor×factor", () => {
  const img: Image = { width: 2, height: 1, channels: 1, data: Uint8Array.from([10, 20]) };
  assert.deepEqual(Array.from(scaleNearest(img, 2).data), [10, 10, 20, 20, 10, 10, 20, 20]);
  assert.throws(() => scaleNearest(img, 1.5), /positive integer/);
});

test("a line touches both endpoints and only pixels between them", () => {
  const c = new Canvas(20, 10, WHITE).line(2, 3, 15, 8, BLACK);
  assert.deepEqual(c.pixel(2, 3), [0, 0, 0]);
  assert.deepEqual(c.pixel(15, 8), [0, 0, 0]);
  let n = 0;
  for (let y = 0; y < 10; y++)
    for (let x = 0; x < 20; x++) {
      if (c.pixel(x, y)[0] === 0) {
        n++;
        assert.ok(x >= 2 && x <= 15 && y >= 3 && y <= 8);
      }
    }
  assert.equal(n, 14); // one pixel per column along the major axis
});

test("text draws inside its box (textWidth × 7·scale) and nowhere else; clipping at the edge is silent", () => {
  const c = new Canvas(80, 30, WHITE).text("Hi 42", 3, 4, BLACK, 2);
  let inked = 0;
  for (let y = 0; y < 30; y++)
    for (let x = 0; x < 80; x++) {
      if (c.pixel(x, y)[0] !== 255) {
        inked++;
        assert.ok(x >= 3 && x < 3 + textWidth("Hi 42", 2) && y >= 4 && y < 4 + 14, `ink at ${x},${y}`);
      }
    }
  assert.ok(inked > 50);
  new Canvas(5, 5).text("overflowing text", 2, 2); // no throw
  assert.throws(() => new Canvas(0, 3), /positive integers/);
});
