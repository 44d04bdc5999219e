// `vitmae finetune` and `vitmae eval` end to end on a 16x16 model: outputs, held-out top-1 every epoch,
// Ctrl-C and --resume byte-identical to the unbroken run, the pooling choice, and bad inputs in one line.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../src/core/index.ts";
import { decodeImage } from "../../src/io/image.ts";
import { loadClassifier } from "../../src/vit/checkpointFolder.ts";
import { namedParameters } from "../../src/mae/params.ts";
import {
  logLosses,
  runCli,
  writeImageFolder,
  writeLabelledFolder,
  writeSmallConfig,
} from "../helpers/pretrainFixture.ts";
import "../helpers/asyncReference.ts"; // registers the async-reference backend

const root = mkdtempSync(join(tmpdir(), "vitmae-cli-finetune-"));
after(() => rmSync(root, { recursive: true, force: true }));
const at = (...parts: string[]) => join(root, ...parts);

const data = writeLabelledFolder(at("data"));
const init = at("init");
const full = at("full");
// 24 images, 6 held out, 18 to train: batch 4 → 4 steps per epoch
const common = ["finetune", "--data", data, "--val-fraction", "0.25", "--batch-size", "4", "--seed", "3"];

test("setup: a fresh pre-training checkpoint to fine-tune", async () => {
  const r = await runCli(["init", "--config", writeSmallConfig(at("config.json")), "--out", init]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
});

test("finetune: progress, held-out top-1 after each epoch, log.jsonl, eval.jsonl, loss.png, a classifier checkpoint", async () => {
  const r = await runCli([...common, "--model", init, "--epochs", "2", "--out", full]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.deepEqual(r.stderr, []);
  const epochs = r.stdout.filter((l) =>
    /^epoch \d\.00: held-out top-1 \d+\.\d\d% \(6 images\), loss \d+\.\d{4}$/.test(l),
  );
  assert.equal(epochs.length, 2, r.stdout.join("\n"));
  assert.match(r.stdout.at(-1)!, /^done: 8 steps, final loss \d+\.\d{4}, held-out top-1 \d+\.\d\d%/);
  assert.deepEqual(logLosses(full).length, 8);
  const evals = readFileSync(join(full, "eval.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    evals.map((e) => e.step),
    [4, 8],
  );
  assert.ok(evals.every((e) => e.count === 6 && e.accuracy >= 0 && e.accuracy <= 1));
  assert.ok(existsSync(join(full, "loss.png")));
  const config = JSON.parse(readFileSync(join(full, "checkpoint", "config.json"), "utf8"));
  assert.equal(config.model_type, "vit");
  assert.deepEqual(config.architectures, ["ViTForImageClassification"]);
  assert.deepEqual(config.id2label, { 0: "bright", 1: "dark" });
  assert.equal(config.use_mean_pooling, true, "MAE's default: global pool + fc_norm");
  const state = JSON.parse(readFileSync(join(full, "checkpoint", "trainer_state.json"), "utf8"));
  assert.equal(state.hyper.layerDecay, 0.75);
  assert.equal(state.hyper.dropPath, 0.1);
  assert.equal(state.hyper.smoothing, 0.1);
  assert.equal(state.hyper.mixup, 0.8);
  assert.equal(state.hyper.cutmix, 1);
  assert.equal(state.hyper.lr, (1e-3 * 4) / 256, "lr = blr × batch / 256");
  const names = [...namedParameters(loadClassifier(full).params).keys()];
  assert.ok(names.includes("fc_norm.weight") && !names.includes("vit.layernorm.weight"));
});

test("eval: prints top-1 and writes the confusion-matrix PNG and JSON; the counts cover every image", async () => {
  const png = at("confusion.png");
  const json = at("eval.json");
  const r = await runCli(["eval", "--model", full, "--data", data, "--out", png, "--json", json]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.match(
    r.stdout.at(-1)!,
    /^top-1 accuracy \d+\.\d\d% on 24 images \(2 classes\), mean cross entropy \d+\.\d{4}; confusion matrix in /,
  );
  const result = JSON.parse(readFileSync(json, "utf8"));
  assert.equal(
    result.confusion.flat().reduce((s: number, v: number) => s + v, 0),
    24,
  );
  assert.deepEqual(
    result.confusion.map((row: number[]) => row.reduce((s, v) => s + v, 0)),
    [12, 12],
  );
  const diagonal = result.confusion[0][0] + result.confusion[1][1];
  assert.equal(result.accuracy, diagonal / 24);
  const image = decodeImage(readFileSync(png), png);
  assert.ok(image.width > 40 && image.height > 40);
});

test("Ctrl-C after step 3 saves and exits 130; --resume finishes byte-identical to the unbroken run", async () => {
  const stopped = at("stopped");
  const before = process.listeners("SIGINT");
  const r = await runCli([...common, "--model", init, "--epochs", "2", "--out", stopped], (line) => {
    if (!line.startsWith("step 3/")) return;
    for (const handler of process.listeners("SIGINT").filter((l) => !before.includes(l))) (handler as () => void)();
  });
  assert.equal(r.code, 130, r.stderr.join("\n"));
  assert.match(r.stderr[0], /interrupted \(SIGINT\) at step 3\/8: checkpoint saved in .*; continue with --resume /);
  const resumed = await runCli([...common, "--resume", stopped, "--out", stopped]);
  assert.equal(resumed.code, 0, resumed.stderr.join("\n"));
  for (const file of ["model.safetensors", "optimizer.safetensors", "config.json", "trainer_state.json"])
    assert.ok(
      readFileSync(join(stopped, "checkpoint", file)).equals(readFileSync(join(full, "checkpoint", file))),
      `${file} is byte-identical to the unbroken run's`,
    );
  assert.deepEqual(logLosses(stopped), logLosses(full));
  const evalOf = (d: string) =>
    readFileSync(join(d, "eval.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).accuracy);
  assert.deepEqual(evalOf(stopped), evalOf(full));
  const other = at("seed4");
  const o = await runCli([...common.slice(0, -1), "4", "--model", init, "--steps", "1", "--out", other]);
  assert.equal(o.code, 0);
  assert.notEqual(logLosses(other)[0], logLosses(full)[0], "the seed matters, so the equality above is not vacuous");
});

test("--cls-token: HF's pooling (vit.layernorm, no fc_norm); the checkpoint's pooling stays when training on", async () => {
  const out = at("cls");
  const r = await runCli([...common, "--model", init, "--steps", "2", "--cls-token", "--out", out]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  const names = [...namedParameters(loadClassifier(out).params).keys()];
  assert.ok(names.includes("vit.layernorm.weight") && !names.includes("fc_norm.weight"));
  const more = await runCli([...common, "--model", out, "--steps", "1", "--out", at("cls2")]);
  assert.equal(more.code, 0, more.stderr.join("\n"));
  assert.equal(loadClassifier(at("cls2")).config.useMeanPooling, false);
});

test("bad inputs fail in one line naming the problem", async () => {
  const unlabelled = writeImageFolder(at("flat"), 8);
  const cases: [string[], RegExp][] = [
    [
      ["finetune", "--model", init, "--data", unlabelled, "--epochs", "1", "--out", at("x1")],
      /has no labels; fine-tuning needs classes/,
    ],
    [
      [...common, "--model", init, "--epochs", "1", "--batch-size", "3", "--out", at("x2")],
      /--batch-size must be even, got 3/,
    ],
    [[...common, "--model", init, "--epochs", "1", "--out", full], /--out .*full already holds a training run/],
    [
      [...common, "--resume", full, "--out", full, "--drop-path", "0.2"],
      /--resume needs the flags of the original run \(--drop-path: saved 0.1, now 0.2\)/,
    ],
    [[...common, "--model", init, "--out", at("x3")], /give the length of the run: --epochs N or --steps N/],
    [["eval", "--model", init, "--data", data], /holds a ViTMAE model, not a classifier: fine-tune it first/],
    [["eval", "--model", full, "--data", "mnist", "--out", at("c.png")], /has 10 classes, the model 2/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assert.notEqual(r.code, 0, argv.join(" "));
    assert.equal(r.stderr.length, 1, `${argv.join(" ")}: ${r.stderr.join("\n")}`);
    assert.match(r.stderr[0], message);
  }
  assert.ok(!existsSync(at("x1")) && !existsSync(at("x2")), "nothing written for a refused run");
});

test("finetune --limit and eval --limit on --backend async-reference (reads only with await, as a GPU): the reference backend's checkpoint and evaluation", async () => {
  const runOn = async (backend: string) => {
    const out = at(`limit-${backend}`);
    const json = at(`limit-${backend}.json`);
    try {
      const tune = await runCli([
        ...common,
        "--model",
        init,
        "--limit",
        "12",
        "--steps",
        "2",
        "--backend",
        backend,
        "--out",
        out,
      ]);
      assert.equal(tune.code, 0, tune.stderr.join("\n"));
      assert.match(tune.stdout[0], new RegExp(`^backend: ${backend}`));
      const ev = await runCli([
        "eval",
        "--model",
        out,
        "--data",
        data,
        "--limit",
        "8",
        "--backend",
        backend,
        "--out",
        at(`limit-${backend}.png`),
        "--json",
        json,
      ]);
      assert.equal(ev.code, 0, ev.stderr.join("\n"));
    } finally {
      T.setBackend("cpu");
    }
    const { model: _, ...evaluation } = JSON.parse(readFileSync(json, "utf8"));
    return { weights: readFileSync(join(out, "checkpoint", "model.safetensors")), evaluation };
  };
  const got = await runOn("async-reference");
  const want = await runOn("reference");
  assert.ok(got.weights.equals(want.weights), "the fine-tuned weights differ");
  assert.equal(got.evaluation.count, 8);
  assert.deepEqual(got.evaluation, want.evaluation);
});
