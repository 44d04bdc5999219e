// End-to-end: the parent's runner drives real impl processes (bench/child.ts) on a small matmul case.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import type { CaseDef } from "../../bench/cases.ts";
import { parseOptions } from "../../bench/cli.ts";
import { DataDir } from "../../bench/datasets.ts";
import { compareOutputs, type Summary } from "../../bench/protocol.ts";
import { readSafetensors } from "../../bench/safetensors.ts";
import { runEntry } from "../../bench/runner.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "bench-runner-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const def: CaseDef = {
  name: "matmul-16x8x4",
  kind: "matmul",
  dataset: "matmul-16x8x4",
  matmul: { M: 16, K: 8, N: 4 },
  checks: ["out"],
  rtol: 1e-5,
  flops: 2 * 16 * 8 * 4,
  impls: ["tfjs-cpu", "jax-js-wasm"],
};
const data = new DataDir(dir);
const specPath = data.specFor(def);
const opts = parseOptions(["--reps", "5"], [def.name]);
const node = (impl: string) => [process.execPath, "--import", "tsx", join(repoRoot, "bench/child.ts"), "--impl", impl];

test("a peer is checked, then timed: the product is a·b and there are --reps timings", async () => {
  const t = readSafetensors(join(dir, "matmul-16x8x4.safetensors"));
  const a = t.get("a")!.data;
  const b = t.get("b")!.data;
  let expectedSum = 0;
  for (let i = 0; i < 16; i++)
    for (let k = 0; k < 8; k++) for (let j = 0; j < 4; j++) expectedSum += a[i * 8 + k] * b[k * 4 + j];

  let tfjsOut: Record<string, Summary> = {};
  const tfjs = await runEntry(
    node("tfjs-cpu"),
    specPath,
    opts,
    (o) => {
      tfjsOut = o;
      return true;
    },
    repoRoot,
  );
  assert.equal(tfjs.status, "ok", tfjs.message);
  assert.deepEqual(tfjsOut.out.shape, [16, 4]);
  assert.ok(Math.abs(tfjsOut.out.sum - expectedSum) < 1e-4 * tfjsOut.out.absSum);
  assert.equal(tfjs.timesMs!.length, 5);
  assert.ok(tfjs.ms! > 0 && tfjs.peakRssMb! > 10);

  const jax = await runEntry(
    node("jax-js-wasm"),
    specPath,
    opts,
    (o) => compareOutputs(tfjsOut, o, ["out"], 1e-5).ok || "mismatch",
    repoRoot,
  );
  assert.equal(jax.status, "ok", jax.message);
  assert.equal(jax.version, "0.1.25");
});

test("a peer whose check is refused is not timed; ours runs the case", async () => {
  const refused = await runEntry(node("tfjs-cpu"), specPath, opts, () => "outputs differ", repoRoot);
  assert.equal(refused.status, "failed-check");
  assert.equal(refused.message, "outputs differ");
  assert.equal(refused.timesMs, undefined);

  const ours = await runEntry(node("vitmae-ts"), specPath, opts, () => true, repoRoot);
  assert.equal(ours.status, "ok", ours.message);
  assert.ok(ours.ms! > 0);
});

test("an impl process that fails reports a short error, not a crash of the parent", async () => {
  const missing = await runEntry(node("tfjs-cpu"), join(dir, "no-such-spec.json"), opts, () => true, repoRoot);
  assert.equal(missing.status, "error");
  assert.match(missing.message!, /no-such-spec\.json/);
});
