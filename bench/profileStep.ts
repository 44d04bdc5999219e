// Where a compiled training step's time goes on the cpu backend: every kernel the plan launches is timed
// by kind (GEMM, elementwise programs — strided copies apart —, reductions, softmax, layer norm, their
// backward passes, gather/scatter, random), for one of the bench's cases, on its own weights and inputs.
// The kernels run synchronously (the pool's threads finish before a launch returns), so wall time per
// launch is the kernel's time on all cores; what is left of the step is the plan's own JavaScript.
//
//   npx tsx bench/profileStep.ts [--case mae-base-step] [--steps 3]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getBackend, type Backend, type Program, type View } from "../src/core/backend.ts";
import { cpuReady, cpuThreads } from "../src/core/index.ts";
import { allCases, type CaseSpec } from "./cases.ts";
import { maeConfigFrom } from "./data.ts";
import { DataDir } from "./datasets.ts";
import { vitmaeTs } from "./impls/vitmaeTs.ts";
import { readSafetensors } from "./safetensors.ts";
import { readFileSync } from "node:fs";

const { values } = parseArgs({ options: { case: { type: "string" }, steps: { type: "string" } } });
const caseName = values.case ?? "mae-base-step";
const steps = Number(values.steps ?? 3);

/** Time and launches per kind of kernel; matmul FLOPs for the GEMM's rate. */
const spent = new Map<string, { ms: number; launches: number }>();
let gemmFlops = 0;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const isCopy = (p: Program) => p.code.length === 1 && p.code[0].op === "input";

/** Wraps each kernel method of `be` with a timer under `kindOf(args)`. */
function instrument(be: Backend): void {
  const kinds: Record<string, (...args: never[]) => string> = {
    elementwise: (p: Program) => (isCopy(p) ? "copy (strided)" : "elementwise (fused programs)"),
    reduce: () => "reduce",
    matmul: (a: View, b: View) => {
      const r = a.shape.length;
      gemmFlops += 2 * size(a.shape.slice(0, -1)) * a.shape[r - 1] * b.shape[b.shape.length - 1];
      return "matmul (GEMM)";
    },
    gather: () => "gather",
    scatterAdd: () => "scatterAdd",
    argsort: () => "argsort",
    argmax: () => "argmax",
    softmax: () => "softmax",
    softmaxBackward: () => "softmax backward",
    layerNorm: () => "layer norm",
    layerNormBackward: () => "layer norm backward",
    random: () => "random",
  };
  const target = be as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [method, kindOf] of Object.entries(kinds)) {
    const original = target[method].bind(be);
    target[method] = (...args: unknown[]) => {
      const kind = (kindOf as (...a: unknown[]) => string)(...args);
      const t0 = performance.now();
      const result = original(...args);
      const entry = spent.get(kind) ?? { ms: 0, launches: 0 };
      entry.ms += performance.now() - t0;
      entry.launches++;
      spent.set(kind, entry);
      return result;
    };
  }
}

await cpuReady();
instrument(getBackend("cpu"));
const def = allCases(
  maeConfigFrom(JSON.parse(readFileSync(new URL("../test/fixtures/hf/tiny/config.json", import.meta.url), "utf8"))),
).find((c) => c.name === caseName);
if (!def) throw new Error(`profileStep: no bench case "${caseName}"`);
const dir = mkdtempSync(join(tmpdir(), "vitmae-profile-"));
try {
  const spec = JSON.parse(readFileSync(new DataDir(dir).specFor(def), "utf8")) as CaseSpec;
  const workload = await vitmaeTs.prepare(spec, readSafetensors(spec.data));
  await workload.check(); // compiles the step and runs it once
  await workload.step(); // warm
  spent.clear();
  gemmFlops = 0;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await workload.step();
  const stepMs = (performance.now() - t0) / steps;
  const rows = [...spent].sort((a, b) => b[1].ms - a[1].ms);
  const kernelMs = rows.reduce((s, [, e]) => s + e.ms, 0) / steps;
  console.log(`${caseName}: ${stepMs.toFixed(0)} ms a step (mean of ${steps}), ${cpuThreads()} threads`);
  console.log("| kernel | ms a step | share of the step | launches a step |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [kind, e] of rows) {
    const ms = e.ms / steps;
    console.log(`| ${kind} | ${ms.toFixed(1)} | ${((100 * ms) / stepMs).toFixed(1)}% | ${e.launches / steps} |`);
  }
  const rest = stepMs - kernelMs;
  console.log(
    `| outside kernels (the plan's JavaScript) | ${rest.toFixed(1)} | ${((100 * rest) / stepMs).toFixed(1)}% | |`,
  );
  const gemm = spent.get("matmul (GEMM)");
  if (gemm)
    console.log(
      `GEMM: ${(gemmFlops / steps / ((gemm.ms / steps) * 1e6)).toFixed(1)} GFLOP/s on ${cpuThreads()} threads`,
    );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
