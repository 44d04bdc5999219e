// Issue 13 through the command line: nothing a user saved is overwritten, resumes refuse what would
// silently change the run, bad inputs (FIFOs, empty batches, non-finite values, oversized configs) get
// one clear line, and long problem lists stay short.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { toHFJson } from "../../src/mae/config.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { runCli, smallConfig, snapshot, writeImageFolder, writeSmallConfig } from "../helpers/pretrainFixture.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-cli-safety-"));
after(() => rmSync(root, { recursive: true, force: true }));
const at = (...parts: string[]) => join(root, ...parts);

const config = writeSmallConfig(at("config.json"));
const data = writeImageFolder(at("data"), 16);
const run = at("run"); // a 2-step training run, made once
const model = at("model"); // a fresh HF checkpoint
const inputs = at("inputs.safetensors");
const common = ["pretrain", "--config", config, "--data", data, "--batch-size", "8", "--seed", "3"];

/** The one stderr line of a failed command, checked to be one line starting with the command's name. */
async function fails(argv: string[], why: RegExp): Promise<string> {
  const r = await runCli(argv);
  const label = argv.join(" ").replaceAll(root, "…");
  assert.notEqual(r.code, 0, `${label} must fail; stdout: ${r.stdout.join("\n")}`);
  assert.equal(r.stderr.length, 1, `${label}: one message, got ${JSON.stringify(r.stderr)}`);
  assert.ok(!r.stderr[0].includes("\n"), `${label}: one line, got ${JSON.stringify(r.stderr[0])}`);
  assert.match(r.stderr[0], new RegExp(`^vitmae ${argv[0]}: `), label);
  assert.match(r.stderr[0], why, label);
  return r.stderr[0];
}

async function succeeds(argv: string[]): Promise<void> {
  const r = await runCli(argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr.join("\n")}`);
}

/** Captures console.warn while `f` runs. */
async function warnings<A>(f: () => Promise<A>): Promise<{ result: A; warned: string[] }> {
  const warned: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => void warned.push(a.join(" "));
  try {
    return { result: await f(), warned };
  } finally {
    console.warn = warn;
  }
}

before(async () => {
  await succeeds([...common, "--steps", "2", "--checkpoint-every", "1", "--out", run]);
  await succeeds(["init", "--config", config, "--out", model]);
  const pixels = new Float32Array(2 * 3 * 16 * 16).map((_, i) => Math.sin(i));
  writeSafetensorsFile(inputs, { pixel_values: { dtype: "F32", shape: [2, 3, 16, 16], data: pixels } });
});

test("finding 1: init never writes over a checkpoint: a training one always refused, an HF one only with --overwrite", async () => {
  const before = snapshot(run);
  await fails(["init", "--config", config, "--out", join(run, "checkpoint")], /trainer_state\.json/);
  await fails(["init", "--config", config, "--overwrite", "--out", join(run, "checkpoint")], /training checkpoint/);
  assert.deepEqual(snapshot(run), before, "the trained run is untouched");
  const hf = at("hf-copy");
  mkdirSync(hf);
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(model, f), join(hf, f));
  const saved = snapshot(hf);
  await fails(["init", "--config", config, "--seed", "9", "--out", hf], /model\.safetensors.*--overwrite/);
  assert.deepEqual(snapshot(hf), saved);
  await succeeds(["init", "--config", config, "--seed", "9", "--overwrite", "--out", hf]);
  assert.notDeepEqual(snapshot(hf), saved, "--overwrite replaces it");
});

test("finding 2: forward, reconstruct and probe never write into a checkpoint folder, nor over a file without --overwrite", async () => {
  const before = snapshot(run);
  const weights = join(run, "checkpoint", "model.safetensors");
  for (const extra of [[], ["--overwrite"]]) {
    await fails(
      ["forward", "--model", run, "--inputs", inputs, "--out", weights, ...extra],
      /inside the checkpoint folder/,
    );
    await fails(
      ["reconstruct", "--model", run, "--data", data, "--count", "1", "--out", join(model, "grid.png"), ...extra],
      /inside the checkpoint folder/,
    );
  }
  assert.deepEqual(snapshot(run), before, "the weights are untouched");
  const out = at("outputs.safetensors");
  writeFileSync(out, "someone else's file");
  await fails(
    ["forward", "--model", model, "--inputs", inputs, "--out", out],
    /outputs\.safetensors already exists.*--overwrite/,
  );
  assert.equal(readFileSync(out, "utf8"), "someone else's file");
  await succeeds(["forward", "--model", model, "--inputs", inputs, "--out", out, "--overwrite"]);
  assert.ok(readSafetensorsFile(out).tensors.has("loss"));
  const png = at("grid.png");
  writeFileSync(png, "keep me");
  await fails(
    ["reconstruct", "--model", model, "--data", data, "--count", "1", "--out", png],
    /grid\.png already exists/,
  );
  assert.equal(readFileSync(png, "utf8"), "keep me");
});

test("finding 6: --resume refuses another --data or --config, naming saved and given; --data defaults to the saved", async () => {
  const otherData = writeImageFolder(at("other-data"), 16);
  const copy = at("run-copy");
  execFileSync("cp", ["-r", run, copy]);
  const before = snapshot(copy);
  await fails(
    [...common.map((a) => (a === data ? otherData : a)), "--steps", "3", "--resume", copy, "--out", copy],
    /--data: saved .*data.*, given .*other-data/,
  );
  const bigger = at("bigger.json");
  writeFileSync(bigger, JSON.stringify({ ...toHFJson(smallConfig), hidden_size: 32, intermediate_size: 64 }));
  await fails(
    [...common.map((a) => (a === config ? bigger : a)), "--steps", "3", "--resume", copy, "--out", copy],
    /--config: .*hidden_size: saved 16, given 32/,
  );
  assert.deepEqual(snapshot(copy), before, "refused resumes change nothing");
  await succeeds(["pretrain", "--batch-size", "8", "--seed", "3", "--steps", "2", "--resume", copy, "--out", copy]);
});

test("finding 8: an empty batch is refused; non-finite pixels or weights are warned about once, by name", async () => {
  const empty = at("empty-batch.safetensors");
  writeSafetensorsFile(empty, { pixel_values: { dtype: "F32", shape: [0, 3, 16, 16], data: new Float32Array(0) } });
  await fails(["forward", "--model", model, "--inputs", empty, "--out", at("o-empty.safetensors")], /empty batch/);
  const nan = at("nan.safetensors");
  const px = new Float32Array(2 * 3 * 16 * 16).fill(0.5);
  px[7] = Number.NaN;
  px[9] = Number.POSITIVE_INFINITY;
  writeSafetensorsFile(nan, { pixel_values: { dtype: "F32", shape: [2, 3, 16, 16], data: px } });
  const { warned } = await warnings(() =>
    succeeds(["forward", "--model", model, "--inputs", nan, "--out", at("o-nan.safetensors")]),
  );
  assert.equal(warned.length, 1, JSON.stringify(warned));
  assert.match(warned[0], /pixel_values .*2 non-finite values/);
  // A checkpoint with a NaN weight.
  const poisoned = at("poisoned");
  mkdirSync(poisoned);
  copyFileSync(join(model, "config.json"), join(poisoned, "config.json"));
  const tensors = readSafetensorsFile(join(model, "model.safetensors")).tensors;
  const w = tensors.get("vit.layernorm.weight")!;
  (w.data as Float32Array)[0] = Number.NaN;
  writeSafetensorsFile(
    join(poisoned, "model.safetensors"),
    new Map([...tensors].map(([n, t]) => [n, { dtype: "F32", shape: t.shape, data: t.data as Float32Array }])),
  );
  const second = await warnings(() =>
    succeeds(["forward", "--model", poisoned, "--inputs", inputs, "--out", at("o-poisoned.safetensors")]),
  );
  assert.equal(second.warned.length, 1, JSON.stringify(second.warned));
  assert.match(second.warned[0], /vit\.layernorm\.weight .*1 non-finite value/);
});

test("finding 9: a float parameter stored under an integer dtype loads, with a warning naming it", async () => {
  const ints = at("int-weights");
  mkdirSync(ints);
  copyFileSync(join(model, "config.json"), join(ints, "config.json"));
  const tensors = readSafetensorsFile(join(model, "model.safetensors")).tensors;
  const m = new Map(
    [...tensors].map(([n, t]) => [n, { dtype: "F32" as const, shape: t.shape, data: t.data as Float32Array }]),
  );
  const file = join(ints, "model.safetensors");
  writeSafetensorsFile(file, m);
  // Rewrite one tensor's dtype to I32 with the same byte count: integers 1, 1, …
  const bytes = readFileSync(file);
  const text = bytes.toString("latin1");
  const name = '"vit.layernorm.weight":{"dtype":"F32"';
  const at32 = text.indexOf(name);
  assert.ok(at32 > 0);
  bytes.write('"vit.layernorm.weight":{"dtype":"I32"', at32, "latin1");
  writeFileSync(file, bytes);
  const { warned } = await warnings(() =>
    succeeds(["forward", "--model", ints, "--inputs", inputs, "--out", at("o-int.safetensors")]),
  );
  assert.equal(warned.length, 1, JSON.stringify(warned));
  assert.match(warned[0], /vit\.layernorm\.weight.*I32.*float/);
});

test("finding 10: a config too large to allocate is refused before any allocation, naming the fields and the estimate", async () => {
  // As in the issue: 1e6 layers of HF's default sizes (7e12 parameters), and single tensors too big for any array.
  for (const [field, value, base] of [
    ["hidden_size", 1e9, toHFJson(smallConfig)],
    ["num_hidden_layers", 1e6, {}],
    ["intermediate_size", 2 ** 31 - 1, toHFJson(smallConfig)],
  ] as const) {
    const path = at(`huge-${field}.json`);
    writeFileSync(path, JSON.stringify({ ...base, [field]: value }));
    const started = Date.now();
    await fails(["init", "--config", path, "--out", at(`huge-${field}`)], new RegExp(`${field}.*(GB|TB|PB|elements)`));
    await fails(
      [...common.map((a) => (a === config ? path : a)), "--steps", "1", "--out", at(`h-${field}`)],
      new RegExp(field),
    );
    assert.ok(Date.now() - started < 5000, `${field}: refused at once`);
    assert.ok(!existsSync(at(`huge-${field}`)), "nothing written");
  }
  await fails(
    [...common, "--batch-size", "100000000", "--steps", "1", "--out", at("huge-batch")],
    /--batch-size.*(GB|TB)/,
  );
});

test("finding 11: --model or --inputs naming a FIFO is refused at once, never read", async () => {
  const fifo = at("fifo");
  execFileSync("mkfifo", [fifo]);
  await fails(["forward", "--model", model, "--inputs", fifo, "--out", at("o-fifo.safetensors")], /not a regular file/);
  await fails(
    ["forward", "--model", fifo, "--inputs", inputs, "--out", at("o-fifo2.safetensors")],
    /not a regular file|not a folder/,
  );
  await fails(["probe", "--model", fifo, "--data", "mnist"], /not a regular file|not a folder/);
});

test("finding 12: a wrong-size config shows the first problems and the count; --model FILE says a folder is expected", async () => {
  const wrong = at("wrong-size");
  mkdirSync(wrong);
  copyFileSync(join(model, "model.safetensors"), join(wrong, "model.safetensors"));
  writeFileSync(
    join(wrong, "config.json"),
    JSON.stringify({ ...toHFJson(smallConfig), hidden_size: 32, intermediate_size: 64, num_hidden_layers: 3 }),
  );
  const line = await fails(
    ["forward", "--model", wrong, "--inputs", inputs, "--out", at("o-wrong.safetensors")],
    /\d+ problem\(s\) with the parameters/,
  );
  assert.ok(line.length < 1000, `short: ${line.length} characters: ${line}`);
  assert.match(line, /and \d+ more/);
  await fails(
    ["forward", "--model", join(model, "model.safetensors"), "--inputs", inputs, "--out", at("o-file.safetensors")],
    /is a file: --model takes the checkpoint folder/,
  );
});

test("finding 3: a resume from a trainer_state.json without its hyper record is one line naming it, not a TypeError", async () => {
  const copy = at("no-hyper");
  execFileSync("cp", ["-r", run, copy]);
  const statePath = join(copy, "checkpoint", "trainer_state.json");
  const state = JSON.parse(readFileSync(statePath, "utf8"));
  delete state.hyper;
  state.seed = "3";
  writeFileSync(statePath, JSON.stringify(state));
  await fails(
    [...common, "--steps", "2", "--resume", copy, "--out", copy],
    /trainer_state\.json: 2 problem\(s\): seed: "3" \(must be an integer\); hyper: missing \(must be an object\)/,
  );
});

test("finding 4: unreadable images are all named before step 1; --skip-bad-images leaves them out and counts them", async () => {
  const bad = writeImageFolder(at("bad-data"), 16);
  for (const name of ["img03.png", "img11.png"])
    writeFileSync(join(bad, name), readFileSync(join(bad, name)).subarray(0, 60));
  const out = at("bad-run");
  await fails(
    [...common.map((a) => (a === data ? bad : a)), "--steps", "2", "--out", out],
    /2 of 16 images cannot be read \(.*img03\.png: truncated PNG.*img11\.png: truncated PNG.*\).*--skip-bad-images/,
  );
  assert.ok(!existsSync(out), "nothing written before step 1");
  const r = await runCli([
    ...common.map((a) => (a === data ? bad : a)),
    "--steps",
    "2",
    "--skip-bad-images",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.match(
    r.stdout.find((l) => l.startsWith("skipping")) ?? r.stdout.join("\n"),
    /^skipping 2 of 16 images that cannot be read: .*img03\.png.*img11\.png/,
  );
});

test("finding 4: an image that goes bad mid-run stops it with the run so far saved; --resume --skip-bad-images goes on", async () => {
  const flaky = writeImageFolder(at("flaky-data"), 16);
  const out = at("flaky-run");
  const argv = [
    ...common.map((a) => (a === data ? flaky : a)),
    "--steps",
    "6",
    "--checkpoint-every",
    "100",
    "--out",
    out,
  ];
  const r = await runCli(argv, (line) => {
    if (line.startsWith("step 2/")) writeFileSync(join(flaky, "img05.png"), "no longer a picture");
  });
  assert.equal(r.code, 1, r.stdout.join("\n"));
  assert.equal(r.stderr.length, 1, JSON.stringify(r.stderr));
  const m = new RegExp(
    String.raw`img05\.png.*not a PNG or JPEG file.*\(at step (\d+); the run up to step (\d+) is saved in .*\); ` +
      "fix or remove the file, or pass --skip-bad-images; then continue with --resume ",
  ).exec(r.stderr[0]);
  assert.ok(m, r.stderr[0]);
  const [failedAt, savedAt] = [Number(m[1]), Number(m[2])];
  assert.ok(failedAt >= 3 && savedAt === failedAt - 1, `failed at ${failedAt}, saved ${savedAt}`); // the file went bad after step 2
  assert.equal(JSON.parse(readFileSync(join(out, "checkpoint", "trainer_state.json"), "utf8")).step, savedAt);
  const resumed = await runCli([...argv.slice(0, -2), "--skip-bad-images", "--resume", out, "--out", out]);
  assert.equal(resumed.code, 0, resumed.stderr.join("\n"));
  assert.match(
    resumed.stdout.find((l) => l.startsWith("skipping")) ?? resumed.stdout.join("\n"),
    /skipping 1 of 16 images that cannot be read: .*img05\.png/,
  );
});
