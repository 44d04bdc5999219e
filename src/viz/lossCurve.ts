// The training-loss curve as a PNG: axes with numbered ticks, a title, linear or log10 loss axis.

import type { Image } from "../io/image.ts";
import { writePngFile } from "../node/imageFile.ts";
import { BLACK, Canvas, WHITE, type RGB } from "./canvas.ts";
import { LINE_HEIGHT, textWidth } from "./font.ts";

export interface LossPoint {
  step: number;
  loss: number;
}

export interface LossCurveOptions {
  width?: number; //  default 640
  height?: number; // default 400
  title?: string; //  default "training loss"
  /** Plot log10(loss) (ticks at 1, 2, 5 × 10^k); points with loss <= 0 are left out. */
  logScale?: boolean;
  xLabel?: string; // default "step"
  yLabel?: string; // default "loss" (or "loss (log scale)")
  color?: RGB;
}

const GRID: RGB = [225, 225, 225];
const CURVE: RGB = [31, 119, 180]; // matplotlib's first colour
const TICK = 4;
const PAD = 8;

/**
 * Renders `points` as a line plot. Non-finite losses are skipped (the line breaks there); an empty
 * series still gives the axes with a "no data" note, so a training loop can call this from step 0.
 */
export function renderLossCurve(points: readonly LossPoint[], opts: LossCurveOptions = {}): Image {
  const { width = 640, height = 400, logScale = false, title = "training loss", xLabel = "step" } = opts;
  const yLabel = opts.yLabel ?? (logScale ? "loss (log scale)" : "loss");
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 160 || height < 120) {
    throw new RangeError(`renderLossCurve: the picture must be at least 160x120 pixels, got ${width}x${height}`);
  }
  const usable = (p: LossPoint) => Number.isFinite(p.step) && Number.isFinite(p.loss) && (!logScale || p.loss > 0);
  const data = [...points].sort((a, b) => a.step - b.step);
  const ys = (p: LossPoint) => (logScale ? Math.log10(p.loss) : p.loss);
  const good = data.filter(usable);

  const [x0, x1] = paddedRange(
    good.map((p) => p.step),
    0,
  );
  const [y0, y1] = paddedRange(good.map(ys), 0.05);
  const xTicks = niceTicks(x0, x1, 6);
  const yTicks = logScale ? logTicks(10 ** y0, 10 ** y1).map(Math.log10) : niceTicks(y0, y1, 5);
  const yLabels = logScale
    ? yTicks.map((t) => formatSignificant(10 ** t))
    : yTicks.map((t) => formatTick(t, tickStep(yTicks)));
  const xLabels = xTicks.map((t) => formatTick(t, tickStep(xTicks)));

  // The plot rectangle: room on the left for the widest y label, above for the title and y label.
  const left = PAD + Math.max(0, ...yLabels.map((l) => textWidth(l))) + TICK + 4;
  const top = PAD + 2 * LINE_HEIGHT + LINE_HEIGHT;
  const right = width - PAD - Math.ceil(textWidth(xLabels[xLabels.length - 1] ?? "") / 2);
  const bottom = height - PAD - 2 * LINE_HEIGHT - TICK;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);

  const canvas = new Canvas(width, height, WHITE);
  canvas.text(title, Math.round((width - textWidth(title, 2)) / 2), PAD, BLACK, 2);
  canvas.text(yLabel, PAD, top - LINE_HEIGHT - 2, BLACK);
  canvas.text(xLabel, Math.round((left + right - textWidth(xLabel)) / 2), height - PAD - LINE_HEIGHT + 2, BLACK);
  yTicks.forEach((t, i) => {
    const y = Math.round(py(t));
    canvas.line(left + 1, y, right, y, GRID).line(left - TICK, y, left, y, BLACK);
    canvas.text(yLabels[i], left - TICK - 3 - textWidth(yLabels[i]), y - 3, BLACK);
  });
  xTicks.forEach((t, i) => {
    const x = Math.round(px(t));
    canvas.line(x, top, x, bottom - 1, GRID).line(x, bottom, x, bottom + TICK, BLACK);
    canvas.text(xLabels[i], x - Math.floor(textWidth(xLabels[i]) / 2), bottom + TICK + 3, BLACK);
  });
  canvas.line(left, top, left, bottom, BLACK).line(left, bottom, right, bottom, BLACK);

  const color = opts.color ?? CURVE;
  let previous: [number, number] | undefined;
  for (const p of data) {
    if (!usable(p)) {
      previous = undefined;
      continue;
    } // a NaN loss breaks the line
    const here: [number, number] = [px(p.step), py(ys(p))];
    if (previous) canvas.line(previous[0], previous[1], here[0], here[1], color);
    previous = here;
  }
  if (good.length === 1) canvas.fillRect(px(good[0].step) - 1, py(ys(good[0])) - 1, 3, 3, color);
  if (good.length === 0)
    canvas.text(
      "no data",
      Math.round((left + right - textWidth("no data")) / 2),
      Math.round((top + bottom) / 2),
      BLACK,
    );
  return canvas.toImage();
}

/** Renders and writes the loss curve as a PNG, atomically (temp file + rename). */
export function writeLossCurvePng(path: string, points: readonly LossPoint[], opts: LossCurveOptions = {}): void {
  const image = renderLossCurve(points, opts);
  writePngFile(path, image.data, image.width, image.height, 3);
}

/** [min, max] of `values` widened by `pad` of the span on each side; a single value gets a unit-sized range. */
function paddedRange(values: readonly number[], pad: number): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    const half = Math.abs(hi) > 0 ? Math.abs(hi) * 0.1 : 1;
    return [lo - half, hi + half];
  }
  const span = hi - lo;
  lo -= pad * span;
  hi += pad * span;
  return [lo, hi];
}

/** About `target` round tick values (1, 2 or 5 × 10^k apart) inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const raw = (hi - lo) / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + 1e-9 * step; i++) ticks.push(i * step);
  return ticks;
}

/** Log-axis tick values in [lo, hi] (lo > 0): 1, 2, 5 × 10^k; only powers of ten over wide ranges, 1..9 × 10^k over narrow ones. */
export function logTicks(lo: number, hi: number): number[] {
  const within = (mantissas: number[]) => {
    const out: number[] = [];
    for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
      for (const m of mantissas) {
        const v = m * 10 ** k;
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    }
    return out;
  };
  const mid = within([1, 2, 5]);
  if (mid.length > 10) return within([1]);
  if (mid.length < 2) return within([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return mid;
}

function tickStep(ticks: readonly number[]): number {
  return ticks.length > 1 ? ticks[1] - ticks[0] : 1;
}

/** A tick label with as many decimals as the tick spacing needs ("0.5", "0.05", "1000"); exponent form when huge or tiny. */
export function formatTick(v: number, step: number): string {
  if (Math.abs(v) < step * 1e-6) return "0";
  if (Math.abs(v) >= 1e6 || step < 1e-4) return v.toExponential(1);
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

/** Three significant digits, without trailing zeros ("0.002", "50", "1e+6"). */
export function formatSignificant(v: number): string {
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}
