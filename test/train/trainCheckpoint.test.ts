// Training checkpoints round-trip exactly and survive an interrupted save; the run log replays cleanly on resume.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../src/core/index.ts";
import { writeSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { initPreTraining } from "../../src/mae/init.ts";
import { namedParameters } from "../../src/mae/params.ts";
import { initAdamW } from "../../src/nn/adamw.ts";
import { RunLog } from "../../src/train/runLog.ts";
import {
  findTrainingCheckpoint,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  TrainCheckpointError,
  type TrainerState,
} from "../../src/train/trainCheckpoint.ts";
import { smallConfig } from "../helpers/pretrainFixture.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-traincheckpoint-"));
after(() => rmSync(root, { recursive: true, force: true }));

const params = initPreTraining(T.key(3), smallConfig);
const named = namedParameters(params);
const opt = initAdamW(named);
opt.step = T.scalar(7);
for (const [name, m] of opt.m) {
  opt.m.set(
    name,
    T.fromArray(
      Array.from({ length: m.size }, (_, i) => Math.sin(i + name.length)),
      m.shape,
    ),
  );
  opt.v.set(
    name,
    T.fromArray(
      Array.from({ length: m.size }, (_, i) => i / 7),
      m.shape,
    ),
  );
}
const state: TrainerState = {
  step: 7,
  totalSteps: 10,
  seed: 2,
  hyper: {
    batchSize: 8,
    accumIter: 1,
    totalSteps: 10,
    lr: 1e-3,
    minLr: 0,
    warmupSteps: 0,
    weightDecay: 0.05,
    betas: "0.9,0.95",
    clipGrad: null,
    maskRatio: 0.75,
    augment: true,
  },
  data: "mnist",
  lastLoss: 0.5,
};
const save = (dir: string, s: TrainerState = state) =>
  saveTrainingCheckpoint(dir, {
    config: smallConfig,
    params,
    opt: { ...opt, step: T.scalar(s.step) },
    state: s,
    preprocessor: { do_resize: true },
  });

test("save then load: config, parameters, moments and state come back bit for bit; no staging folders are left", () => {
  const dir = join(root, "roundtrip");
  const path = save(dir);
  assert.equal(path, join(dir, "checkpoint"));
  assert.deepEqual(readdirSync(dir), ["checkpoint"]);
  assert.deepEqual(readdirSync(path).sort(), [
    "config.json",
    "model.safetensors",
    "optimizer.safetensors",
    "preprocessor_config.json",
    "trainer_state.json",
  ]);
  const loaded = loadTrainingCheckpoint(dir);
  assert.deepEqual(loaded.config, smallConfig);
  assert.deepEqual(loaded.state, state);
  assert.equal(loaded.opt.step.item(), 7);
  for (const [name, t] of namedParameters(loaded.params))
    assert.deepEqual([...t.toArray()], [...named.get(name)!.toArray()], name);
  for (const name of named.keys()) {
    assert.deepEqual(loaded.opt.m.get(name)!.toArray(), opt.m.get(name)!.toArray(), `exp_avg.${name}`);
    assert.deepEqual(loaded.opt.v.get(name)!.toArray(), opt.v.get(name)!.toArray(), `exp_avg_sq.${name}`);
  }
  // Saving again replaces the checkpoint whole.
  save(dir, { ...state, step: 8 });
  assert.deepEqual(readdirSync(dir), ["checkpoint"]);
  assert.equal(loadTrainingCheckpoint(dir).state.step, 8);
});

test("a save cut short: a half-written checkpoint.partial is ignored; with only checkpoint.previous left, that one loads", () => {
  const dir = join(root, "interrupted");
  save(dir);
  mkdirSync(join(dir, "checkpoint.partial"));
  writeFileSync(join(dir, "checkpoint.partial", "trainer_state.json"), "{ half");
  assert.equal(loadTrainingCheckpoint(dir).state.step, 7);
  renameSync(join(dir, "checkpoint"), join(dir, "checkpoint.previous")); // killed between the two renames
  assert.equal(findTrainingCheckpoint(dir), join(dir, "checkpoint.previous"));
  assert.equal(loadTrainingCheckpoint(dir).state.step, 7);
  save(dir, { ...state, step: 9 }); // the next save cleans up
  assert.deepEqual(readdirSync(dir).sort(), ["checkpoint"]);
  assert.equal(loadTrainingCheckpoint(dir).state.step, 9);
});

test("bad checkpoints are TrainCheckpointErrors naming the folder or file", () => {
  const empty = join(root, "empty");
  mkdirSync(empty);
  assert.throws(
    () => loadTrainingCheckpoint(empty),
    (e: unknown) =>
      e instanceof TrainCheckpointError && e.message.includes(join(empty, "checkpoint", "trainer_state.json")),
  );
  const torn = join(root, "torn");
  save(torn);
  writeFileSync(join(torn, "checkpoint", "trainer_state.json"), '{"step": 7,');
  assert.throws(
    () => loadTrainingCheckpoint(torn),
    (e: unknown) => e instanceof TrainCheckpointError && e.message.includes("trainer_state.json"),
  );
  const mismatch = join(root, "mismatch");
  save(mismatch);
  const moments = (skip: string, short: string) =>
    new Map(
      [...named].flatMap(([name, t]) =>
        ["exp_avg", "exp_avg_sq"]
          .filter((k) => `${k}.${name}` !== skip)
          .map((k) => [
            `${k}.${name}`,
            {
              dtype: "F32" as const,
              shape: [`${k}.${name}` === short ? t.size - 1 : t.size],
              data: new Float32Array(`${k}.${name}` === short ? t.size - 1 : t.size),
            },
          ]),
      ),
    );
  const optimizerFile = join(mismatch, "checkpoint", "optimizer.safetensors");
  writeSafetensorsFile(optimizerFile, moments("", ""), { step: "3" });
  assert.throws(() => loadTrainingCheckpoint(mismatch), /optimizer step 3 differs from trainer step 7/);
  writeSafetensorsFile(optimizerFile, moments("exp_avg_sq.decoder.mask_token", ""), { step: "7" });
  assert.throws(
    () => loadTrainingCheckpoint(mismatch),
    /optimizer\.safetensors: exp_avg_sq\.decoder\.mask_token is missing/,
  );
  writeSafetensorsFile(optimizerFile, moments("", "exp_avg.vit.layernorm.bias"), { step: "7" });
  assert.throws(() => loadTrainingCheckpoint(mismatch), /exp_avg\.vit\.layernorm\.bias has 15 values, expected 16/);
  writeSafetensorsFile(optimizerFile, moments("", ""), { step: "7" });
  assert.equal(loadTrainingCheckpoint(mismatch).opt.step.item(), 7, "the same file with every moment loads");
});

test("RunLog: truncateTo keeps the steps up to the checkpoint, a line torn by a crash is dropped", () => {
  const dir = join(root, "log");
  mkdirSync(dir);
  const log = new RunLog(join(dir, "log.jsonl"));
  assert.deepEqual(log.read(), []);
  log.truncateTo(0);
  assert.ok(existsSync(log.path));
  for (let step = 1; step <= 5; step++)
    log.append({ step, epoch: step / 2, loss: 1 / step, lr: 1e-3, gradNorm: null, imagesPerSec: 10, seconds: 0.1 });
  appendFileSync(log.path, '{"step": 6, "lo');
  assert.deepEqual(
    log.read().map((e) => e.step),
    [1, 2, 3, 4, 5],
  );
  log.truncateTo(3);
  assert.deepEqual(
    log.read().map((e) => [e.step, e.loss]),
    [
      [1, 1],
      [2, 0.5],
      [3, 1 / 3],
    ],
  );
});
