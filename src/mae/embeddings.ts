// ViTMAEEmbeddings: patch projection (a stride-p conv as a matmul), + sin-cos positions, masking,
// then the CLS token (+ its position row) prepended. SPEC.md §1–4 and §13.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { fmt, ShapeError } from "../core/index.ts";
import { linear } from "../nn/linear.ts";
import type { ViTMAEConfig } from "./config.ts";
import { randomMasking, type Masked } from "./masking.ts";
import type { EncoderParams } from "./params.ts";
import { interpolateEncoderTable } from "./posEmbed.ts";

export interface EmbedOptions {
  noise?: Tensor;
  key?: Key;
  maskRatio?: number;
  interpolatePosEncoding?: boolean;
}

export interface Embedded extends Masked {
  /** [B, 1+lenKeep, D]: CLS then the kept patches. */
  tokens: Tensor;
  /** The patch projection before positions are added [B, L, D] (HF debug.patch_embeddings). */
  patchEmbeddings: Tensor;
  /** The position table used [1+L, D] (interpolated when asked). */
  positions: Tensor;
  grid: [number, number];
}

/** Checks pixel_values against the config and returns the patch grid. */
export function checkPixels(cfg: ViTMAEConfig, pixels: Tensor, interpolate: boolean): [number, number] {
  if (pixels.shape.length !== 4)
    throw new ShapeError(`pixel_values must be [batch, channels, height, width], got ${fmt(pixels.shape)}`);
  const [, c, h, w] = pixels.shape;
  const [ph, pw] = cfg.patchSize;
  if (c !== cfg.numChannels) {
    throw new ShapeError(
      `pixel_values has ${c} channels but the config says num_channels = ${cfg.numChannels} (shape ${fmt(pixels.shape)})`,
    );
  }
  if (!interpolate && (h !== cfg.imageSize[0] || w !== cfg.imageSize[1])) {
    throw new ShapeError(
      `input image size (${h}x${w}) doesn't match the model (${cfg.imageSize[0]}x${cfg.imageSize[1]}); pass interpolatePosEncoding to run at another size`,
    );
  }
  if (h % ph !== 0 || w % pw !== 0)
    throw new ShapeError(`input image size (${h}x${w}) is not divisible by the patch size (${ph}x${pw})`);
  return [h / ph, w / pw];
}

/** [B, C, H, W] → tokens [B, 1+lenKeep, D] with the mask and idsRestore. */
export function embed(p: EncoderParams["embeddings"], cfg: ViTMAEConfig, pixels: Tensor, opts: EmbedOptions): Embedded {
  const grid = checkPixels(cfg, pixels, opts.interpolatePosEncoding ?? false);
  const b = pixels.shape[0];
  const d = cfg.hiddenSize;
  const patchEmbeddings = patchEmbed(p.patch_embeddings.projection, cfg, pixels, grid); // (B, L, D)
  const positions = positionTable(p.position_embeddings, cfg, grid, opts.interpolatePosEncoding ?? false);
  const placed = T.add(patchEmbeddings, T.slice(positions, [{ start: 1 }])); // + pos[1:]
  const masked = randomMasking(placed, opts.maskRatio ?? cfg.maskRatio, { noise: opts.noise, key: opts.key });
  const cls = T.add(T.reshape(p.cls_token, [1, 1, d]), T.reshape(T.slice(positions, [{ stop: 1 }]), [1, 1, d])); // CLS after masking
  const tokens = T.concat([T.broadcastTo(cls, [b, 1, d]), masked.kept], 1); // (B, 1+lenKeep, D)
  return { ...masked, tokens, patchEmbeddings, positions, grid };
}

/** The patch projection, HF's Conv2d(C, D, kernel = stride = patch): [B, C, H, W] → [B, L, D] in row-major grid order. */
export function patchEmbed(
  projection: { weight: Tensor; bias: Tensor },
  cfg: ViTMAEConfig,
  pixels: Tensor,
  grid: readonly [number, number],
): Tensor {
  const [b, c] = pixels.shape;
  const [gh, gw] = grid;
  const [ph, pw] = cfg.patchSize;
  const d = cfg.hiddenSize;
  // The conv with kernel = stride = patch is a matmul over patches in the conv's (C, ph, pw) order.
  const x = T.reshape(pixels, [b, c, gh, ph, gw, pw]); //                 (B, C, gh, ph, gw, pw)
  const patches = T.reshape(T.permute(x, [0, 2, 4, 1, 3, 5]), [b, gh * gw, c * ph * pw]); // (B, L, C·ph·pw)
  return linear({ weight: T.reshape(projection.weight, [d, c * ph * pw]), bias: projection.bias }, patches);
}

/** The position table [1+L, D] for a grid: the stored one, or HF's bicubic resize of it (interpolatePosEncoding). */
export function positionTable(
  stored: Tensor,
  cfg: ViTMAEConfig,
  grid: readonly [number, number],
  interpolate: boolean,
): Tensor {
  const table = T.reshape(stored, stored.shape.slice(1)); // (1+L0, D)
  return interpolate ? interpolateEncoderTable(table, cfg.gridSize, grid) : table;
}
