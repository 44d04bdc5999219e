// The demo: pre-train a small MAE on the embedded MNIST digits for a few minutes, then show what it
// learned — reconstructions, the loss curve, held-out masked-patch MSE against a mean-fill
// baseline, and linear-probe accuracy against the same encoder at random init.
//
//   npm run demo                      (≈ 5 minutes on 2 cores; writes demo-output/)
//   npm run demo -- --steps 50        (a quick look)

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as T from "../src/core/index.ts";
import {
  DEFAULT_PREPROCESSOR_CONFIG,
  makeLoader,
  mnistDataset,
  preprocessOptions,
  subsetDataset,
  type Dataset,
} from "../src/data/index.ts";
import { heldOutSplit } from "../src/data/digitsDataset.ts";
import { mnist as config } from "../src/mae/presets.ts";
import { initPreTraining } from "../src/mae/init.ts";
import type { PreTrainingParams } from "../src/mae/params.ts";
import { pretrain } from "../src/train/pretrain.ts";
import { reconstruct, meanFillBaselineMse } from "../src/eval/reconstruct.ts";
import { encoderFeatures } from "../src/eval/features.ts";
import { knn, linearProbe, standardize } from "../src/eval/probe.ts";
import { renderGrid } from "../src/viz/grid.ts";
import { writeLossCurvePng } from "../src/viz/lossCurve.ts";
import { writePngFile } from "../src/node/imageFile.ts";
import { panels, PANEL_HEADERS } from "../src/eval/panels.ts";
import { makeProgress } from "../src/train/progress.ts";

const { values: flags } = parseArgs({
  options: { steps: { type: "string" }, out: { type: "string" }, seed: { type: "string" }, lr: { type: "string" } },
});
const steps = Number(flags.steps ?? 800);
const outDir = flags.out ?? "demo-output";
const seed = Number(flags.seed ?? 0);
const lr = Number(flags.lr ?? 1.5e-3);
mkdirSync(outDir, { recursive: true });

// ---- Data: 10,000 MNIST digits; 1,000 held out for every number reported below ----
const all = mnistDataset();
const { train, test } = heldOutSplit(all);
const prep = preprocessOptions(
  { ...DEFAULT_PREPROCESSOR_CONFIG },
  { height: config.imageSize[0], width: config.imageSize[1], channels: config.numChannels },
);
console.log(
  `MNIST: ${train.size} digits to pre-train on, ${test.size} held out; model: the "mnist" preset ` +
    `(28x28, patch 4, 49 patches, hidden 64, 4+2 layers), mask ratio ${config.maskRatio}`,
);

// ---- Pre-training ----
const losses: { step: number; loss: number }[] = [];
const progress = makeProgress(steps, 0);
const started = Date.now();
const { params } = await pretrain({
  config,
  dataset: train,
  dataSpec: "mnist (train split)",
  preprocess: prep,
  preprocessorJson: {},
  seed,
  outDir: join(outDir, "run"),
  checkpointEvery: steps,
  hyper: {
    batchSize: 64,
    accumIter: 1,
    totalSteps: steps,
    lr,
    minLr: 1e-5,
    warmupSteps: Math.round(steps * 0.05),
    weightDecay: 0.05,
    betas: [0.9, 0.95],
    clipGrad: null,
    maskRatio: config.maskRatio,
    augment: false,
  },
  onStep: (info) => {
    losses.push({ step: info.step, loss: info.loss });
    progress.update(info);
  },
});
progress.stop();
const minutes = (Date.now() - started) / 60000;
writeLossCurvePng(join(outDir, "loss.png"), losses, { title: "MAE pre-training loss (MNIST)" });

// ---- Held-out reconstruction: the model against filling masked patches with the visible mean ----
const heldOut = batchOf(test, test.size);
const maskKey = T.key(99);
const model = { config, params };
const r = reconstruct(model, heldOut, { key: maskKey });
const baseline = meanFillBaselineMse(heldOut, r.mask, config.patchSize, config.normPixLoss);
const shown = reconstruct(model, batchOf(test, 8), { key: maskKey });
writePngFile(
  join(outDir, "reconstructions.png"),
  ...asPng(
    renderGrid({
      headers: [...PANEL_HEADERS],
      rows: panels(shown, DEFAULT_PREPROCESSOR_CONFIG),
      caption: "Held-out MNIST digits, 75% of patches masked",
    }),
  ),
);

// ---- Linear probe and k-NN: pretrained encoder vs the same architecture at random init ----
const probeTrain = subsetDataset(
  train,
  Array.from({ length: 2000 }, (_, i) => i * Math.floor(train.size / 2000)),
  "probe-train",
);
const probeAcc = (p: PreTrainingParams) => {
  const enc = { config, params: p.vit };
  const a = encoderFeatures(enc, probeTrain, { preprocess: prep });
  const b = encoderFeatures(enc, test, { preprocess: prep });
  const [trainX, testX] = standardize(a.meanPool, b.meanPool);
  return {
    linear: linearProbe(trainX, a.labels, testX, b.labels, { numClasses: 10, epochs: 30, seed: 7 }),
    knn: knn(trainX, a.labels, testX, b.labels, { numClasses: 10, k: 20 }),
  };
};
const pretrained = probeAcc(params);
const random = probeAcc(initPreTraining(T.key(seed + 1), config));

console.log(`
pre-trained ${steps} steps (batch 64) in ${minutes.toFixed(1)} min; final loss ${losses[losses.length - 1].loss.toFixed(4)}

held-out masked-patch MSE (${test.size} digits, normalised pixels, 75% masked)
  MAE reconstruction         ${r.loss.toFixed(4)}
  mean of visible pixels     ${baseline.toFixed(4)}   (model/baseline = ${(r.loss / baseline).toFixed(2)})

probe accuracy on held-out digits (mean-pooled features, 2,000 train examples)
                             linear    k-NN (k=20)
  pre-trained encoder        ${pct(pretrained.linear)}     ${pct(pretrained.knn)}
  same encoder, random init  ${pct(random.linear)}     ${pct(random.knn)}

pictures: ${join(outDir, "reconstructions.png")}, ${join(outDir, "loss.png")}`);

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`.padStart(6);
}

/** n examples spread evenly over the dataset (MNIST is stored digit by digit). */
function batchOf(ds: Dataset, n: number): T.Tensor {
  const spread = Array.from({ length: n }, (_, i) => Math.floor((i * ds.size) / n));
  const loader = makeLoader({
    dataset: subsetDataset(ds, spread, "batch"),
    batchSize: n,
    key: T.key(0),
    preprocess: prep,
    augment: false,
    shuffle: false,
  });
  const b = loader.batchAt(0);
  return T.fromArray(b.pixels, b.shape);
}

function asPng(img: {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}): [Uint8Array, number, number, 1 | 3] {
  return [img.data, img.width, img.height, img.channels];
}
