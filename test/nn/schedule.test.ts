// The learning-rate schedule against MAE's util/lr_sched.py computed by hand, and the linear scaling rule.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { lrAt, scaledLr, type CosineSchedule } from "../../src/nn/schedule.ts";

const close = (actual: number, expected: number, label: string) =>
  assert.ok(
    Math.abs(actual - expected) <= 1e-12 * Math.max(1e-6, Math.abs(expected)),
    `${label}: got ${actual}, expected ${expected}`,
  );

test("lrAt: linear warmup from 0, then half-cycle cosine to minLr (hand-computed table)", () => {
  const s: CosineSchedule = { lr: 1e-3, minLr: 1e-5, warmupSteps: 4, totalSteps: 20 };
  // Warmup: lr·step/4. After it: 1e-5 + (1e-3 − 1e-5)·½·(1 + cos(π·(step − 4)/16)), with
  // cos(π/8) = 0.92387953..., cos(π/4) = 0.70710678..., cos(3π/8) = 0.38268343..., cos(π/2) = 0, cos(3π/4) = −0.70710678...
  const table: [number, number][] = [
    [0, 0],
    [1, 2.5e-4],
    [2, 5e-4],
    [2.5, 6.25e-4], //               MAE adjusts per iteration, at fractional epochs
    [3, 7.5e-4],
    [4, 1e-3], //                    the peak: cos(0) = 1
    [6, 9.62320368593087e-4], //     1e-5 + 4.95e-4·(1 + cos(π/8))
    [8, 8.55017856687341e-4], //     1e-5 + 4.95e-4·(1 + cos(π/4))
    [10, 6.944282990207195e-4], //   1e-5 + 4.95e-4·(1 + cos(3π/8))
    [12, 5.05e-4], //                1e-5 + 4.95e-4·(1 + 0): halfway between peak and floor
    [16, 1.54982143312659e-4], //    1e-5 + 4.95e-4·(1 − cos(π/4))
    [20, 1e-5], //                   the floor: cos(π) = −1
  ];
  for (const [step, lr] of table) close(lrAt(s, step), lr, `step ${step}`);
});

test("lrAt: no warmup starts at the peak; past the end it stays at minLr; warmup = whole run never divides by 0", () => {
  close(lrAt({ lr: 2e-3, minLr: 0, warmupSteps: 0, totalSteps: 10 }, 0), 2e-3, "warmup 0, step 0");
  close(lrAt({ lr: 2e-3, minLr: 0, warmupSteps: 0, totalSteps: 10 }, 5), 1e-3, "warmup 0, halfway");
  close(lrAt({ lr: 1e-3, minLr: 1e-5, warmupSteps: 4, totalSteps: 20 }, 25), 1e-5, "past the end");
  const all = { lr: 1e-3, minLr: 0, warmupSteps: 10, totalSteps: 10 };
  close(lrAt(all, 5), 5e-4, "inside a whole-run warmup");
  assert.ok(Number.isFinite(lrAt(all, 10)), "at the end of a whole-run warmup");
});

test("lrAt (property): rises during warmup, then never increases and stays within [minLr, lr]", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 1e-6, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 50 }),
      fc.integer({ min: 1, max: 200 }),
      (lr, minFrac, warmupSteps, extra) => {
        const s = { lr, minLr: lr * minFrac, warmupSteps, totalSteps: warmupSteps + extra };
        for (let step = 1; step <= warmupSteps; step++) assert.ok(lrAt(s, step) > lrAt(s, step - 1));
        for (let step = warmupSteps; step < s.totalSteps; step++) {
          const [a, b] = [lrAt(s, step), lrAt(s, step + 1)];
          assert.ok(b <= a + 1e-15 && b >= s.minLr - 1e-15 && a <= lr + 1e-15, `step ${step}: ${a} -> ${b}`);
        }
      },
    ),
    { numRuns: 100 },
  );
});

test("scaledLr: blr × effective batch / 256 (MAE's linear scaling rule)", () => {
  close(scaledLr(1.5e-4, 4096), 2.4e-3, "MAE's ImageNet run: blr 1.5e-4 at batch 4096");
  close(scaledLr(1.5e-4, 256), 1.5e-4, "batch 256 is the reference");
  close(scaledLr(1e-3, 8 * 4), 1.25e-4, "batch 8 × accum 4");
  close(scaledLr(2e-4, 64), 5e-5, "batch 64");
});
