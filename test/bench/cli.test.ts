// Tests for bench/cli.ts: defaults, --quick, --reps, and errors naming the bad flag.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseOptions } from "../../bench/cli.ts";

const CASES = ["matmul-512x512x512", "block-fwd"];

test("defaults: every case and impl, 10 reps (at least 5 under the time budget), no JSON", () => {
  const o = parseOptions([], CASES);
  assert.deepEqual([o.only, o.impls, o.reps, o.minReps, o.json, o.help], [[], [], 10, 5, null, false]);
});

test("--quick lowers reps and budget; --reps N is then exact", () => {
  const q = parseOptions(["--quick"], CASES);
  assert.equal(q.reps, 5);
  assert.ok(q.budgetS < parseOptions([], CASES).budgetS);
  const r = parseOptions(["--reps", "7", "--quick"], CASES);
  assert.deepEqual([r.reps, r.minReps], [7, 7]);
});

test("--only, --impl and --json take comma lists and a path", () => {
  const o = parseOptions(
    ["--only", "block-fwd, matmul-512x512x512", "--impl", "pytorch,jax-js-wasm", "--json", "out.json"],
    CASES,
  );
  assert.deepEqual(o.only, ["block-fwd", "matmul-512x512x512"]);
  assert.deepEqual(o.impls, ["pytorch", "jax-js-wasm"]);
  assert.equal(o.json, "out.json");
});

test("bad values are refused with the flag and the value named", () => {
  assert.throws(() => parseOptions(["--only", "block-bwd"], CASES), /--only: unknown case "block-bwd" \(known: matmul/);
  assert.throws(() => parseOptions(["--impl", "onnx"], CASES), /--impl: unknown impl "onnx"/);
  assert.throws(() => parseOptions(["--reps", "0"], CASES), /--reps: "0" is not a positive integer/);
  assert.throws(() => parseOptions(["--reps", "2.5"], CASES), /--reps/);
  assert.throws(() => parseOptions(["--fast"], CASES), /--fast/);
});
