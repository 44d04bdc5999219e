// The pre-training loop as a library: a resumed run replays the uninterrupted one bit for bit, frozen
// tables stay frozen (and out of the clipping norm), a diverging loss stops the run and keeps the last checkpoint.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { valueAndGrad } from "../../src/autodiff/index.ts";
import * as T from "../../src/core/index.ts";
import type { Tensor } from "../../src/core/index.ts";
import { DEFAULT_PREPROCESSOR_CONFIG, makeLoader, preprocessOptions } from "../../src/data/index.ts";
import { unsafeConfig, type ViTMAEConfig } from "../../src/mae/config.ts";
import { forward } from "../../src/mae/forward.ts";
import { initPreTraining } from "../../src/mae/init.ts";
import { FROZEN_PARAMETERS, namedParameters, type PreTrainingParams } from "../../src/mae/params.ts";
import {
  DivergenceError,
  pretrain,
  runKeys,
  type PretrainHyper,
  type PretrainRun,
  type StepInfo,
} from "../../src/train/pretrain.ts";
import { loadTrainingCheckpoint } from "../../src/train/trainCheckpoint.ts";
import { memoryDataset, smallConfig } from "../helpers/pretrainFixture.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-pretrain-"));
after(() => rmSync(root, { recursive: true, force: true }));

const dataset = memoryDataset(20); // batch 8, last batch dropped: 2 steps per epoch, so 6 steps span 3 shuffled epochs
const preprocess = preprocessOptions({ ...DEFAULT_PREPROCESSOR_CONFIG }, { height: 16, width: 16, channels: 3 });
const hyper: PretrainHyper = {
  batchSize: 8,
  accumIter: 1,
  totalSteps: 6,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 2,
  weightDecay: 0.05,
  betas: [0.9, 0.95],
  clipGrad: null,
  maskRatio: 0.75,
  augment: true,
};

function runOf(outDir: string, over: Partial<PretrainRun> = {}, h: Partial<PretrainHyper> = {}): PretrainRun {
  return {
    config: smallConfig,
    dataset,
    dataSpec: "memory",
    preprocess,
    preprocessorJson: { image_processor_type: "ViTImageProcessor" },
    hyper: { ...hyper, ...h },
    seed: 5,
    outDir,
    checkpointEvery: 100,
    ...over,
  };
}

/** Runs pretrain and records every step's info. */
async function recorded(run: PretrainRun) {
  const steps: StepInfo[] = [];
  const result = await pretrain({
    ...run,
    onStep: (i) => {
      steps.push(i);
      run.onStep?.(i);
    },
  });
  return { result, steps };
}

const paramValues = (p: PreTrainingParams) => new Map([...namedParameters(p)].map(([n, t]) => [n, [...t.toArray()]]));
const bytes = (dir: string, file: string) => readFileSync(join(dir, "checkpoint", file));

/** The uninterrupted run and the stopped-and-resumed one must agree exactly: losses, lrs, params, saved bytes. */
function assertSameRun(
  full: Awaited<ReturnType<typeof recorded>>,
  resumedSteps: StepInfo[],
  resumedParams: PreTrainingParams,
  fullDir: string,
  resumedDir: string,
) {
  assert.deepEqual(
    resumedSteps.map((s) => s.step),
    [1, 2, 3, 4, 5, 6],
  );
  assert.deepEqual(
    resumedSteps.map((s) => s.loss),
    full.steps.map((s) => s.loss),
    "losses, bit for bit",
  );
  assert.deepEqual(
    resumedSteps.map((s) => s.lr),
    full.steps.map((s) => s.lr),
  );
  assert.deepEqual(
    resumedSteps.map((s) => s.gradNorm),
    full.steps.map((s) => s.gradNorm),
  );
  assert.deepEqual(paramValues(resumedParams), paramValues(full.result.params), "final parameters, bit for bit");
  for (const file of ["model.safetensors", "optimizer.safetensors"])
    assert.ok(bytes(resumedDir, file).equals(bytes(fullDir, file)), file);
}

test("stopped after 3 steps (shouldStop), loaded and resumed: the same 6 losses and final parameters as unbroken", async () => {
  const full = await recorded(runOf(join(root, "full")));
  assert.equal(full.result.step, 6);
  assert.equal(full.result.stopped, false);
  assert.ok(full.steps.every((s) => Number.isFinite(s.loss) && s.imagesPerSec > 0));
  assert.equal(new Set(full.steps.map((s) => s.loss)).size, 6, "six different batches and masks");

  const dir = join(root, "stopped");
  let done = 0;
  const first = await recorded(runOf(dir, { onStep: () => void done++, shouldStop: () => done === 3 }));
  assert.equal(first.result.stopped, true);
  assert.equal(first.result.step, 3);
  const saved = loadTrainingCheckpoint(dir);
  assert.equal(saved.state.step, 3);
  assert.equal(saved.opt.step.item(), 3);
  assert.equal(saved.state.lastLoss, first.steps[2].loss);
  const { params, opt, state } = saved;
  const rest = await recorded(
    runOf(dir, { resume: { params, opt, step: state.step, runningLoss: state.runningLoss } }),
  );
  assert.equal(rest.result.step, 6);
  assertSameRun(full, [...first.steps, ...rest.steps], rest.result.params, join(root, "full"), dir);
  assert.ok(
    bytes(dir, "trainer_state.json").equals(bytes(join(root, "full"), "trainer_state.json")),
    "the divergence rule's running loss too",
  );

  const otherSeed = await recorded(runOf(join(root, "seed6"), { seed: 6 }, { totalSteps: 1 }));
  assert.notEqual(otherSeed.steps[0].loss, full.steps[0].loss, "the seed matters, so equality above is not vacuous");
});

test("accumulation, clipping, dropout: resuming from the step-3 checkpoint (copied away mid-run) replays the run", async () => {
  const config: ViTMAEConfig = unsafeConfig({ hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1 }, smallConfig);
  const h = { accumIter: 2, clipGrad: 0.5 };
  const fullDir = join(root, "full-accum");
  const crashed = join(root, "crashed");
  const full = await recorded(
    runOf(
      fullDir,
      {
        config,
        checkpointEvery: 3,
        onCheckpoint: (path, step) => {
          if (step === 3) cpSync(path, join(crashed, "checkpoint"), { recursive: true });
        }, // what a crash at step 4 leaves
      },
      h,
    ),
  );
  assert.ok(full.steps.every((s) => s.gradNorm !== null && s.gradNorm > 0));
  const saved = loadTrainingCheckpoint(crashed);
  assert.equal(saved.state.step, 3);
  assert.deepEqual(saved.config, config);
  const rest = await recorded(
    runOf(
      crashed,
      { config: saved.config, resume: { params: saved.params, opt: saved.opt, step: saved.state.step } },
      h,
    ),
  );
  assertSameRun(full, [...full.steps.slice(0, 3), ...rest.steps], rest.result.params, fullDir, crashed);
});

test("frozen sin-cos tables never change, and their gradients are left out of the clipping norm (torch: requires_grad=False)", async () => {
  const { result, steps } = await recorded(
    runOf(join(root, "frozen"), {}, { totalSteps: 1, warmupSteps: 0, clipGrad: 1e9 }),
  );
  // Step 1 by hand: the same keys, batch and mask as the loop uses.
  const keys = runKeys(5);
  const init = initPreTraining(keys.init, smallConfig);
  const loader = makeLoader({ dataset, batchSize: 8, key: keys.data, preprocess, augment: true, dropLast: true });
  const batch = loader.batchAt(0);
  const lossOf = (p: PreTrainingParams, pixels: Tensor) =>
    forward(p, smallConfig, pixels, { key: T.random.foldIn(keys.mask, 0), maskRatio: 0.75 }).loss;
  const [loss, grads] = valueAndGrad(lossOf)(init, T.fromArray(batch.pixels, batch.shape));
  assert.equal(steps[0].loss, loss.item(), "the hand-made step sees the loop's batch and mask");
  const frozen = new Set<string>(FROZEN_PARAMETERS);
  let trainableSq = 0;
  let frozenSq = 0;
  for (const [name, g] of namedParameters(grads))
    for (const x of g.toArray()) frozen.has(name) ? (frozenSq += x * x) : (trainableSq += x * x);
  assert.ok(
    frozenSq > 1e-6 * trainableSq,
    `the tables do get a gradient (${frozenSq} vs ${trainableSq}), so leaving them out matters`,
  );
  assert.ok(
    // The norm is summed in float32: a few roundings off the exact one, far below what the tables add.
    Math.abs(steps[0].gradNorm! - Math.sqrt(trainableSq)) <= 1e-6 * Math.sqrt(trainableSq),
    `norm ${steps[0].gradNorm} vs ${Math.sqrt(trainableSq)} (with the tables: ${Math.sqrt(trainableSq + frozenSq)})`,
  );
  const before = namedParameters(init);
  const afterStep = namedParameters(result.params);
  for (const name of FROZEN_PARAMETERS)
    assert.deepEqual([...afterStep.get(name)!.toArray()], [...before.get(name)!.toArray()], name);
  assert.notDeepEqual(
    [...afterStep.get("decoder.decoder_pred.weight")!.toArray()],
    [...before.get("decoder.decoder_pred.weight")!.toArray()],
  );
});

test("a diverging run stops with a DivergenceError; the last checkpoint stays, byte for byte, and loads", async () => {
  const dir = join(root, "diverge");
  const snapshots = new Map<number, Map<string, Buffer>>();
  const losses: number[] = [];
  // Warmup makes step 1's lr 0 (a sane step) and step 2's 2.5e29: the parameters explode and LayerNorm's variance overflows.
  const run = runOf(
    dir,
    {
      checkpointEvery: 1,
      onStep: (i) => void losses.push(i.loss),
      onCheckpoint: (path, step) =>
        snapshots.set(
          step,
          new Map(
            ["model.safetensors", "optimizer.safetensors", "trainer_state.json"].map((f) => [
              f,
              readFileSync(join(path, f)),
            ]),
          ),
        ),
    },
    { lr: 1e30, warmupSteps: 4, totalSteps: 10, weightDecay: 0 },
  );
  const error = await pretrain(run).then(
    () => assert.fail("the run must not finish"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DivergenceError, String(error));
  const m = new RegExp(
    String.raw`(?:the loss became (?:NaN|-?Infinity)|the gradients became non-finite \(loss [^)]*\)|the loss exploded to \S+ \([^)]*\)) at step (\d+); ` +
      String.raw`stopping\. The last good checkpoint \(step (\d+)\) is kept in (.*)\. Try`,
  ).exec(error.message);
  assert.ok(m, error.message);
  const [failedAt, savedAt] = [Number(m[1]), Number(m[2])];
  assert.equal(m[3], dir);
  assert.equal(savedAt, failedAt - 1);
  assert.equal(losses.length, savedAt, "every finished step was reported, the bad one was not");
  assert.ok(losses.every(Number.isFinite));
  assert.equal(Math.max(...snapshots.keys()), savedAt);
  for (const [file, saved] of snapshots.get(savedAt)!)
    assert.ok(readFileSync(join(dir, "checkpoint", file)).equals(saved), `${file} unchanged since step ${savedAt}`);
  const loaded = loadTrainingCheckpoint(dir);
  assert.equal(loaded.state.step, savedAt);
  assert.equal(loaded.state.lastLoss, losses.at(-1));
  assert.ok(
    [...namedParameters(loaded.params).values()].every((t) => t.toArray().every(Number.isFinite)),
    "the kept parameters are finite",
  );

  // Diverging before any save: the message says so instead of pointing at a checkpoint that is not there.
  const early = join(root, "diverge-early");
  const e2 = await pretrain(runOf(early, {}, { lr: 1e30, warmupSteps: 0, totalSteps: 10, weightDecay: 0 })).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(e2 instanceof DivergenceError, String(e2));
  assert.match(e2.message, /at step \d+; stopping\. No checkpoint was saved before it\./);
  assert.ok(!existsSync(join(early, "checkpoint")));
});

test("mask ratio 0 is refused before anything is written", async () => {
  const dir = join(root, "ratio0");
  await assert.rejects(pretrain(runOf(dir, {}, { maskRatio: 0 })), /mask ratio 0/);
  assert.ok(!existsSync(dir));
});
