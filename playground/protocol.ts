// The messages between the playground page (main.ts) and its model worker (modelWorker.ts): the page
// asks, the worker holds the model and the digits, computes, and answers.

import type { Image } from "../src/io/image.ts";

/** An 8-bit picture: `channels` values per pixel, row-major (src/io/image.ts). */
export type Picture = Image;

/** What to look at: a held-out digit by its index, or a picture (a drawing, a dropped image). */
export type ImageChoice = { kind: "heldOut"; index: number } | { kind: "picture"; picture: Picture };

/** Which patches to mask: MAE's random masking (seed, ratio), or a hand-made mask (1 masked) over the L patches. */
export type MaskChoice = { kind: "random"; seed: number; ratio: number } | { kind: "manual"; masked: Uint8Array };

export type Request =
  | { kind: "look"; id: number; image: ImageChoice; mask: MaskChoice; layer: number; head: number }
  | { kind: "train"; lr: number; batchSize: number }
  | { kind: "stop" }
  | { kind: "reset"; seed: number }
  | { kind: "shipped" }
  | { kind: "load"; config: Uint8Array; weights: Uint8Array; names: [string, string] }
  | { kind: "save" }
  | { kind: "backend"; name: string };

/** The model in the worker, as the page describes it. */
export interface ModelInfo {
  /** Where it came from: the shipped checkpoint, a random init, a dropped checkpoint. */
  source: string;
  imageSize: [number, number];
  patchSize: [number, number];
  channels: number;
  grid: [number, number];
  layers: number;
  heads: number;
  parameters: number;
  /** Optimizer steps taken in this page since it was loaded. */
  steps: number;
}

/** A backend the worker can run on, and how the page names it. */
export interface BackendInfo {
  name: string;
  description: string;
}

/** One look at the model: the four panels (8-bit, the model's size), and per patch the mask, error and CLS attention. */
export interface View {
  id: number;
  /** original | masked | reconstruction | reconstruction + visible. */
  panels: Picture[];
  /** [L]: 1 masked, 0 visible. */
  mask: Uint8Array;
  /** [L]: mean squared error of the prediction per patch (normalised pixels; the loss averages the masked ones). */
  error: Float32Array;
  /** [L]: the CLS token's attention to each visible patch in the chosen layer and head; NaN where masked. */
  attention: Float32Array;
  /** The CLS token's attention to itself. */
  clsSelf: number;
  /** The MAE loss of this look (NaN when nothing is masked). */
  loss: number;
  /** The backend that computed it. */
  backend: string;
}

export type Reply =
  | {
      kind: "ready";
      model: ModelInfo;
      backend: BackendInfo;
      backends: BackendInfo[];
      heldOut: { images: Uint8Array; labels: Uint8Array };
      trainSize: number;
    }
  | ({ kind: "view" } & View)
  | { kind: "step"; step: number; loss: number; lr: number; imagesPerSec: number }
  | { kind: "stopped"; step: number }
  | { kind: "model"; model: ModelInfo }
  | { kind: "saved"; config: string; weights: Uint8Array }
  | { kind: "backend"; backend: BackendInfo }
  | { kind: "error"; about: "checkpoint" | "image" | "training" | "backend" | "look" | "start"; message: string };
