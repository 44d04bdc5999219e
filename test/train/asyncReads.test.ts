// The training loops on a backend that reads only asynchronously, as a GPU does (async-reference:
// test/helpers/asyncReference.ts). Pre-training and fine-tuning must read with await — losses, the
// non-finite guard, evaluation, checkpoints — and give exactly the numbers and files the reference
// backend gives.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../src/core/index.ts";
import { DEFAULT_PREPROCESSOR_CONFIG, preprocessOptions, type Dataset } from "../../src/data/index.ts";
import { unsafeConfig } from "../../src/mae/config.ts";
import { finetune, type FinetuneHyper } from "../../src/train/finetune.ts";
import { pretrain, type PretrainHyper, type StepInfo } from "../../src/train/pretrain.ts";
import { initClassifier, makeViTConfig } from "../../src/vit/index.ts";
import { on } from "../helpers/asyncReference.ts"; // importing it registers the async-reference backend
import { memoryDataset, pictureOf, smallConfig } from "../helpers/pretrainFixture.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-async-"));
after(() => {
  T.setBackend("cpu");
  rmSync(root, { recursive: true, force: true });
});
const preprocess = preprocessOptions({ ...DEFAULT_PREPROCESSOR_CONFIG }, { height: 16, width: 16, channels: 3 });
const files = (dir: string, names: string[]) => names.map((n) => readFileSync(join(dir, "checkpoint", n)));

test("pretrain on a backend that reads only with await: the reference backend's losses and checkpoint bytes", async () => {
  const hyper: PretrainHyper = {
    batchSize: 4,
    accumIter: 1,
    totalSteps: 3,
    lr: 1e-3,
    minLr: 1e-5,
    warmupSteps: 1,
    weightDecay: 0.05,
    betas: [0.9, 0.95],
    clipGrad: 1,
    maskRatio: 0.75,
    augment: true,
  };
  const run = async (name: string) => {
    const steps: StepInfo[] = [];
    const outDir = join(root, `pretrain-${name}`);
    await on(name, () =>
      pretrain({
        config: smallConfig,
        dataset: memoryDataset(8),
        dataSpec: "memory",
        preprocess,
        preprocessorJson: {},
        hyper,
        seed: 3,
        outDir,
        checkpointEvery: 2,
        onStep: (s) => steps.push(s),
      }),
    );
    return { steps, files: files(outDir, ["model.safetensors", "optimizer.safetensors"]) };
  };
  const [got, want] = [await run("async-reference"), await run("reference")];
  assert.deepEqual(
    got.steps.map((s) => [s.loss, s.gradNorm]),
    want.steps.map((s) => [s.loss, s.gradNorm]),
  );
  assert.equal(got.steps.length, 3);
  got.files.forEach((f, i) => assert.ok(f.equals(want.files[i]), `checkpoint file ${i} differs`));
});

test("finetune on a backend that reads only with await: the reference backend's losses, evaluation and checkpoint", async () => {
  const encoder = unsafeConfig({
    imageSize: 16,
    patchSize: 4,
    numChannels: 3,
    hiddenSize: 8,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    intermediateSize: 16,
  });
  const cfg = makeViTConfig(encoder, { numLabels: 3 });
  const data: Dataset = {
    name: "labelled",
    size: 8,
    numClasses: 3,
    get: (i) => ({ image: pictureOf(i), label: i % 3 }),
  };
  const hyper: FinetuneHyper = {
    batchSize: 4,
    accumIter: 1,
    epochs: 1,
    totalSteps: 2,
    lr: 1e-3,
    minLr: 1e-6,
    warmupSteps: 1,
    weightDecay: 0.05,
    layerDecay: 0.75,
    dropPath: 0.1,
    betas: [0.9, 0.999],
    clipGrad: null,
    mixup: 0.8,
    cutmix: 1,
    mixupProb: 1,
    switchProb: 0.5,
    smoothing: 0.1,
    augment: true,
    cropScaleMin: 0.5,
    flip: true,
  };
  const run = async (name: string) => {
    const steps: number[] = [];
    const accuracy: number[] = [];
    const outDir = join(root, `finetune-${name}`);
    await on(name, () =>
      finetune({
        config: cfg,
        params: initClassifier(T.key(0), cfg),
        train: data,
        val: data,
        dataSpec: "memory",
        preprocess,
        preprocessorJson: {},
        hyper,
        seed: 1,
        outDir,
        onStep: (s) => steps.push(s.loss),
        onEpoch: (e) => accuracy.push(e.accuracy, e.loss),
      }),
    );
    return { steps, accuracy, files: files(outDir, ["model.safetensors", "optimizer.safetensors"]) };
  };
  const [got, want] = [await run("async-reference"), await run("reference")];
  assert.deepEqual(got.steps, want.steps);
  assert.equal(got.steps.length, 2);
  assert.deepEqual(got.accuracy, want.accuracy);
  got.files.forEach((f, i) => assert.ok(f.equals(want.files[i]), `checkpoint file ${i} differs`));
});
