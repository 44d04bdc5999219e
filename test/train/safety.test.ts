// Issue 13 in the training library: a run that explodes stops before it saves over its last good
// checkpoint; a run that fails otherwise saves first; saved state is checked before a run continues
// from it; every failed file operation names its file.

import assert from "node:assert/strict";
import fs, { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, mock, test } from "node:test";
import * as T from "../../src/core/index.ts";
import { DEFAULT_PREPROCESSOR_CONFIG, preprocessOptions, type Dataset } from "../../src/data/index.ts";
import { ImageError } from "../../src/io/image.ts";
import { initPreTraining } from "../../src/mae/init.ts";
import { namedParameters } from "../../src/mae/params.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { initAdamW } from "../../src/nn/adamw.ts";
import {
  DIVERGENCE_FACTOR,
  DivergenceError,
  NonFiniteLossError,
  pretrain,
  StepFailedError,
  type PretrainHyper,
  type PretrainRun,
} from "../../src/train/pretrain.ts";
import { RunLog } from "../../src/train/runLog.ts";
import {
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  TrainCheckpointError,
} from "../../src/train/trainCheckpoint.ts";
import { memoryDataset, smallConfig } from "../helpers/pretrainFixture.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-train-safety-"));
after(() => rmSync(root, { recursive: true, force: true }));

const preprocess = preprocessOptions({ ...DEFAULT_PREPROCESSOR_CONFIG }, { height: 16, width: 16, channels: 3 });
const hyper: PretrainHyper = {
  batchSize: 8,
  accumIter: 1,
  totalSteps: 6,
  lr: 1e-3,
  minLr: 0,
  warmupSteps: 0,
  weightDecay: 0.05,
  betas: [0.9, 0.95],
  clipGrad: null,
  maskRatio: 0.75,
  augment: false,
};
const runOf = (outDir: string, over: Partial<PretrainRun> = {}, h: Partial<PretrainHyper> = {}): PretrainRun => ({
  config: smallConfig,
  dataset: memoryDataset(16),
  dataSpec: "memory",
  preprocess,
  preprocessorJson: {},
  hyper: { ...hyper, ...h },
  seed: 5,
  outDir,
  checkpointEvery: 1,
  ...over,
});
const failure = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("the run must not finish"),
    (e: unknown) => e as Error,
  );

test("finding 3: a loss that explodes but stays finite stops the run; the checkpoint before it is kept, byte for byte", async () => {
  const dir = join(root, "explode");
  const losses: number[] = [];
  const saved = new Map<number, Buffer>();
  // Warmup: step 1 runs at lr 0 (a sane step), step 2 at lr 0.5, which blows the tiny model up within a step.
  const error = await failure(
    pretrain(
      runOf(
        dir,
        {
          onStep: (i) => void losses.push(i.loss),
          onCheckpoint: (path, step) => saved.set(step, readFileSync(join(path, "model.safetensors"))),
        },
        { lr: 1, warmupSteps: 2, weightDecay: 0, totalSteps: 20 },
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
  assert.ok(Number.isFinite(loss) && loss > DIVERGENCE_FACTOR * running, `${loss} vs ${running}`);
  assert.equal(keptAt, failedAt - 1);
  assert.equal(losses.length, keptAt, "the exploded step was not taken");
  assert.ok(readFileSync(join(dir, "checkpoint", "model.safetensors")).equals(saved.get(keptAt)!));
  const kept = loadTrainingCheckpoint(dir);
  assert.equal(kept.state.step, keptAt);
  assert.ok(kept.state.lastLoss! <= DIVERGENCE_FACTOR * losses[0], "the kept checkpoint's loss is a sane one");
});

test("finding 3: pretrain refuses hyperparameters out of range, naming each, before writing anything", async () => {
  const dir = join(root, "bad-hyper");
  const e = await failure(pretrain(runOf(dir, {}, { lr: -5, betas: [0.9, 1.5] })));
  assert.ok(e instanceof RangeError, String(e));
  assert.match(e.message, /hyper\.lr: -5 \(must be a finite number >= 0\)/);
  assert.match(e.message, /hyper\.betas: \[0\.9,1\.5\]/);
  assert.throws(() => fs.statSync(dir), /ENOENT/);
});

/** A dataset that fails on every read after the first `good` ones, as a file gone bad mid-run would. */
function failingAfter(good: number): Dataset {
  const inner = memoryDataset(16);
  let reads = 0;
  return {
    ...inner,
    get(i) {
      if (++reads > good) throw new ImageError(`img${i}.png`, "corrupt PNG: invalid stored block lengths");
      return inner.get(i);
    },
  };
}

test("finding 4: a step that fails mid-run (an unreadable image) saves the run so far, and --resume replays the unbroken run", async () => {
  const fullDir = join(root, "unbroken");
  const full: number[] = [];
  await pretrain(runOf(fullDir, { checkpointEvery: 100, onStep: (i) => void full.push(i.loss) }));
  const dir = join(root, "fails-at-4");
  const first: number[] = [];
  // checkpointEvery 100: no periodic save happens before the failure, so only the rescue save can keep steps 1-3.
  const e = await failure(
    pretrain(
      runOf(dir, { checkpointEvery: 100, dataset: failingAfter(3 * 8), onStep: (i) => void first.push(i.loss) }),
    ),
  );
  assert.ok(e instanceof StepFailedError, String(e));
  assert.ok(e.cause instanceof ImageError);
  assert.match(e.message, /^image "img\d+\.png": corrupt PNG.*\(at step 4; the run up to step 3 is saved in /);
  const saved = loadTrainingCheckpoint(dir);
  assert.equal(saved.state.step, 3);
  const rest: number[] = [];
  await pretrain(
    runOf(dir, {
      checkpointEvery: 100,
      onStep: (i) => void rest.push(i.loss),
      resume: { params: saved.params, opt: saved.opt, step: 3, runningLoss: saved.state.runningLoss },
    }),
  );
  assert.deepEqual([...first, ...rest], full, "the rescued run continues exactly");
  // Failing on the first step of a (resumed) run has nothing new to save, and says so.
  const again = await failure(
    pretrain(runOf(dir, { dataset: failingAfter(0), resume: { params: saved.params, opt: saved.opt, step: 3 } })),
  );
  assert.match(again.message, /at step 4; no step was completed since the run resumed at step 3/);
});

/** A saved run whose trainer_state.json is then edited by `edit`. */
function editedRun(name: string, edit: (state: Record<string, unknown>) => void): string {
  const dir = join(root, name);
  const params = initPreTraining(T.key(1), smallConfig);
  const opt = initAdamW(namedParameters(params));
  opt.step = T.scalar(2);
  saveTrainingCheckpoint(dir, {
    config: smallConfig,
    params,
    opt,
    state: {
      step: 2,
      totalSteps: 6,
      seed: 5,
      hyper: { ...hyper, betas: "0.9,0.95" },
      data: "memory",
      lastLoss: 1.5,
      runningLoss: 1.6,
    },
    preprocessor: {},
  });
  const path = join(dir, "checkpoint", "trainer_state.json");
  const state = JSON.parse(readFileSync(path, "utf8"));
  edit(state);
  writeFileSync(path, JSON.stringify(state));
  return dir;
}

test("finding 3: an edited or damaged trainer_state.json is refused, naming every bad field (never a TypeError)", () => {
  const cases: [string, (s: Record<string, unknown>) => void, RegExp][] = [
    [
      "lr-negative",
      (s) => ((s.hyper as Record<string, unknown>).lr = -5),
      /hyper\.lr: -5 \(must be a finite number >= 0\)/,
    ],
    ["no-hyper", (s) => delete s.hyper, /hyper: missing \(must be an object\)/],
    ["step-string", (s) => (s.step = "7"), /step: "7" \(must be an integer >= 0\)/],
    ["mask-ratio", (s) => ((s.hyper as Record<string, unknown>).maskRatio = 0), /hyper\.maskRatio: 0/],
    ["past-the-end", (s) => (s.step = 9), /step 9 is past totalSteps 6/],
    ["not-an-object", (s) => Object.assign(s, { hyper: [1, 2] }), /hyper: \[1,2\] \(must be an object\)/],
  ];
  for (const [name, edit, why] of cases) {
    const dir = editedRun(name, edit);
    assert.throws(
      () => loadTrainingCheckpoint(dir),
      (e: Error) => {
        assert.ok(e instanceof TrainCheckpointError, `${name}: ${e.name}: ${e.message}`);
        assert.ok(e.message.includes(join(dir, "checkpoint", "trainer_state.json")), `${name} names the file`);
        assert.match(e.message, why, name);
        return true;
      },
    );
  }
  assert.equal(loadTrainingCheckpoint(editedRun("untouched", () => {})).state.step, 2, "an unedited state loads");
});

test("finding 12: a NaN or negative second moment in the saved optimizer is named as damage, not blamed on the lr", () => {
  for (const [name, value, why] of [
    [
      "sq-nan",
      Number.NaN,
      /exp_avg_sq\.vit\.layernorm\.weight\[3\] is NaN \(a second moment must be finite and >= 0\)/,
    ],
    ["sq-negative", -1, /exp_avg_sq\.vit\.layernorm\.weight\[3\] is -1/],
  ] as const) {
    const dir = editedRun(name, () => {});
    const file = join(dir, "checkpoint", "optimizer.safetensors");
    const { tensors, metadata } = readSafetensorsFile(file);
    const bad = tensors.get("exp_avg_sq.vit.layernorm.weight")!.data as Float32Array;
    bad[3] = value;
    writeSafetensorsFile(
      file,
      new Map([...tensors].map(([n, t]) => [n, { dtype: "F32", shape: t.shape, data: t.data as Float32Array }])),
      metadata,
    );
    assert.throws(
      () => loadTrainingCheckpoint(dir),
      (e: Error) => e instanceof TrainCheckpointError && why.test(e.message),
    );
  }
});

test("finding 12: a failed rename while saving (EACCES on checkpoint.previous) names the operation and the folder", () => {
  const dir = editedRun("eacces", () => {}); // a checkpoint/ exists, so the next save moves it aside
  const rename = mock.method(fs, "renameSync", (from: fs.PathLike, to: fs.PathLike) => {
    if (String(to).endsWith("checkpoint.previous"))
      throw Object.assign(new Error(`EACCES: permission denied, rename '${from}' -> '${to}'`), { code: "EACCES" });
  });
  syncBuiltinESMExports(); // the named import in trainCheckpoint.ts sees the mock
  try {
    const params = initPreTraining(T.key(1), smallConfig);
    assert.throws(
      () =>
        saveTrainingCheckpoint(dir, {
          config: smallConfig,
          params,
          opt: { ...initAdamW(namedParameters(params)), step: T.scalar(3) },
          state: { ...loadTrainingCheckpoint(dir).state, step: 3 },
          preprocessor: {},
        }),
      (e: Error) =>
        e instanceof TrainCheckpointError &&
        e.message ===
          `cannot move ${join(dir, "checkpoint")} aside to ${join(dir, "checkpoint.previous")}: permission denied`,
    );
  } finally {
    rename.mock.restore();
    syncBuiltinESMExports();
  }
  assert.equal(loadTrainingCheckpoint(dir).state.step, 2, "the saved checkpoint is still there and loads");
});

test("finding 12: a full disk while appending to the run log names the log file", () => {
  const log = new RunLog("/dev/full");
  assert.throws(
    () => log.append({ step: 1, epoch: 0, loss: 1, lr: 0, gradNorm: null, imagesPerSec: 1, seconds: 1 }),
    /^Error: cannot append to the run log \/dev\/full: ENOSPC/,
  );
  mkdirSync(join(root, "log-ok"));
  new RunLog(join(root, "log-ok", "log.jsonl")).append({
    step: 1,
    epoch: 0,
    loss: 1,
    lr: 0,
    gradNorm: null,
    imagesPerSec: 1,
    seconds: 1,
  });
});
