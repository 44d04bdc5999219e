// GEMM throughput on a GPU at the shapes of a ViT-MAE-Base pre-training step (batch 64): our WGSL
// GEMM (gpujs:webgpu), the kernel gpu.js itself generates for a matmul (webgpu mode, GPU-resident
// results), tfjs's WebGPU matMul, and cuBLAS through PyTorch (float32, TF32 off) as the anchor.
// Each figure is (2·B·M·K·N FLOPs × R) / (time of R products issued back to back, then one wait),
// so launch latency is spread over R; every impl's product is checked against ours first.
//
//   node --import tsx bench/gpu/gemm.ts [--json FILE] [--only ours,gpujs,tfjs,torch] [--quick]
// Needs navigator.gpu (in Node: --import ../shared/device/webgpu-node.mjs); bench/gpu/device.sh runs it.

import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { flops, gpujs, measure, ours, relErr, tfjs, VIT_SHAPES, type GemmShape } from "./gemmImpls.ts";

/** cuBLAS through PyTorch (float32, TF32 off), one JSON line per shape from gemm_torch.py. */
function torchFigures(shapes: GemmShape[], quick: boolean): Map<string, number | string> {
  const python = process.env.BENCH_PYTHON ?? "python3";
  const script = join(dirname(fileURLToPath(import.meta.url)), "gemm_torch.py");
  const figures = new Map<string, number | string>();
  try {
    const out = execFileSync(python, [script, JSON.stringify(shapes), quick ? "quick" : "full"], {
      encoding: "utf8",
      timeout: 600_000,
    });
    for (const line of out.trim().split("\n")) {
      const r = JSON.parse(line) as { name: string; tflops?: number; error?: string };
      figures.set(r.name, r.tflops ?? `error: ${r.error}`);
    }
  } catch (e) {
    for (const s of shapes) figures.set(s.name, `absent: ${(e as Error).message.split("\n")[0]}`);
  }
  return figures;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: "string" }, only: { type: "string" }, quick: { type: "boolean", default: false } },
  });
  const only = (values.only ?? "ours,gpujs,tfjs,torch").split(",");
  const quick = values.quick === true;
  const impls = [ours, gpujs, tfjs].filter((_, i) => only.includes(["ours", "gpujs", "tfjs"][i]));
  const rows: Record<string, unknown>[] = [];
  const torch = only.includes("torch") ? torchFigures(VIT_SHAPES, quick) : new Map();
  for (const s of VIT_SHAPES) {
    const row: Record<string, unknown> = { shape: s.name, gflop: flops(s) / 1e9 };
    let want: Float32Array | undefined;
    for (const impl of impls) {
      try {
        const { tflops, out } = await measure(impl, s, quick);
        want ??= out; // ours runs first: the others are checked against it
        const err = relErr(out, want);
        row[impl.name] = err <= 1e-4 ? Number(tflops.toFixed(3)) : `FAILED-CHECK (rel err ${err.toExponential(1)})`;
      } catch (e) {
        row[impl.name] = `error: ${(e as Error).message.split("\n")[0]}`;
      }
    }
    if (torch.has(s.name)) row["cuBLAS fp32 (PyTorch)"] = torch.get(s.name);
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
