// The `vitmae` CLI's init and forward commands: a fresh checkpoint runs, --help everywhere, and every
// bad argument is one line on stderr with a non-zero exit (in-process main, plus one real process).

import { test, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { main } from "../../src/cli/main.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import * as T from "../../src/core/index.ts";
import "../helpers/asyncReference.ts"; // registers the async-reference backend
import { loadReferenceCase, referenceCaseNames, repoRoot, values } from "../helpers/reference.ts";

const tmp = mkdtempSync(path.join(tmpdir(), "vitmae-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const at = (name: string) => path.join(tmp, name);

/** Runs main(argv) in-process, capturing what it prints. */
async function run(t: TestContext, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string[] }> {
  const log = t.mock.method(console, "log", () => {});
  const err = t.mock.method(console, "error", () => {});
  try {
    const code = await main(argv);
    return {
      code,
      stdout: log.mock.calls.map((c) => c.arguments.join(" ")).join("\n"),
      stderr: err.mock.calls.map((c) => c.arguments.join(" ")),
    };
  } finally {
    log.mock.restore();
    err.mock.restore();
  }
}

/** Pixels only (no noise), so that masking comes from --seed: the tiny reference case's pixel_values. */
const pixelsOnly = at("pixels.safetensors");
const ref = loadReferenceCase(referenceCaseNames().includes("tiny") ? "tiny" : referenceCaseNames()[0]);
const px = ref.io.get("pixel_values")!;
writeSafetensorsFile(pixelsOnly, { pixel_values: { dtype: "F32", shape: px.shape, data: px.data as Float32Array } });

test("init --config tiny --seed 3 writes a checkpoint, deterministically; forward runs on it", async (t) => {
  for (const dir of ["m1", "m2"]) {
    const r = await run(t, "init", "--config", "tiny", "--seed", "3", "--out", at(dir));
    assert.equal(r.code, 0, r.stderr.join("\n"));
    assert.match(r.stdout, /seed 3/);
  }
  assert.ok(
    readFileSync(at("m1/model.safetensors")).equals(readFileSync(at("m2/model.safetensors"))),
    "same seed, same bytes",
  );
  const other = await run(t, "init", "--config", "tiny", "--seed", "4", "--out", at("m4"));
  assert.equal(other.code, 0);
  assert.ok(
    !readFileSync(at("m4/model.safetensors")).equals(readFileSync(at("m1/model.safetensors"))),
    "another seed, other weights",
  );

  const out = at("o1.safetensors");
  const r = await run(
    t,
    "forward",
    "--model",
    at("m1"),
    "--inputs",
    pixelsOnly,
    "--out",
    out,
    "--seed",
    "1",
    "--grads",
  );
  assert.equal(r.code, 0, r.stderr.join("\n"));
  const written = readSafetensorsFile(out).tensors;
  for (const name of [
    "last_hidden_state",
    "mask",
    "ids_restore",
    "logits",
    "loss",
    "grad.pixel_values",
    "grad.vit.embeddings.cls_token",
    "grad.decoder.decoder_pred.bias",
  ]) {
    assert.ok(written.has(name), `forward wrote ${name}`);
  }
  assert.deepEqual(written.get("last_hidden_state")!.shape, [px.shape[0], 5, 64], "tiny keeps 4 of 16 patches");
  assert.equal(written.get("ids_restore")!.dtype, "I64");
  assert.ok(Number.isFinite(values(written.get("loss")!)[0]));
  // Masking from --seed: the same seed gives the same mask, another seed another.
  await run(t, "forward", "--model", at("m1"), "--inputs", pixelsOnly, "--out", at("o1b.safetensors"), "--seed", "1");
  await run(t, "forward", "--model", at("m1"), "--inputs", pixelsOnly, "--out", at("o2.safetensors"), "--seed", "2");
  const ids = (f: string) => [...values(readSafetensorsFile(at(f)).tensors.get("ids_restore")!)];
  assert.deepEqual(ids("o1b.safetensors"), ids("o1.safetensors"));
  assert.notDeepEqual(ids("o2.safetensors"), ids("o1.safetensors"));
});

test("forward --grads --backend async-reference (reads only with await, as a GPU): the reference backend's file, byte for byte", async (t) => {
  const write = async (backend: string) => {
    const out = at(`async-${backend}.safetensors`);
    try {
      const argv = ["--model", at("m1"), "--inputs", pixelsOnly, "--out", out, "--seed", "1", "--grads"];
      const r = await run(t, "forward", ...argv, "--backend", backend);
      assert.equal(r.code, 0, r.stderr.join("\n"));
      assert.match(r.stdout, new RegExp(`^backend: ${backend}`));
      return readFileSync(out);
    } finally {
      T.setBackend("cpu");
    }
  };
  const [got, want] = [await write("async-reference"), await write("reference")];
  assert.ok(got.equals(want), "the files differ");
});

test("--help on every command prints its usage and exits 0; no command prints the overview", async (t) => {
  const top = await run(t, "--help");
  assert.equal(top.code, 0);
  const names = [...top.stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]);
  assert.ok(names.includes("forward") && names.includes("init"), `commands listed: ${names}`);
  for (const name of names) {
    for (const flag of ["--help", "-h"]) {
      const r = await run(t, name, flag);
      assert.equal(r.code, 0, `vitmae ${name} ${flag}`);
      assert.match(r.stdout, new RegExp(`vitmae ${name}`), `usage of ${name}`);
      assert.deepEqual(r.stderr, []);
    }
  }
  const none = await run(t);
  assert.notEqual(none.code, 0, "no command is a usage error");
  assert.match(none.stdout, /usage: vitmae <command>/);
});

test("bad arguments: one line on stderr naming the problem, non-zero exit", async (t) => {
  const model = at("m1"); // written by the first test
  const garbage = at("garbage.safetensors");
  writeFileSync(garbage, "definitely not safetensors");
  const noPixels = at("nopixels.safetensors");
  writeSafetensorsFile(noPixels, { noise: { dtype: "F32", shape: [1, 16], data: new Float32Array(16) } });
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /unknown command "frobnicate"/],
    [["forward", "--model", model, "--inputs", pixelsOnly, "--out", at("x.safetensors"), "--bogus"], /--bogus/],
    [["init", "--config", "tiny", "--out", at("y"), "--colour", "red"], /--colour/],
    [["forward", "--inputs", pixelsOnly, "--out", at("x.safetensors")], /--model is required/],
    [["forward", "--model", model, "--out", at("x.safetensors")], /--inputs is required/],
    [["forward", "--model", model, "--inputs", pixelsOnly], /--out is required/],
    [
      ["forward", "--model", at("no-such-dir"), "--inputs", pixelsOnly, "--out", at("x.safetensors")],
      /no-such-dir.*does not exist/,
    ],
    [
      ["forward", "--model", model, "--inputs", at("no-such.safetensors"), "--out", at("x.safetensors")],
      /no-such\.safetensors": no such file/,
    ],
    [["forward", "--model", model, "--inputs", garbage, "--out", at("x.safetensors")], /garbage\.safetensors/],
    [["forward", "--model", model, "--inputs", noPixels, "--out", at("x.safetensors")], /no tensor named pixel_values/],
    [
      ["forward", "--model", model, "--inputs", pixelsOnly, "--out", at("x.safetensors"), "--seed", "1.5"],
      /--seed.*1\.5/,
    ],
    [
      ["forward", "--model", model, "--inputs", pixelsOnly, "--out", at("x.safetensors"), "--seed", "abc"],
      /--seed.*abc/,
    ],
    [["init", "--config", "tiny", "--seed", "x", "--out", at("y")], /--seed.*"x"/],
    [["init", "--config", "tiny", "--seed", "-1", "--out", at("y")], /--seed/],
    [["init", "--config", "tiny", "--seed", "2.5", "--out", at("y")], /--seed.*2\.5/],
    [["init", "--config", "no-such-preset", "--out", at("y")], /no-such-preset.*neither a preset/],
    [["init", "--config", "tiny"], /--out is required/],
    [["init", "--out", at("y")], /--config is required/],
    [["init", "--config", garbage, "--out", at("y")], /garbage\.safetensors/],
  ];
  if (referenceCaseNames().includes("interp")) {
    // a 48x48 input for a 32x32 model needs the flag
    const interp = loadReferenceCase("interp");
    cases.push([
      [
        "forward",
        "--model",
        interp.modelDir,
        "--inputs",
        path.join(interp.dir, "io.safetensors"),
        "--out",
        at("x.safetensors"),
      ],
      /48x48.*32x32.*--interpolate-pos-encoding/,
    ]);
  }
  for (const [argv, why] of cases) {
    const r = await run(t, ...argv);
    const label = `vitmae ${argv.join(" ")}`;
    assert.notEqual(r.code, 0, `${label} must fail`);
    assert.equal(r.stderr.length, 1, `${label}: one message, got ${JSON.stringify(r.stderr)}`);
    assert.ok(!r.stderr[0].includes("\n"), `${label}: one line, got ${JSON.stringify(r.stderr[0])}`);
    assert.match(r.stderr[0], why, label);
  }
});

test("the real process: a bad argument is exactly one stderr line and exit code 2", () => {
  const r = spawnSync(
    process.execPath,
    ["bin/vitmae.mjs", "init", "--config", "tiny", "--seed", "nope", "--out", at("z")],
    { cwd: repoRoot, encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, JSON.stringify(r.stderr));
  assert.match(r.stderr, /--seed/);
  assert.equal(r.stdout, "");
});
