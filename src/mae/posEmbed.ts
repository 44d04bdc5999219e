// Fixed 2-D sin-cos position tables (MAE's get_2d_sincos_pos_embed) and HF's bicubic resize of them.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { ShapeError } from "../core/index.ts";

/**
 * The table [1 + gh·gw, dim] in float64 rounded to float32; row 0 (CLS) is zero, and row 1+i·gw+j is
 * [sin(j·ω), cos(j·ω), sin(i·ω), cos(i·ω)] with ω_k = 10000^(-k/(dim/4)): the first half uses the
 * column j (the original MAE swaps the h/w names; HF keeps it).
 */
export function sinCosTable(dim: number, gh: number, gw: number): Tensor<[number, number]> {
  if (dim % 4 !== 0) throw new ShapeError(`sinCosTable: embedding width ${dim} must be divisible by 4`);
  const quarter = dim / 4;
  const omega = Float64Array.from({ length: quarter }, (_, k) => 1 / 10000 ** (k / quarter));
  const table = new Float64Array((1 + gh * gw) * dim);
  for (let i = 0; i < gh; i++)
    for (let j = 0; j < gw; j++) {
      const row = (1 + i * gw + j) * dim;
      for (let k = 0; k < quarter; k++) {
        table[row + k] = Math.sin(j * omega[k]);
        table[row + quarter + k] = Math.cos(j * omega[k]);
        table[row + 2 * quarter + k] = Math.sin(i * omega[k]);
        table[row + 3 * quarter + k] = Math.cos(i * omega[k]);
      }
    }
  return T.fromArray(table, [1 + gh * gw, dim]);
}

// ---- PyTorch's bicubic interpolation (align_corners=False, A = -0.75), on plain arrays ----

const A = -0.75;
const cubic1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; //        |x| <= 1
const cubic2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2

/** Source position and the four tap weights for output index `dst` (PyTorch's upsample_bicubic2d). */
function taps(dst: number, scale: number): [number, number[]] {
  const src = (dst + 0.5) * scale - 0.5;
  const base = Math.floor(src);
  const t = src - base;
  return [base, [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)]];
}

/**
 * PyTorch's 1-D bicubic resize as a matrix M [outSize, inSize] (taps clamped to the edge folded in),
 * so that a resize is a matmul and gradients flow through it. `scale` is PyTorch's source/dest
 * ratio: in/out, or 1/scale_factor when a scale factor was given.
 */
export function bicubicMatrix(inSize: number, outSize: number, scale = inSize / outSize): Tensor<[number, number]> {
  const m = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const [base, w] = taps(o, scale);
    for (let t = 0; t < 4; t++) m[o * inSize + Math.min(Math.max(base - 1 + t, 0), inSize - 1)] += w[t];
  }
  return T.fromArray(m, [outSize, inSize]);
}

/**
 * HF's ViTMAEEmbeddings.interpolate_pos_encoding: the patch rows of `table` [1+gh0·gw0, D], seen as
 * a (gh0, gw0) image, resized bicubically to (gh, gw); the CLS row is kept.
 */
export function interpolateEncoderTable(
  table: Tensor,
  grid0: readonly [number, number],
  grid: readonly [number, number],
): Tensor {
  const [gh0, gw0] = grid0;
  const [gh, gw] = grid;
  const d = table.shape[1];
  if (gh0 === gh && gw0 === gw) return table;
  const patches = T.reshape(T.slice(table, [{ start: 1 }]), [gh0, gw0 * d]); //                     (gh0, gw0·D)
  const rows = T.reshape(T.matmul(bicubicMatrix(gh0, gh), patches), [gh, gw0, d]); //                 (gh, gw0, D)
  const cols = T.matmul(T.permute(rows, [0, 2, 1]), T.transpose(bicubicMatrix(gw0, gw))); //          (gh, D, gw)
  const resized = T.reshape(T.permute(cols, [0, 2, 1]), [gh * gw, d]); //                             (gh·gw, D)
  return T.concat([T.slice(table, [{ stop: 1 }]), resized], 0);
}

/**
 * HF's ViTMAEDecoder.interpolate_pos_encoding: not 2-D — the L0 patch rows are a 1×L0 image resized
 * along the flat sequence with scale_factor L/L0 (so PyTorch's source scale is L0/L).
 */
export function interpolateDecoderTable(table: Tensor, length: number): Tensor {
  const l0 = table.shape[0] - 1;
  if (l0 === length) return table;
  const scaleFactor = length / l0;
  const outLen = Math.floor(l0 * scaleFactor);
  if (outLen !== length)
    throw new ShapeError(
      `decoder position table: resizing ${l0} rows by ${scaleFactor} gives ${outLen}, not ${length}`,
    );
  const resized = T.matmul(bicubicMatrix(l0, length, 1 / scaleFactor), T.slice(table, [{ start: 1 }])); // (L, Dd)
  return T.concat([T.slice(table, [{ stop: 1 }]), resized], 0);
}
