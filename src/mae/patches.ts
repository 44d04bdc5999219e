// patchify / unpatchify: images [B, C, H, W] ⇄ patch rows [B, L, ph·pw·C] in HF's order
// (patches row-major over the grid; inside a patch: row, column, channel fastest).

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { fmt, ShapeError } from "../core/index.ts";

export function patchify(pixels: Tensor, patch: readonly [number, number]): Tensor {
  if (pixels.shape.length !== 4)
    throw new ShapeError(`patchify: pixel_values must be [B, C, H, W], got ${fmt(pixels.shape)}`);
  const [b, c, h, w] = pixels.shape;
  const [ph, pw] = patch;
  if (h % ph !== 0 || w % pw !== 0)
    throw new ShapeError(`patchify: image ${h}x${w} is not divisible by patch ${ph}x${pw}`);
  const [gh, gw] = [h / ph, w / pw];
  const x = T.reshape(pixels, [b, c, gh, ph, gw, pw]); //  (B, C, gh, ph, gw, pw)
  const y = T.permute(x, [0, 2, 4, 3, 5, 1]); //           (B, gh, gw, ph, pw, C)
  return T.reshape(y, [b, gh * gw, ph * pw * c]); //       (B, L, ph·pw·C)
}

export function unpatchify(
  patches: Tensor,
  patch: readonly [number, number],
  grid: readonly [number, number],
  channels: number,
): Tensor {
  const [b, l, dim] = patches.shape;
  const [ph, pw] = patch;
  const [gh, gw] = grid;
  if (patches.shape.length !== 3 || l !== gh * gw || dim !== ph * pw * channels) {
    throw new ShapeError(
      `unpatchify: expected [B, ${gh * gw}, ${ph * pw * channels}] for a ${gh}x${gw} grid of ${ph}x${pw}x${channels} patches, got ${fmt(patches.shape)}`,
    );
  }
  const x = T.reshape(patches, [b, gh, gw, ph, pw, channels]); // (B, gh, gw, ph, pw, C)
  const y = T.permute(x, [0, 5, 1, 3, 2, 4]); //                  (B, C, gh, ph, gw, pw)
  return T.reshape(y, [b, channels, gh * ph, gw * pw]); //        (B, C, H, W)
}
