// Issue 13 in the fine-tuning library, as test/train/safety.test.ts checks pre-training: a run that
// explodes stops before it saves over its last good checkpoint; a step or an evaluation that fails saves
// the run so far first; hyperparameters and a saved trainer_state.json are checked field by field.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import * as T from "../../src/core/index.ts";
import { DEFAULT_PREPROCESSOR_CONFIG, preprocessOptions, type Dataset } from "../../src/data/index.ts";
import { ImageError } from "../../src/io/image.ts";
import {
  divergenceFloorOf,
  finetune,
  loadFinetuneCheckpoint,
  type FinetuneHyper,
  type FinetuneRun,
} from "../../src/train/finetune.ts";
import { DIVERGENCE_FACTOR, DivergenceError, NonFiniteLossError, StepFailedError } from "../../src/train/runGuard.ts";
import { TrainCheckpointError } from "../../src/train/trainCheckpoint.ts";
import { initClassifier, makeViTConfig } from "../../src/vit/index.ts";
import { pictureOf, smallConfig } from "../helpers/pretrainFixture.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-finetune-safety-"));
after(() => rmSync(root, { recursive: true, force: true }));

const config = makeViTConfig(smallConfig, { numLabels: 2, useMeanPooling: true });
const preprocess = preprocessOptions({ ...DEFAULT_PREPROCESSOR_CONFIG }, { height: 16, width: 16, channels: 3 });

/** `n` pictures labelled 0/1 by parity. */
function labelled(n: number): Dataset {
  const images = Array.from({ length: n }, (_, i) => pictureOf(i));
  return { name: "memory", size: n, numClasses: 2, get: (i) => ({ image: images[i], label: i % 2 }) };
}

/** A dataset that fails on every read after the first `good` ones, as a file gone bad mid-run would. */
function failingAfter(good: number, n = 16): Dataset {
  const inner = labelled(n);
  let reads = 0;
  return {
    ...inner,
    get(i) {
      if (++reads > good) throw new ImageError(`img${i}.png`, "corrupt PNG: invalid stored block lengths");
      return inner.get(i);
    },
  };
}

// 16 images, batch 4: 4 steps per epoch.
const hyper: FinetuneHyper = {
  batchSize: 4,
  accumIter: 1,
  epochs: 2,
  totalSteps: 8,
  lr: 1e-3,
  minLr: 0,
  warmupSteps: 0,
  weightDecay: 0.05,
  layerDecay: 0.75,
  dropPath: 0,
  betas: [0.9, 0.999],
  clipGrad: null,
  mixup: 0,
  cutmix: 0,
  mixupProb: 1,
  switchProb: 0.5,
  smoothing: 0.1,
  augment: false,
  cropScaleMin: 0.08,
  flip: false,
};
const runOf = (outDir: string, over: Partial<FinetuneRun> = {}, h: Partial<FinetuneHyper> = {}): FinetuneRun => ({
  config,
  params: initClassifier(T.key(1), config),
  train: labelled(16),
  dataSpec: "memory",
  preprocess,
  preprocessorJson: {},
  hyper: { ...hyper, ...h },
  seed: 5,
  outDir,
  ...over,
});
const failure = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("the run must not finish"),
    (e: unknown) => e as Error,
  );

test("divergence: a loss that explodes but stays finite stops fine-tuning; the checkpoint before it is kept, byte for byte", async () => {
  const dir = join(root, "explode");
  const losses: number[] = [];
  const saved = new Map<number, Buffer>();
  // Warmup: step 1 runs at lr 0 (a sane step), step 2 at lr 5, which blows the tiny classifier up.
  const error = await failure(
    finetune(
      runOf(
        dir,
        {
          checkpointEvery: 1,
          onStep: (i) => void losses.push(i.loss),
          onCheckpoint: (path, step) => saved.set(step, readFileSync(join(path, "model.safetensors"))),
        },
        { lr: 10, warmupSteps: 2, weightDecay: 0, layerDecay: 1, smoothing: 0, totalSteps: 20, epochs: 5 },
      ),
    ),
  );
  assert.ok(error instanceof DivergenceError && !(error instanceof NonFiniteLossError), String(error));
  const m = new RegExp(
    String.raw`the loss exploded to (\S+) \(over 10× its running mean (\S+)\) at step (\d+); stopping\. ` +
      String.raw`The last good checkpoint \(step (\d+)\) is kept in `,
  ).exec(error.message);
  assert.ok(m, error.message);
  const [loss, running, failedAt, keptAt] = m.slice(1).map(Number);
  assert.ok(loss > DIVERGENCE_FACTOR * running && loss > divergenceFloorOf(2), `${loss} vs ${running}`);
  assert.equal(keptAt, failedAt - 1);
  assert.equal(losses.length, keptAt, "the exploded step was not taken");
  assert.ok(readFileSync(join(dir, "checkpoint", "model.safetensors")).equals(saved.get(keptAt)!));
  const kept = loadFinetuneCheckpoint(dir);
  assert.equal(kept.state.step, keptAt);
  assert.equal(typeof kept.state.runningLoss, "number", "the running mean is saved for a resumed run's rule");
});

test("a step that fails mid-run (an unreadable image) saves the run so far, and a resume replays the unbroken run", async () => {
  const full: number[] = [];
  await finetune(runOf(join(root, "unbroken"), { onStep: (i) => void full.push(i.loss) }));
  const dir = join(root, "fails-at-3");
  const first: number[] = [];
  // Epoch ends (step 4) are the only saves: only the rescue save can keep steps 1-2.
  const e = await failure(finetune(runOf(dir, { train: failingAfter(2 * 4), onStep: (i) => void first.push(i.loss) })));
  assert.ok(e instanceof StepFailedError, String(e));
  assert.ok(e.cause instanceof ImageError);
  assert.match(e.message, /^image "img\d+\.png": corrupt PNG.*\(at step 3; the run up to step 2 is saved in /);
  const saved = loadFinetuneCheckpoint(dir);
  assert.equal(saved.state.step, 2);
  const rest: number[] = [];
  await finetune(
    runOf(dir, {
      params: saved.params,
      onStep: (i) => void rest.push(i.loss),
      resume: { opt: saved.opt, step: 2, runningLoss: saved.state.runningLoss },
    }),
  );
  assert.deepEqual([...first, ...rest], full, "the rescued run continues exactly");
});

test("an evaluation that fails after an epoch saves the run up to that step first", async () => {
  const dir = join(root, "eval-fails");
  const e = await failure(finetune(runOf(dir, { val: failingAfter(0, 4) })));
  assert.ok(e instanceof StepFailedError, String(e));
  assert.match(
    e.message,
    /corrupt PNG.*\(while evaluating the held-out data after step 4; the run up to step 4 is saved in /,
  );
  assert.equal(loadFinetuneCheckpoint(dir).state.step, 4);
});

test("finetune refuses hyperparameters out of range, naming each, before writing anything", async () => {
  const dir = join(root, "bad-hyper");
  const e = await failure(finetune(runOf(dir, {}, { lr: -5, layerDecay: 2, mixup: 0.8, batchSize: 3 })));
  assert.ok(e instanceof RangeError, String(e));
  assert.match(e.message, /hyper\.lr: -5 \(must be a finite number >= 0\)/);
  assert.match(e.message, /hyper\.layerDecay: 2 \(must be a number in \[0, 1\]\)/);
  const odd = await failure(finetune(runOf(dir, {}, { mixup: 0.8, batchSize: 3 })));
  assert.match(odd.message, /hyper\.batchSize: 3 \(must be even while mixup or cutmix is on/);
  assert.throws(() => statSync(dir), /ENOENT/);
});

test("an edited fine-tuning trainer_state.json is refused, naming every bad field (never used as it is)", async () => {
  const good = join(root, "saved");
  await finetune(runOf(good, {}, { totalSteps: 4, epochs: 1 }));
  const path = join(good, "checkpoint", "trainer_state.json");
  const original = readFileSync(path, "utf8");
  const cases: [string, (s: Record<string, unknown>) => void, RegExp][] = [
    ["lr", (s) => ((s.hyper as Record<string, unknown>).lr = -5), /hyper\.lr: -5 \(must be a finite number >= 0\)/],
    ["no-hyper", (s) => delete s.hyper, /hyper: missing \(must be an object\)/],
    ["smoothing", (s) => ((s.hyper as Record<string, unknown>).smoothing = "0.1"), /hyper\.smoothing: "0\.1"/],
    [
      "no-flip",
      (s) => delete (s.hyper as Record<string, unknown>).flip,
      /hyper\.flip: missing \(must be true or false\)/,
    ],
    ["betas", (s) => ((s.hyper as Record<string, unknown>).betas = "0.9,1.5"), /hyper\.betas: \[0\.9,1\.5\]/],
    ["inputs", (s) => (s.inputs = { "--limit": [1] }), /inputs: .* \(must be an object of strings, numbers/],
  ];
  for (const [name, edit, why] of cases) {
    const state = JSON.parse(original);
    edit(state);
    writeFileSync(path, JSON.stringify(state));
    assert.throws(
      () => loadFinetuneCheckpoint(good),
      (e: Error) => {
        assert.ok(e instanceof TrainCheckpointError, `${name}: ${e.name}: ${e.message}`);
        assert.ok(e.message.includes(path), `${name} names the file`);
        assert.match(e.message, why, name);
        return true;
      },
    );
  }
  writeFileSync(path, original);
  assert.equal(loadFinetuneCheckpoint(good).state.step, 4, "the unedited state loads");
});
