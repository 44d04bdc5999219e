// An 8-bit RGB raster to draw figures on: fill, rectangles, lines, bitmap-font text, image blits.

import type { Image } from "../io/image.ts";
import { writePngFile } from "../node/imageFile.ts";
import { ADVANCE, glyph, GLYPH_HEIGHT, GLYPH_WIDTH, LINE_HEIGHT } from "./font.ts";

export type RGB = readonly [number, number, number];

export const WHITE: RGB = [255, 255, 255];
export const BLACK: RGB = [0, 0, 0];

/** Row-major HWC RGB pixels; every drawing call clips to the canvas. */
export class Canvas {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: RGB = WHITE,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`Canvas: width and height must be positive integers, got ${width}x${height}`);
    }
    this.data = new Uint8Array(width * height * 3);
    this.fill(background);
  }

  fill(color: RGB): this {
    return this.fillRect(0, 0, this.width, this.height, color);
  }

  setPixel(x: number, y: number, color: RGB): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const at = (y * this.width + x) * 3;
    this.data[at] = color[0];
    this.data[at + 1] = color[1];
    this.data[at + 2] = color[2];
  }

  /** The colour at (x, y). */
  pixel(x: number, y: number): RGB {
    const at = (y * this.width + x) * 3;
    return [this.data[at], this.data[at + 1], this.data[at + 2]];
  }

  fillRect(x: number, y: number, w: number, h: number, color: RGB): this {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, color);
    return this;
  }

  /** A one-pixel line from (x0, y0) to (x1, y1), endpoints rounded (Bresenham). */
  line(x0: number, y0: number, x1: number, y1: number, color: RGB): this {
    let [x, y] = [Math.round(x0), Math.round(y0)];
    const [xe, ye] = [Math.round(x1), Math.round(y1)];
    const dx = Math.abs(xe - x);
    const dy = -Math.abs(ye - y);
    const sx = x < xe ? 1 : -1;
    const sy = y < ye ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.setPixel(x, y, color);
      if (x === xe && y === ye) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
    return this;
  }

  /** Draws `text` with its top-left corner at (x, y); "\n" starts a new line. Each font pixel is scale×scale. */
  text(text: string, x: number, y: number, color: RGB = BLACK, scale = 1): this {
    const s = Math.max(1, Math.round(scale));
    text.split("\n").forEach((line, row) => {
      [...line].forEach((ch, i) => {
        const bits = glyph(ch);
        const gx = Math.round(x) + i * ADVANCE * s;
        const gy = Math.round(y) + row * LINE_HEIGHT * s;
        for (let r = 0; r < GLYPH_HEIGHT; r++) {
          for (let c = 0; c < GLYPH_WIDTH; c++) if (bits[r][c]) this.fillRect(gx + c * s, gy + r * s, s, s, color);
        }
      });
    });
    return this;
  }

  /** Copies `image` (gray replicated to RGB) with its top-left corner at (x, y), each pixel scale×scale. */
  blit(image: Image, x: number, y: number, scale = 1): this {
    const s = Math.max(1, Math.round(scale));
    const { width, height, channels, data } = image;
    for (let iy = 0; iy < height; iy++) {
      for (let ix = 0; ix < width; ix++) {
        const at = (iy * width + ix) * channels;
        const color: RGB = channels === 1 ? [data[at], data[at], data[at]] : [data[at], data[at + 1], data[at + 2]];
        if (s === 1) this.setPixel(x + ix, y + iy, color);
        else this.fillRect(x + ix * s, y + iy * s, s, s, color);
      }
    }
    return this;
  }

  /** The pixels as an Image (a copy). */
  toImage(): Image {
    return { width: this.width, height: this.height, channels: 3, data: this.data.slice() };
  }

  /** Writes the canvas as a PNG, atomically. */
  writePng(path: string): void {
    writePngFile(path, this.data, this.width, this.height, 3);
  }
}

/** `image` enlarged by an integer factor, each pixel repeated factor×factor (nearest neighbour). */
export function scaleNearest(image: Image, factor: number): Image {
  if (!Number.isInteger(factor) || factor < 1)
    throw new RangeError(`scaleNearest: factor must be a positive integer, got ${factor}`);
  const { width, height, channels, data } = image;
  const w = width * factor;
  const out = new Uint8Array(w * height * factor * channels);
  for (let y = 0; y < height * factor; y++) {
    for (let x = 0; x < w; x++) {
      const from = (Math.floor(y / factor) * width + Math.floor(x / factor)) * channels;
      for (let c = 0; c < channels; c++) out[(y * w + x) * channels + c] = data[from + c];
    }
  }
  return { width: w, height: height * factor, channels, data: out, source: image.source };
}
