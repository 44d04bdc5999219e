// `vitmae probe` end to end: a two-class image folder that differs clearly is probed to high accuracy; bad inputs.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { main } from "../../src/cli/main.ts";
import type { ProbeReport } from "../../src/cli/probeCommand.ts";
import * as T from "../../src/core/index.ts";
import { encodePng } from "../../src/io/image.ts";
import { tiny, ViTMAEForPreTraining } from "../../src/mae/index.ts";
import "../helpers/asyncReference.ts"; // registers the async-reference backend

const root = mkdtempSync(join(tmpdir(), "vitmae-probe-"));
after(() => rmSync(root, { recursive: true, force: true }));
const modelDir = join(root, "model");
ViTMAEForPreTraining.init(tiny, T.key(21)).savePretrained(modelDir);

/** Reddish vs bluish 32x32 images with heavy per-pixel noise: a random encoder's features still tell them apart. */
const data = join(root, "colours");
let state = 7;
const noise = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 120;
for (const [name, base] of [
  ["blue", [40, 40, 200]],
  ["red", [200, 40, 40]],
] as const) {
  mkdirSync(join(data, name), { recursive: true });
  for (let i = 0; i < 15; i++) {
    const px = new Uint8Array(32 * 32 * 3).map((_, j) => Math.max(0, Math.min(255, Math.round(base[j % 3] + noise()))));
    writeFileSync(join(data, name, `${i}.png`), encodePng(px, 32, 32, 3));
  }
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    return { code: await main(args), out: out.join("\n"), err };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

test("probe on a clearly two-class folder: linear and k-NN, CLS and mean-pool, all high; a table and the JSON", async () => {
  const json = join(root, "probe.json");
  const { code, out, err } = await run([
    "probe",
    "--model",
    modelDir,
    "--data",
    data,
    "--train-fraction",
    "0.6",
    "--seed",
    "1",
    "--json",
    json,
  ]);
  assert.equal(code, 0, err.join("\n"));
  const report = JSON.parse(readFileSync(json, "utf8")) as ProbeReport;
  assert.equal(report.trainSize, 18);
  assert.equal(report.testSize, 12);
  assert.equal(report.numClasses, 2);
  assert.equal(report.featureDim, 64);
  for (const pool of ["cls", "meanPool"] as const) {
    for (const method of ["linear", "knn"] as const)
      assert.ok(report.accuracy[pool][method] >= 0.9, `${pool} ${method}: ${report.accuracy[pool][method]}`);
  }
  assert.match(out, /CLS token\s+\d+\.\d%\s+\d+\.\d%/);
  assert.match(out, /mean-pool\s+\d+\.\d%\s+\d+\.\d%/);
  // The same seed gives the same numbers.
  const again = await run(["probe", "--model", modelDir, "--data", data, "--train-fraction", "0.6", "--seed", "1"]);
  assert.equal(
    again.out
      .split("\n")
      .filter((l) => /CLS|mean-pool/.test(l))
      .join("\n"),
    out
      .split("\n")
      .filter((l) => /CLS|mean-pool/.test(l))
      .join("\n"),
  );
});

test("--limit caps the examples used (a seeded subset, split by --train-fraction)", async () => {
  const json = join(root, "limit.json");
  const { code, err } = await run([
    "probe",
    "--model",
    modelDir,
    "--data",
    data,
    "--limit",
    "10",
    "--epochs",
    "3",
    "--k",
    "3",
    "--json",
    json,
  ]);
  assert.equal(code, 0, err.join("\n"));
  const report = JSON.parse(readFileSync(json, "utf8")) as ProbeReport;
  assert.equal(report.trainSize + report.testSize, 10);
  assert.equal(report.testSize, 2);
  assert.equal(report.k, 3);
});

test("bad inputs: one clear line, a non-zero exit, and no JSON written", async () => {
  const flat = join(root, "flat");
  mkdirSync(flat);
  for (let i = 0; i < 4; i++)
    writeFileSync(join(flat, `${i}.png`), encodePng(new Uint8Array(32 * 32 * 3).fill(i * 40), 32, 32, 3));
  const outDir = join(root, "out");
  mkdirSync(outDir);
  const json = join(outDir, "r.json");
  const cases: [string[], RegExp][] = [
    [["--model", modelDir, "--data", flat, "--json", json], /has no labels; probing needs classes/],
    [["--model", join(root, "nope"), "--data", data, "--json", json], /--model .*nope does not exist/],
    [["--model", modelDir, "--data", join(root, "no-data"), "--json", json], /does not exist/],
    [["--model", modelDir, "--data", data, "--train-fraction", "1", "--json", json], /--train-fraction must be/],
    [
      ["--model", modelDir, "--data", data, "--json", join(root, "missing", "r.json")],
      /cannot write .*missing.* does not exist/,
    ],
    [["--data", data], /--model is required/],
  ];
  for (const [args, pattern] of cases) {
    const { code, err } = await run(["probe", ...args]);
    assert.notEqual(code, 0, args.join(" "));
    assert.equal(err.length, 1, `${args.join(" ")}: ${err.join(" | ")}`);
    assert.match(err[0], /^vitmae probe: /);
    assert.match(err[0], pattern);
  }
  assert.deepEqual(readdirSync(outDir), []);
});

test("probe --backend async-reference (reads only with await, as a GPU): the reference backend's report, exactly", async () => {
  const report = async (backend: string) => {
    const json = join(root, `probe-${backend}.json`);
    const args = ["probe", "--model", modelDir, "--data", data, "--limit", "12", "--epochs", "3", "--k", "3"];
    try {
      const { code, out, err } = await run([...args, "--backend", backend, "--json", json]);
      assert.equal(code, 0, err.join("\n"));
      assert.match(out.split("\n")[0], new RegExp(`^backend: ${backend}`));
    } finally {
      T.setBackend("cpu");
    }
    const { model: _, ...rest } = JSON.parse(readFileSync(json, "utf8")) as ProbeReport;
    return rest;
  };
  const got = await report("async-reference");
  assert.equal(got.trainSize + got.testSize, 12);
  assert.deepEqual(got, await report("reference"));
});
