// `npm run demo -- --quick` end to end: the whole pipeline (pre-training, held-out MSE, probes, both
// fine-tunings) on tiny budgets; the printout has every section and row, and every number is finite.
// Again on `async-reference` (test/helpers/asyncReference.ts), a backend that reads only with await as
// a GPU does, with a smaller model and budget: the reference kernels are about 20 times slower.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { toHFJson, unsafeConfig } from "../../src/mae/config.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const NUMBER = String.raw`(-?\d+(?:\.\d+)?|NaN|-?Infinity)`;

/** The numbers after `label` on its line (each must parse as a finite number). */
function numbersOn(out: string, label: string, count: number): number[] {
  const line = out.split("\n").find((l) => l.trimStart().startsWith(label));
  assert.ok(line, `the printout has no line starting with ${JSON.stringify(label)}:\n${out}`);
  const found = [...line.slice(line.indexOf(label) + label.length).matchAll(new RegExp(NUMBER, "g"))].map((m) => m[1]);
  assert.ok(found.length >= count, `${JSON.stringify(line)}: expected ${count} numbers`);
  return found.slice(0, count).map((text) => {
    const v = Number(text);
    assert.ok(Number.isFinite(v), `${JSON.stringify(line)}: ${text} is not a finite number`);
    return v;
  });
}

/** Every leaf value of a parsed JSON value. */
function leaves(v: unknown): unknown[] {
  if (v !== null && typeof v === "object") return Object.values(v).flatMap(leaves);
  return [v];
}

/** Runs the demo with `args` (after `--import` of each of `imports`); returns its printout. */
async function runDemo(args: string[], imports: string[] = []): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", ...imports.flatMap((m) => ["--import", m]), "examples/demo.ts", ...args],
    { cwd: root, encoding: "utf8", maxBuffer: 1 << 24 },
  );
  return stdout;
}

/** A fraction as the printout shows it: a percentage with one decimal. */
const pct = (x: number) => Number((100 * x).toFixed(1));

test("the demo runs end to end in quick mode and prints every figure, all finite", { timeout: 300_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), "vitmae-demo-"));
  try {
    const stdout = await runDemo(["--quick", "--out", out]);
    assert.match(stdout.split("\n")[0], /Backend: cpu/);
    assert.doesNotMatch(stdout, /NaN|Infinity/, `a figure is not finite:\n${stdout}`);
    const [pretrainSteps] = numbersOn(stdout, "pre-training:", 1);
    assert.ok(pretrainSteps >= 1);
    numbersOn(stdout, "pre-training:", 4); // steps, batch, steps/s, final loss

    const [mse] = numbersOn(stdout, "MAE reconstruction", 1);
    const [baseline, ratio] = numbersOn(stdout, "mean of visible pixels", 2);
    assert.ok(mse > 0 && baseline > 0);
    assert.ok(Math.abs(ratio - mse / baseline) <= 0.006, `model/baseline ${ratio} is not ${mse}/${baseline}`);

    assert.match(stdout, /linear\s+k-NN \(k=\d+\)/);
    for (const row of ["pre-trained encoder", "same encoder, random init", "raw pixels"]) {
      const sectionStart = stdout.indexOf("frozen features");
      const [linear, knn] = numbersOn(stdout.slice(sectionStart), row, 2);
      for (const acc of [linear, knn]) assert.ok(acc >= 0 && acc <= 100, `${row}: accuracy ${acc}% out of range`);
    }
    const tuning = stdout.slice(stdout.indexOf("fine-tuning:"));
    numbersOn(tuning, "fine-tuning:", 3); // steps, batch, steps/s
    for (const row of ["pre-trained encoder", "from scratch (random init)"]) {
      const [acc] = numbersOn(tuning, row, 1);
      assert.ok(acc >= 0 && acc <= 100, `${row}: top-1 ${acc}% out of range`);
    }
    numbersOn(stdout, "total", 1);

    // results.json: the same figures as the printout, every number finite
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    const numbers = leaves(results).filter((v) => typeof v === "number" || v === null);
    assert.ok(numbers.length >= 20, `results.json holds ${numbers.length} numbers`);
    for (const v of numbers) assert.ok(v === null || Number.isFinite(v), `results.json: ${v} is not finite`);
    assert.equal(results.heldOut, 200);
    assert.equal(
      pct(results.probes.pretrained.linear),
      numbersOn(stdout.slice(stdout.indexOf("frozen")), "pre-trained encoder", 1)[0],
    );
    assert.equal(pct(results.finetune.scratch), numbersOn(tuning, "from scratch (random init)", 1)[0]);
    const table = readFileSync(join(out, "results.md"), "utf8");
    assert.match(table, /^\| 200 held-out digits \|/);
    assert.ok(
      table.includes(`| ${(100 * results.finetune.pretrained).toFixed(1)}% |`),
      `results.md lacks the fine-tuned accuracy:\n${table}`,
    );
    for (const file of [
      "reconstructions.png",
      "loss.png",
      join("pretrain", "checkpoint", "model.safetensors"),
      join("pretrain", "checkpoint", "config.json"),
      join("finetune", "checkpoint", "model.safetensors"),
    ])
      assert.ok(existsSync(join(out, file)), `the demo wrote no ${file}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the demo runs on a backend that reads only with await (as a GPU): every figure finite", {
  timeout: 300_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), "vitmae-demo-async-"));
  try {
    // 28x28 digits in 16 patches of 7, one narrow block each side: the pipeline, not the recipe.
    const config = join(out, "config.json");
    const small = {
      imageSize: 28,
      patchSize: 7,
      numChannels: 1,
      hiddenSize: 16,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      intermediateSize: 32,
      decoderHiddenSize: 16,
      decoderNumHiddenLayers: 1,
      decoderNumAttentionHeads: 2,
      decoderIntermediateSize: 32,
      normPixLoss: true,
    };
    writeFileSync(config, JSON.stringify(toHFJson(unsafeConfig(small))));
    const budget = ["--steps", "2", "--finetune-steps", "2", "--probe-train", "40", "--held-out", "40"];
    const stdout = await runDemo(
      ["--quick", ...budget, "--config", config, "--backend", "async-reference", "--out", out],
      ["./test/helpers/asyncReference.ts"],
    );
    assert.match(stdout.split("\n")[0], /Backend: async-reference/);
    assert.doesNotMatch(stdout, /NaN|Infinity/, `a figure is not finite:\n${stdout}`);
    assert.deepEqual(numbersOn(stdout, "pre-training:", 1), [2]);
    const [mse] = numbersOn(stdout, "MAE reconstruction", 1);
    const [baseline] = numbersOn(stdout, "mean of visible pixels", 1);
    assert.ok(mse > 0 && baseline > 0);
    const frozen = stdout.slice(stdout.indexOf("frozen features"));
    for (const row of ["pre-trained encoder", "same encoder, random init", "raw pixels"]) numbersOn(frozen, row, 2);
    const tuning = stdout.slice(stdout.indexOf("fine-tuning:"));
    for (const row of ["pre-trained encoder", "from scratch (random init)"]) numbersOn(tuning, row, 1);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    assert.equal(results.heldOut, 40);
    assert.match(results.backend, /^async-reference/);
    for (const v of leaves(results).filter((v) => typeof v === "number"))
      assert.ok(Number.isFinite(v), `results.json: ${v} is not finite`);
    assert.ok(existsSync(join(out, "reconstructions.png")), "the demo wrote no reconstructions.png");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
