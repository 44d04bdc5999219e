// A confusion matrix as a picture: one cell per (true, predicted) class pair, shaded by the fraction of the true
// class it holds (white 0 → dark blue 1), the count written in the cell where it fits, class names on both axes.

import type { Image } from "../io/image.ts";
import { writePngFile } from "../node/imageFile.ts";
import { BLACK, Canvas, scaleNearest, WHITE, type RGB } from "./canvas.ts";
import { GLYPH_HEIGHT, LINE_HEIGHT, textWidth } from "./font.ts";

const PAD = 10;
const DARK: RGB = [8, 48, 107];

/** The shade of a cell holding `fraction` of its row: white to dark blue. */
export function cellColor(fraction: number): RGB {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  return [0, 1, 2].map((c) => Math.round(WHITE[c] + (DARK[c] - WHITE[c]) * f)) as unknown as RGB;
}

/** confusion[true][predicted] counts, K×K, with K class names (at most 12 characters of each are shown). */
export function renderConfusionMatrix(
  confusion: readonly (readonly number[])[],
  classNames: readonly string[],
  title = "confusion matrix",
): Image {
  const k = confusion.length;
  if (k === 0 || confusion.some((row) => row.length !== k) || classNames.length !== k)
    throw new RangeError(
      `renderConfusionMatrix: need a K×K matrix and K class names, got ${k} rows and ${classNames.length} names`,
    );
  const names = classNames.map((n) => (n.length > 12 ? `${n.slice(0, 11)}~` : n));
  const widest = Math.max(...confusion.flat().map((c) => textWidth(String(c))));
  const cell = Math.max(12, Math.min(48, widest + 6));
  const nameWidth = Math.max(...names.map((n) => textWidth(n)));
  const left = PAD + LINE_HEIGHT + 4 + nameWidth + 4; // "true" label, the row names
  const top = PAD + 2 * LINE_HEIGHT + nameWidth + 4; // title, "predicted", the column names (written upwards)
  const width = Math.max(left + k * cell + PAD, PAD * 2 + textWidth(title));
  const height = top + k * cell + PAD;
  const canvas = new Canvas(width, height);
  canvas.text(title, PAD, PAD);
  canvas.text("predicted", left + Math.max(0, (k * cell - textWidth("predicted")) / 2), PAD + LINE_HEIGHT);
  verticalText(canvas, "true", PAD, top + Math.max(0, (k * cell - textWidth("true")) / 2) + textWidth("true"));
  names.forEach((n, i) => {
    canvas.text(n, left - 4 - textWidth(n), top + i * cell + (cell - GLYPH_HEIGHT) / 2);
    verticalText(canvas, n, left + i * cell + (cell - GLYPH_HEIGHT) / 2, top - 4);
  });
  confusion.forEach((row, t) => {
    const total = row.reduce((s, c) => s + c, 0);
    row.forEach((count, p) => {
      const fraction = total > 0 ? count / total : 0;
      const x = left + p * cell;
      const y = top + t * cell;
      canvas.fillRect(x, y, cell, cell, cellColor(fraction));
      const label = String(count);
      if (count > 0 && textWidth(label) <= cell - 2)
        canvas.text(
          label,
          x + (cell - textWidth(label)) / 2,
          y + (cell - GLYPH_HEIGHT) / 2,
          fraction > 0.5 ? WHITE : BLACK,
        );
    });
  });
  for (let i = 0; i <= k; i++) {
    canvas.line(left, top + i * cell, left + k * cell, top + i * cell, [200, 200, 200]);
    canvas.line(left + i * cell, top, left + i * cell, top + k * cell, [200, 200, 200]);
  }
  // The 5×7 font is small: small matrices are drawn at twice the size.
  return k <= 20 ? scaleNearest(canvas.toImage(), 2) : canvas.toImage();
}

/** Text written bottom-to-top with its baseline at x, ending at y (glyphs drawn on a strip, then turned). */
function verticalText(canvas: Canvas, text: string, x: number, bottom: number): void {
  const w = textWidth(text);
  if (w === 0) return;
  const strip = new Canvas(w, GLYPH_HEIGHT).text(text, 0, 0);
  for (let sy = 0; sy < GLYPH_HEIGHT; sy++)
    for (let sx = 0; sx < w; sx++) {
      const c = strip.pixel(sx, sy);
      if (c[0] < 128) canvas.setPixel(Math.round(x) + sy, Math.round(bottom) - sx, c);
    }
}

export function writeConfusionPng(
  path: string,
  confusion: readonly (readonly number[])[],
  classNames: readonly string[],
  title?: string,
): void {
  const image = renderConfusionMatrix(confusion, classNames, title);
  writePngFile(path, image.data, image.width, image.height, 3);
}
