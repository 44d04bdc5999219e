// Painting the playground's pictures on canvases: an 8-bit picture scaled up with square pixels, the
// patch grid, and per-patch maps (error, attention) as colours over a faint copy of the digit.

import type { Picture } from "./protocol.ts";

/** Canvas pixels per image pixel. */
export const SCALE = 6;

/** Draws `picture` filling the canvas (nearest-neighbour, so patches stay sharp). */
export function paintPicture(canvas: HTMLCanvasElement, picture: Picture, alpha = 1): void {
  const ctx = canvas.getContext("2d")!;
  const rgba = new ImageData(picture.width, picture.height);
  for (let p = 0; p < picture.width * picture.height; p++) {
    for (let k = 0; k < 3; k++)
      rgba.data[4 * p + k] = picture.data[p * picture.channels + (picture.channels === 3 ? k : 0)];
    rgba.data[4 * p + 3] = 255;
  }
  const small = new OffscreenCanvas(picture.width, picture.height);
  small.getContext("2d")!.putImageData(rgba, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.globalAlpha = alpha;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  ctx.globalAlpha = 1;
}

/** Thin lines between the patches of a `grid` [rows, cols]. */
export function paintGrid(
  canvas: HTMLCanvasElement,
  grid: [number, number],
  colour = "rgba(120, 160, 255, 0.35)",
): void {
  const ctx = canvas.getContext("2d")!;
  ctx.strokeStyle = colour;
  ctx.lineWidth = 1;
  const [rows, cols] = grid;
  ctx.beginPath();
  for (let i = 1; i < rows; i++) {
    const y = Math.round((i * canvas.height) / rows) + 0.5;
    ctx.moveTo(0, y);
    ctx.lineTo(canvas.width, y);
  }
  for (let j = 1; j < cols; j++) {
    const x = Math.round((j * canvas.width) / cols) + 0.5;
    ctx.moveTo(x, 0);
    ctx.lineTo(x, canvas.height);
  }
  ctx.stroke();
}

/** A dark-to-bright colour for t in [0, 1] (black, purple, red, orange, yellow: an "inferno"-like ramp). */
export function heat(t: number): string {
  const stops = [
    [0, 0, 4],
    [87, 16, 110],
    [188, 55, 84],
    [249, 142, 9],
    [252, 255, 164],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/**
 * One colour per patch from `values` (scaled by their largest finite value), over a faint copy of
 * `picture`; NaN patches are left grey. Returns the scale's top.
 */
export function paintPatchMap(
  canvas: HTMLCanvasElement,
  picture: Picture,
  grid: [number, number],
  values: Float32Array,
): number {
  const ctx = canvas.getContext("2d")!;
  const [rows, cols] = grid;
  const top = values.reduce((m, v) => (Number.isFinite(v) && v > m ? v : m), 0);
  const [w, h] = [canvas.width / cols, canvas.height / rows];
  ctx.fillStyle = "#777";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  values.forEach((v, p) => {
    if (!Number.isFinite(v)) return;
    ctx.fillStyle = heat(top > 0 ? v / top : 0);
    ctx.fillRect((p % cols) * w, Math.floor(p / cols) * h, w, h);
  });
  paintPicture(canvas, picture, 0.25);
  paintGrid(canvas, grid);
  return top;
}

/** The patch under a click at (x, y) in CSS pixels of a canvas showing a `grid`. */
export function patchAt(canvas: HTMLCanvasElement, grid: [number, number], x: number, y: number): number {
  const [rows, cols] = grid;
  const rect = canvas.getBoundingClientRect();
  const col = Math.min(cols - 1, Math.max(0, Math.floor((x / rect.width) * cols)));
  const row = Math.min(rows - 1, Math.max(0, Math.floor((y / rect.height) * rows)));
  return row * cols + col;
}
