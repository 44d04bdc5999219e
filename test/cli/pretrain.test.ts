// `vitmae pretrain` end to end on a 16x16 model: its outputs, Ctrl-C (in-process and a real SIGINT) and
// --resume replaying the unbroken run, divergence, and bad inputs that fail in one line and lose nothing.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeImage, encodePng } from "../../src/io/image.ts";
import { readImageFile } from "../../src/node/imageFile.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { loadTrainingCheckpoint } from "../../src/train/trainCheckpoint.ts";
import {
  logLosses,
  pictureOf,
  runCli,
  snapshot,
  writeImageFolder,
  writeSmallConfig,
} from "../helpers/pretrainFixture.ts";
import { repoRoot } from "../helpers/reference.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-cli-pretrain-"));
after(() => rmSync(root, { recursive: true, force: true }));
const at = (...parts: string[]) => join(root, ...parts);

const config = writeSmallConfig(at("config.json"));
const data = writeImageFolder(at("data"), 16); // batch 8: 2 steps per epoch
const common = ["pretrain", "--config", config, "--data", data, "--batch-size", "8", "--seed", "3"];
const CHECKPOINT_FILES = [
  "config.json",
  "model.safetensors",
  "optimizer.safetensors",
  "preprocessor_config.json",
  "trainer_state.json",
];

/** Runs the CLI, raising a SIGINT (through pretrain's own handler) once stdout shows step `stopAt`. */
async function interruptedAt(stopAt: number, argv: string[]) {
  const before = process.listeners("SIGINT");
  return runCli(argv, (line) => {
    if (!line.startsWith(`step ${stopAt}/`)) return;
    // Only the handler pretrain added: emitting the event would also reach the test runner's own, if any.
    for (const handler of process.listeners("SIGINT").filter((l) => !before.includes(l)))
      (handler as (signal: string) => void)("SIGINT");
  });
}

const full = at("full"); // the unbroken 6-step run, checkpoints at 3 and 6; reused by later tests

test("pretrain writes progress, log.jsonl, loss.png and a checkpoint/ that forward and reconstruct accept", async () => {
  const r = await runCli([...common, "--steps", "6", "--checkpoint-every", "3", "--out", full]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.deepEqual(r.stderr, []);
  for (let step = 1; step <= 6; step++)
    assert.ok(
      r.stdout.some((l) => new RegExp(`^step ${step}/6 +loss \\d+\\.\\d{4} +lr \\S+ +\\d+\\.\\d img/s`).test(l)),
      `progress line for step ${step}:\n${r.stdout.join("\n")}`,
    );
  assert.match(r.stdout.at(-1)!, /^done: 6 steps, final loss \d+\.\d{4}/);
  // Before the first step: the compiled step and the memory it needs.
  const plan = r.stdout.findIndex((l) =>
    /^compiled the training step: \d+ kernels; intermediate buffers \d+\.\d MiB on cpu/.test(l),
  );
  assert.ok(plan >= 0 && plan < r.stdout.findIndex((l) => l.startsWith("step 1/6")), r.stdout.join("\n"));

  const lines = readFileSync(join(full, "log.jsonl"), "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, number>);
  assert.deepEqual(
    lines.map((e) => e.step),
    [1, 2, 3, 4, 5, 6],
  );
  for (const e of lines) {
    for (const key of ["loss", "lr", "imagesPerSec"])
      assert.ok(typeof e[key] === "number" && Number.isFinite(e[key]) && e[key] > 0, `${key} in ${JSON.stringify(e)}`);
  }
  assert.equal(lines[0].lr, (1.5e-4 * 8) / 256, "the default blr 1.5e-4 scaled to batch 8, no warmup in a 6-step run");

  const curve = decodeImage(readFileSync(join(full, "loss.png")), "loss.png");
  assert.deepEqual([curve.width, curve.height], [640, 400]);
  assert.deepEqual(readdirSync(join(full, "checkpoint")).sort(), CHECKPOINT_FILES);
  const saved = loadTrainingCheckpoint(full);
  assert.equal(saved.state.step, 6);
  assert.equal(saved.state.lastLoss, lines[5].loss);
  const pre = JSON.parse(readFileSync(join(full, "checkpoint", "preprocessor_config.json"), "utf8"));
  assert.deepEqual(pre.size, { height: 16, width: 16 });

  // The output folder is a model folder for the other commands.
  const inputs = at("pixels.safetensors");
  writeSafetensorsFile(inputs, {
    pixel_values: { dtype: "F32", shape: [1, 3, 16, 16], data: new Float32Array(768).map((_, i) => Math.sin(i)) },
  });
  const f = await runCli([
    "forward",
    "--model",
    full,
    "--inputs",
    inputs,
    "--out",
    at("forward.safetensors"),
    "--seed",
    "1",
  ]);
  assert.equal(f.code, 0, f.stderr.join("\n"));
  assert.deepEqual(readSafetensorsFile(at("forward.safetensors")).tensors.get("last_hidden_state")!.shape, [1, 5, 16]);
  const image = at("picture.png");
  const p = pictureOf(99);
  writeFileSync(image, encodePng(p.data, p.width, p.height, 3));
  const rec = await runCli(["reconstruct", "--model", full, "--image", image, "--out", at("reconstruct.png")]);
  assert.equal(rec.code, 0, rec.stderr.join("\n"));
  assert.ok(readImageFile(at("reconstruct.png")).width > 0);
});

const stopped = at("stopped");
const stoppedCopy = at("stopped-copy"); // the interrupted state, kept for the failure test below

test("Ctrl-C after step 3 saves, exits 130 naming --resume; --resume finishes with the unbroken run's losses and weights", async () => {
  const r = await interruptedAt(3, [...common, "--steps", "6", "--out", stopped]);
  assert.equal(r.code, 130, r.stderr.join("\n"));
  assert.equal(r.stderr.length, 1, r.stderr.join("\n"));
  assert.match(r.stderr[0], /interrupted \(SIGINT\) at step 3\/6: checkpoint saved in .*; continue with --resume /);
  assert.equal(loadTrainingCheckpoint(stopped).state.step, 3);
  assert.equal(logLosses(stopped).length, 3);
  cpSync(stopped, stoppedCopy, { recursive: true });

  const resumed = await runCli([...common, "--steps", "6", "--resume", stopped, "--out", stopped]);
  assert.equal(resumed.code, 0, resumed.stderr.join("\n"));
  assert.ok(
    resumed.stdout.some((l) => l.startsWith("step 4/6")) && !resumed.stdout.some((l) => l.startsWith("step 3/6")),
    "it continues at step 4",
  );
  assert.deepEqual(logLosses(stopped), logLosses(full), "log.jsonl losses, bit for bit");
  for (const file of ["model.safetensors", "optimizer.safetensors"]) {
    assert.ok(
      readFileSync(join(stopped, "checkpoint", file)).equals(readFileSync(join(full, "checkpoint", file))),
      file,
    );
  }
});

test("a diverging run (--lr 10 --weight-decay 10) stops with one line; the last checkpoint is the last good step", async () => {
  const out = at("diverge");
  const r = await runCli([
    ...common,
    "--steps",
    "40",
    "--lr",
    "10",
    "--weight-decay",
    "10",
    "--checkpoint-every",
    "2",
    "--out",
    out,
  ]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.length, 1, r.stderr.join("\n"));
  const m = new RegExp(
    String.raw`^vitmae pretrain: (?:the loss became (?:NaN|-?Infinity)|the gradients became non-finite \(loss [^)]*\)|the loss exploded to \S+ \([^)]*\)) ` +
      String.raw`at step (\d+); stopping\. The last good checkpoint \(step (\d+)\) is kept in `,
  ).exec(r.stderr[0]);
  assert.ok(m, r.stderr[0]);
  const [failedAt, savedAt] = [Number(m[1]), Number(m[2])];
  assert.ok(savedAt > 0 && savedAt < failedAt && failedAt - savedAt <= 2, `failed at ${failedAt}, saved at ${savedAt}`);
  const losses = logLosses(out);
  assert.equal(losses.length, failedAt - 1, "every finished step is logged");
  assert.ok(losses.every(Number.isFinite));
  const saved = loadTrainingCheckpoint(out);
  assert.equal(saved.state.step, savedAt);
  assert.equal(saved.state.lastLoss, losses[savedAt - 1]);
});

test("bad inputs: one line on stderr naming the problem, a non-zero exit, and saved runs left byte for byte", async () => {
  const emptyDir = at("empty");
  mkdirSync(emptyDir);
  const corruptData = writeImageFolder(at("corrupt-data"), 8);
  writeFileSync(join(corruptData, "img03.png"), readFileSync(join(corruptData, "img03.png")).subarray(0, 60)); // truncated mid-chunk
  const aFile = at("a-file");
  writeFileSync(aFile, "not a folder");
  const fullBefore = snapshot(full);
  const stoppedBefore = snapshot(stoppedCopy);
  assert.ok(stoppedBefore.has(join("checkpoint", "model.safetensors")));

  const withData = (d: string, ...rest: string[]) => [
    "pretrain",
    "--config",
    config,
    "--data",
    d,
    "--batch-size",
    "8",
    "--seed",
    "3",
    ...rest,
  ];
  const cases: [string[], RegExp][] = [
    [[...common, "--steps", "6", "--lr", "1e-3", "--blr", "1e-4", "--out", at("x1")], /give --blr or --lr, not both/],
    [[...common, "--steps", "6", "--epochs", "2", "--out", at("x2")], /give --steps or --epochs, not both/],
    [[...common, "--out", at("x3")], /give the length of the run: --steps N or --epochs N/],
    [withData(at("no-such-folder"), "--steps", "6", "--out", at("x4")), /no-such-folder.*does not exist/],
    [withData(emptyDir, "--steps", "6", "--out", at("x5")), /empty.* is empty/],
    [withData(corruptData, "--steps", "6", "--out", at("x6")), /img03\.png.*(corrupt|truncated)/i],
    [[...common, "--steps", "6", "--mask-ratio", "0", "--out", at("x7")], /mask ratio of 0/],
    [[...common, "--steps", "6", "--out", join(aFile, "run")], /cannot create --out .*a-file/],
    [[...common, "--steps", "6", "--resume", emptyDir, "--out", at("x8")], /no training checkpoint in .*empty/],
    // Against saved runs: nothing there may change.
    [[...common, "--steps", "6", "--out", full], /--out .*full already holds a training run.*--resume/],
    [
      [...common, "--steps", "6", "--resume", full, "--out", full, "--batch-size", "4"],
      /--resume needs the flags of the original run \(--batch-size: saved 8, now 4\)/,
    ],
    [[...common, "--steps", "9", "--resume", full, "--out", full], /--steps\/--epochs: saved 6, now 9/],
    [
      withData(corruptData, "--steps", "6", "--resume", stoppedCopy, "--out", stoppedCopy),
      /img03\.png.*(corrupt|truncated)/i,
    ],
  ];
  for (const [argv, why] of cases) {
    const r = await runCli(argv);
    const label = argv.slice(1).join(" ").replaceAll(root, "…");
    assert.notEqual(r.code, 0, `${label} must fail`);
    assert.equal(r.stderr.length, 1, `${label}: one message, got ${JSON.stringify(r.stderr)}`);
    assert.ok(!r.stderr[0].includes("\n"), `${label}: one line, got ${JSON.stringify(r.stderr[0])}`);
    assert.match(r.stderr[0], /^vitmae pretrain: /, label);
    assert.match(r.stderr[0], why, label);
  }
  assert.deepEqual(snapshot(full), fullBefore, "the finished run is untouched");
  assert.deepEqual(
    snapshot(stoppedCopy),
    stoppedBefore,
    "a resume that fails on its first batch leaves the step-3 checkpoint and log as they were",
  );
  assert.equal(loadTrainingCheckpoint(stoppedCopy).state.step, 3);
  assert.ok(!existsSync(join(at("x6"), "checkpoint")), "no checkpoint from a run that never made a step");
});

test("the real process: SIGINT mid-run exits 130, checkpoint at the log's last step; --resume replays the unbroken run", async () => {
  const out = at("sigint");
  const steps = "120";
  const child = spawn(process.execPath, ["bin/vitmae.mjs", ...common, "--steps", steps, "--out", out], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (b: Buffer) => (output += b));
  child.stderr.on("data", (b: Buffer) => (output += b));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  const logged = () =>
    existsSync(join(out, "log.jsonl")) && readFileSync(join(out, "log.jsonl"), "utf8").includes("\n");
  while (!logged()) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `no step logged within 30 s: ${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGINT");
  assert.equal(await exited, 130, output);
  assert.match(output, /interrupted \(SIGINT\) at step \d+\/120: .*--resume /);
  assert.deepEqual(
    readdirSync(out).filter((n) => n.startsWith("checkpoint")),
    ["checkpoint"],
  );
  assert.deepEqual(readdirSync(join(out, "checkpoint")).sort(), CHECKPOINT_FILES);
  const partial = logLosses(out);
  const state = loadTrainingCheckpoint(out).state;
  assert.ok(state.step >= 1 && state.step < 120, `stopped at ${state.step}`);
  assert.equal(state.step, partial.length, "the checkpoint is at the log's last step");

  const resumed = await runCli([...common, "--steps", steps, "--resume", out, "--out", out]);
  assert.equal(resumed.code, 0, resumed.stderr.join("\n"));
  const unbroken = await runCli([...common, "--steps", steps, "--out", at("sigint-unbroken")]);
  assert.equal(unbroken.code, 0, unbroken.stderr.join("\n"));
  assert.deepEqual(logLosses(out), logLosses(at("sigint-unbroken")));
  assert.deepEqual(logLosses(out).slice(0, partial.length), partial, "the interrupted process logged the same losses");
});

test("finding 5, the real process: SIGTERM (a scheduler, docker stop) saves like Ctrl-C and exits 143", async () => {
  const out = at("sigterm");
  const child = spawn(process.execPath, ["bin/vitmae.mjs", ...common, "--steps", "120", "--out", out], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (b: Buffer) => (output += b));
  child.stderr.on("data", (b: Buffer) => (output += b));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!(existsSync(join(out, "log.jsonl")) && readFileSync(join(out, "log.jsonl"), "utf8").includes("\n"))) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `no step logged within 30 s: ${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGTERM");
  assert.equal(await exited, 143, output);
  assert.match(output, /interrupted \(SIGTERM\) at step \d+\/120: checkpoint saved in .*--resume /);
  assert.equal(
    loadTrainingCheckpoint(out).state.step,
    logLosses(out).length,
    "the checkpoint is at the log's last step",
  );
});

test("the real process: a corrupt image is one stderr line naming the file (no stack), exit 1", () => {
  const bad = writeImageFolder(at("bad-data"), 8);
  writeFileSync(join(bad, "img05.png"), Buffer.from("\x89PNG\r\n\x1a\n garbage", "latin1"));
  const r = spawnSync(
    process.execPath,
    [
      "bin/vitmae.mjs",
      "pretrain",
      "--config",
      config,
      "--data",
      bad,
      "--batch-size",
      "8",
      "--steps",
      "2",
      "--out",
      at("bad-out"),
    ],
    { cwd: repoRoot, encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, JSON.stringify(r.stderr));
  assert.match(r.stderr, /^vitmae pretrain: .*img05\.png/);
});
