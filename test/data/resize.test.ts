// PIL-exact resizing: bilinear worked by hand, every filter against PIL 9.4's output, and structural properties.

import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { Image } from "../../src/io/image.ts";
import { resize, type ResampleFilter } from "../../src/data/resize.ts";

const gray = (width: number, height: number, values: number[]): Image => ({
  width,
  height,
  channels: 1,
  data: Uint8Array.from(values),
});
const ONE = 2 ** 22; // PIL's fixed-point one

describe("bilinear by hand (PIL's triangle filter, 22-bit weights, round after each pass)", () => {
  test("2x2 -> 4x4 upsampling: weights 1 | 3/4, 1/4 | 1/4, 3/4 | 1 on each axis", () => {
    // Upsampling keeps the kernel at support 1. Output centres (i + 0.5)/2 fall at 0.25, 0.75, 1.25, 1.75
    // input pixels; taps reaching outside the image are cut and the rest renormalised, so the edges copy.
    const out = resize(gray(2, 2, [0, 255, 100, 20]), 4, 4, "bilinear");
    const lerp = (a: number, b: number, wa: number) =>
      Math.floor((a * Math.round(wa * ONE) + b * Math.round((1 - wa) * ONE) + ONE / 2) / ONE);
    const pass = (a: number, b: number) => [a, lerp(a, b, 0.75), lerp(a, b, 0.25), b];
    const rows = [pass(0, 255), pass(100, 20)]; // horizontal pass: [0, 64, 191, 255] and [100, 80, 40, 20]
    assert.deepEqual(rows, [
      [0, 64, 191, 255],
      [100, 80, 40, 20],
    ]);
    const expected: number[][] = [[], [], [], []];
    for (let x = 0; x < 4; x++) pass(rows[0][x], rows[1][x]).forEach((v, y) => (expected[y][x] = v));
    assert.deepEqual(expected, [
      [0, 64, 191, 255],
      [25, 68, 153, 196],
      [75, 76, 78, 79],
      [100, 80, 40, 20],
    ]);
    assert.deepEqual([...out.data], expected.flat());
  });

  test("4x4 -> 2x2 downsampling: the kernel doubles (support 2), taps 3/7, 3/7, 1/7 and 1/7, 3/7, 3/7", () => {
    // Output 0 centres on input 1.0: taps at 0.5, 1.5, 2.5 weigh tri(0.25), tri(0.25), tri(0.75) = .75, .75, .25.
    const w3 = Math.round((3 / 7) * ONE); // 1797559
    const w1 = Math.round((1 / 7) * ONE); // 599186
    const tap = (a: number, b: number, c: number, wa: number, wb: number, wc: number) =>
      Math.floor((a * wa + b * wb + c * wc + ONE / 2) / ONE);
    const src = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 200, 210, 220, 255];
    const rows = [0, 1, 2, 3].map((y) => {
      const r = src.slice(4 * y, 4 * y + 4);
      return [tap(r[0], r[1], r[2], w3, w3, w1), tap(r[1], r[2], r[3], w1, w3, w3)];
    });
    const col = (x: number) => [
      tap(rows[0][x], rows[1][x], rows[2][x], w3, w3, w1),
      tap(rows[1][x], rows[2][x], rows[3][x], w1, w3, w3),
    ];
    const expected = [col(0)[0], col(1)[0], col(0)[1], col(1)[1]];
    // Rows become [17, 33], [57, 73], [97, 113], [207, 234]; then e.g. (3·17 + 3·57 + 97)/7 = 45.6 -> 46. PIL agrees.
    assert.deepEqual(expected, [46, 62, 138, 159]);
    assert.deepEqual([...resize(gray(4, 4, src), 2, 2, "bilinear").data], expected);
  });
});

describe("every PIL filter, against PIL 9.4", () => {
  // Image.fromarray(SRC, "L").resize((4, 7), f): down in x (6 -> 4), up in y (5 -> 7).
  const SRC = gray(
    6,
    5,
    [
      12, 200, 45, 90, 255, 0, 77, 33, 180, 210, 16, 128, 250, 5, 64, 140, 99, 31, 0, 255, 120, 60, 175, 222, 43, 188,
      11, 240, 7, 150,
    ],
  );
  const PIL: Record<ResampleFilter, number[]> = {
    nearest: [
      12, 45, 90, 0, 77, 180, 210, 128, 77, 180, 210, 128, 250, 64, 140, 31, 0, 120, 60, 222, 0, 120, 60, 222, 43, 11,
      240, 150,
    ],
    box: [
      106, 45, 173, 0, 55, 180, 113, 128, 55, 180, 113, 128, 128, 64, 120, 31, 128, 120, 118, 222, 128, 120, 118, 222,
      116, 11, 124, 150,
    ],
    bilinear: [
      83, 102, 140, 96, 70, 120, 141, 90, 89, 111, 135, 78, 158, 53, 118, 57, 114, 128, 109, 162, 96, 131, 119, 158, 97,
      95, 137, 96,
    ],
    hamming: [
      64, 88, 134, 71, 65, 123, 149, 88, 78, 131, 154, 92, 182, 50, 127, 50, 83, 144, 96, 192, 75, 124, 119, 176, 83,
      64, 172, 110,
    ],
    bicubic: [
      86, 97, 146, 97, 60, 128, 147, 89, 80, 114, 143, 68, 162, 40, 128, 53, 114, 139, 98, 181, 93, 144, 112, 169, 100,
      92, 142, 84,
    ],
    lanczos: [
      98, 88, 147, 106, 53, 137, 147, 93, 73, 113, 150, 47, 161, 32, 137, 50, 124, 138, 90, 193, 91, 161, 99, 176, 102,
      99, 133, 73,
    ],
  };
  for (const [filter, expected] of Object.entries(PIL) as [ResampleFilter, number[]][]) {
    test(filter, () => assert.deepEqual([...resize(SRC, 4, 7, filter).data], expected));
  }

  test("RGB bicubic downsampling treats each channel alike (PIL: 6x5 -> 3x2)", () => {
    const rgb = new Uint8Array(90);
    SRC.data.forEach((v, p) => rgb.set([v, 255 - v, (v * 3) % 256], 3 * p));
    const out = resize({ width: 6, height: 5, channels: 3, data: rgb }, 3, 2, "bicubic");
    assert.deepEqual(
      [...out.data],
      [90, 165, 121, 126, 129, 98, 99, 156, 95, 116, 139, 113, 113, 142, 128, 127, 128, 98],
    );
  });
});

describe("properties", () => {
  const filters: ResampleFilter[] = ["nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"];
  const image = fc.record({
    w: fc.integer({ min: 1, max: 12 }),
    h: fc.integer({ min: 1, max: 12 }),
    v: fc.integer({ min: 0, max: 255 }),
  });

  test("a constant image stays constant at any size, with any filter (weights sum to one)", () => {
    fc.assert(
      fc.property(
        image,
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom(...filters),
        ({ w, h, v }, ow, oh, filter) => {
          const out = resize(gray(w, h, Array(w * h).fill(v)), ow, oh, filter);
          assert.equal(out.data.length, ow * oh);
          assert.ok(
            out.data.every((x) => x === v),
            `${filter} ${w}x${h} -> ${ow}x${oh} of ${v}: ${[...out.data]}`,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  test("resizing to the same size is the identity; the input is never modified", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.constantFrom(...filters), (data, filter) => {
        const before = data.slice();
        const img = gray(4, 3, [...data]);
        assert.deepEqual(resize(img, 4, 3, filter).data, img.data);
        resize(img, 7, 2, filter);
        assert.deepEqual(img.data, before);
      }),
      { numRuns: 50 },
    );
  });

  test("a bad target size is refused", () => {
    assert.throws(() => resize(gray(2, 2, [1, 2, 3, 4]), 0, 3, "bilinear"), /positive integers, got 0x3/);
  });
});
