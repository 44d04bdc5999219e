// The image grid: its size from the layout, the images exactly in their cells, headers above, errors.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Image } from "../../src/io/image.ts";
import { decodeImage, encodePng } from "../../src/io/image.ts";
import { GRID_PAD, gridLayout, MIN_CELL_WIDTH, renderGrid } from "../../src/viz/grid.ts";
import { LINE_HEIGHT } from "../../src/viz/font.ts";

const solid = (v: number, w = 28, h = 20, channels: 1 | 3 = 1): Image => ({
  width: w,
  height: h,
  channels,
  data: new Uint8Array(w * h * channels).map((_, i) => (v + i) % 256),
});

test("a 3×4 grid of 28×20 gray images: cells enlarged ×5, size = pads + cells + header + caption, images exact", () => {
  const rows = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => solid(r * 40 + c * 7)));
  const headers = ["original", "masked", "reconstruction", "reconstruction + visible"];
  const opts = { headers, rows, caption: "one short caption" };
  const layout = gridLayout(opts);
  assert.equal(layout.scale, Math.ceil(MIN_CELL_WIDTH / 28)); // 5
  assert.equal(layout.cellWidth, 140);
  assert.equal(layout.width, GRID_PAD + 4 * (140 + GRID_PAD));
  assert.equal(layout.headerHeight, GRID_PAD + 2 * LINE_HEIGHT); // the last header wraps to two lines
  assert.equal(layout.height, layout.headerHeight + 3 * (100 + GRID_PAD) + LINE_HEIGHT + GRID_PAD);
  // Through a PNG round trip, as the CLI writes it.
  const png = decodeImage(encodePng(renderGrid(opts).data, layout.width, layout.height, 3), "grid");
  assert.equal(png.width, layout.width);
  assert.equal(png.height, layout.height);
  rows.forEach((row, r) =>
    row.forEach((img, c) => {
      const [x0, y0] = layout.cellOrigin(r, c);
      for (let y = 0; y < layout.cellHeight; y += 3)
        for (let x = 0; x < layout.cellWidth; x += 3) {
          const v = img.data[Math.floor(y / 5) * 28 + Math.floor(x / 5)];
          const at = 3 * ((y0 + y) * png.width + x0 + x);
          assert.deepEqual(
            [png.data[at], png.data[at + 1], png.data[at + 2]],
            [v, v, v],
            `cell (${r}, ${c}) at ${x},${y}`,
          );
        }
    }),
  );
  // The header band holds ink: the headers.
  let ink = 0;
  for (let p = 0; p < png.width * (layout.headerHeight - 1); p++) if (png.data[3 * p] === 0) ink++;
  assert.ok(ink > 100);
});

test("large images keep scale 1; an explicit scale is honoured; no caption, no caption band", () => {
  const big = gridLayout({ headers: ["a"], rows: [[solid(0, 200, 100, 3)]] });
  assert.equal(big.scale, 1);
  assert.equal(big.height, GRID_PAD + LINE_HEIGHT + 100 + GRID_PAD);
  assert.equal(gridLayout({ headers: ["a"], rows: [[solid(0)]], scale: 2 }).cellWidth, 56);
});

test("mismatched sizes, ragged rows and empty grids are clear errors", () => {
  assert.throws(
    () => renderGrid({ headers: ["a", "b"], rows: [[solid(0), solid(0, 10, 10)]] }),
    /image \(0, 1\) is 10x10, the first is 28x20/,
  );
  assert.throws(
    () => renderGrid({ headers: ["a", "b"], rows: [[solid(0)]] }),
    /row 0 has 1 images for 2 column headers/,
  );
  assert.throws(() => renderGrid({ headers: ["a"], rows: [] }), /no rows/);
  assert.throws(() => renderGrid({ headers: ["a"], rows: [[solid(0)]], scale: 0 }), /scale must be a positive integer/);
});
