// Compile-time checks that a pixel tensor fits a config: literal dims must agree, unknown ones pass.

import type { Shape } from "../core/index.ts";

type Fits<A, B> = number extends A ? true : number extends B ? true : [A] extends [B] ? true : false;

type PixelsFit<P extends Shape, C, H, W> = number extends P["length"]
  ? true
  : P extends readonly [number, infer c, infer h, infer w]
    ? [Fits<c, C>, Fits<h, H>, Fits<w, W>] extends [true, true, true]
      ? true
      : false
    : false;

/**
 * An extra, impossible parameter when a pixel tensor with literal dims is not [B, C, H, W] of a
 * config with literal dims: the call does not compile. Shapes known only at run time pass (and are
 * checked there, with a ShapeError naming both shapes).
 */
export type CheckPixels<P extends Shape, C, H, W> =
  PixelsFit<P, C, H, W> extends true
    ? []
    : [error: "pixel_values must be [batch, num_channels, height, width] of the config"];

/** The batch dim of a pixel shape (number when unknown). */
export type BatchOf<P extends Shape> = P extends readonly [infer B extends number, ...number[]] ? B : number;
