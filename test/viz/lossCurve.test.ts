// The loss-curve PNG: its size, that it draws a curve, log scale, degenerate series; tick helpers.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import type { Image } from "../../src/io/image.ts";
import { readImageFile } from "../../src/node/imageFile.ts";
import { formatTick, logTicks, niceTicks, renderLossCurve, writeLossCurvePng } from "../../src/viz/lossCurve.ts";

const points = Array.from({ length: 200 }, (_, i) => ({ step: i * 5, loss: 2 * Math.exp(-i / 40) + 0.1 }));
const CURVE = [31, 119, 180];

function count(img: Image, rgb: readonly number[]): number {
  let n = 0;
  for (let p = 0; p < img.width * img.height; p++)
    if (img.data[3 * p] === rgb[0] && img.data[3 * p + 1] === rgb[1] && img.data[3 * p + 2] === rgb[2]) n++;
  return n;
}

/** Rows (top to bottom) in which the curve colour appears, per column: the curve falls left to right. */
function curveRowAt(img: Image, x: number): number {
  for (let y = 0; y < img.height; y++) {
    const at = 3 * (y * img.width + x);
    if (img.data[at] === CURVE[0] && img.data[at + 1] === CURVE[1] && img.data[at + 2] === CURVE[2]) return y;
  }
  return -1;
}

test("writeLossCurvePng writes an RGB PNG of the asked size that decodes, with a falling curve, text and axes", () => {
  const dir = mkdtempSync(join(tmpdir(), "vitmae-loss-"));
  try {
    const path = join(dir, "loss.png");
    writeLossCurvePng(path, points, { width: 500, height: 300 });
    const img = readImageFile(path);
    assert.equal(img.width, 500);
    assert.equal(img.height, 300);
    assert.equal(img.channels, 3);
    assert.ok(count(img, CURVE) > 300, "the curve is drawn");
    assert.ok(count(img, [0, 0, 0]) > 500, "axes and text are drawn");
    assert.ok(count(img, [255, 255, 255]) > 0.5 * 500 * 300, "mostly background");
    const early = curveRowAt(img, 120);
    const late = curveRowAt(img, 450);
    assert.ok(early >= 0 && late >= 0 && early < late, `the loss falls: row ${early} then ${late}`);
    assert.deepEqual(readdirSync(dir), ["loss.png"]); // no temp file left behind
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("log scale: an exponential decay becomes a straight line (equal row drops for equal steps)", () => {
  const decay = Array.from({ length: 101 }, (_, i) => ({ step: i, loss: 10 ** (-i / 50) })); // 1 → 0.01
  const img = renderLossCurve(decay, { logScale: true });
  const rows = [150, 300, 450].map((x) => curveRowAt(img, x));
  assert.ok(rows.every((r) => r >= 0));
  assert.ok(Math.abs(rows[1] - rows[0] - (rows[2] - rows[1])) <= 2, `rows ${rows}`);
});

test("degenerate series draw without throwing: empty, one point, constant, NaN gaps, non-positive losses on a log axis", () => {
  for (const series of [
    [],
    [{ step: 3, loss: 0.5 }],
    [
      { step: 0, loss: 1 },
      { step: 1, loss: 1 },
    ],
    [
      { step: 0, loss: 1 },
      { step: 1, loss: NaN },
      { step: 2, loss: 0.5 },
    ],
  ]) {
    const img = renderLossCurve(series, { width: 200, height: 150 });
    assert.equal(img.data.length, 200 * 150 * 3);
    assert.ok(count(img, [0, 0, 0]) > 100);
  }
  const img = renderLossCurve(
    [
      { step: 0, loss: 0 },
      { step: 1, loss: -1 },
      { step: 2, loss: 1 },
      { step: 3, loss: 0.1 },
    ],
    { logScale: true },
  );
  assert.ok(count(img, CURVE) > 10);
  assert.throws(() => renderLossCurve(points, { width: 50 }), /at least 160x120/);
});

test("niceTicks: inside the range, evenly spaced by 1, 2 or 5 × 10^k, about the asked count (property)", () => {
  fc.assert(
    fc.property(
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
      (lo, span) => {
        const ticks = niceTicks(lo, lo + span, 5);
        assert.ok(ticks.length >= 2 && ticks.length <= 11, `${ticks.length} ticks`);
        const step = ticks[1] - ticks[0];
        const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
        assert.ok(
          [1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6),
          `step ${step}`,
        );
        for (const t of ticks) assert.ok(t >= lo - 1e-9 * span && t <= lo + span + 1e-9 * span);
      },
    ),
  );
});

test("logTicks and formatTick on known values", () => {
  assert.deepEqual(logTicks(0.01, 1.5), [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]);
  assert.deepEqual(logTicks(1e-6, 1e3).length, 10); // only powers of ten over a wide range
  assert.deepEqual(logTicks(0.3, 0.45).length >= 1, true);
  assert.equal(formatTick(0.30000000000000004, 0.1), "0.3");
  assert.equal(formatTick(1500, 500), "1500");
  assert.equal(formatTick(0.05, 0.05), "0.05");
  assert.equal(formatTick(2e7, 1e7), "2.0e+7");
});
