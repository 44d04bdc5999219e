// Runs in a browser page (test/core/cpuBrowser.test.ts): the cpu backend on Web Workers (or one
// thread), held to the reference backend on an elementwise program and a matmul.
import type { Backend, Program, View } from "../../../src/core/backend.ts";
import { cpuBackend as cpu } from "../../../src/core/backends/cpu/cpuBackend.ts";
import { setElementwiseParallelThreshold } from "../../../src/core/backends/cpu/elementwise.ts";
import { referenceBackend as ref } from "../../../src/core/backends/reference.ts";
import { setGemmParallelThreshold } from "../../../src/core/wasm/gemm.ts";
import { cpuReady, cpuThreads, runtime, setCpuThreads } from "../../../src/core/wasm/runtime.ts";
import { reportResult } from "../../helpers/pageResult.ts";

function check(): Record<string, unknown> {
  setElementwiseParallelThreshold(0);
  setGemmParallelThreshold(0);
  const n = 64 * 1024;
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
  const program: Program = {
    code: [
      { op: "input", index: 0 },
      { op: "gelu", x: 0 },
      { op: "exp", x: 0 },
      { op: "mul", x: 1, y: 2 },
    ],
    outputs: [3],
  };
  const run = (b: Backend) => {
    const x: View = { storage: b.upload(data, "float32"), shape: [256, 256], strides: [256, 1], offset: 0 };
    const y: View = { storage: b.alloc(n, "float32"), shape: [256, 256], strides: [256, 1], offset: 0 };
    b.elementwise(program, [x], [256, 256], [y]);
    const c = b.alloc(n, "float32");
    b.matmul(x, { ...x, strides: [1, 256] }, { storage: c, offset: 0 });
    return [b.readSync(y), b.readSync({ storage: c, shape: [n], strides: [1], offset: 0 })];
  };
  const [want, got] = [run(ref), run(cpu)];
  let worst = 0;
  for (let k = 0; k < 2; k++)
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[k][i] - want[k][i]) / (1 + Math.abs(want[k][i])));
  const rt = runtime();
  return {
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ?? null,
    shared: rt.shared,
    threads: cpuThreads(),
    taskCounts: rt.pool.taskCounts(),
    relaxedSimd: rt.relaxedSimd,
    worstRelativeError: worst,
  };
}

reportResult(async () => {
  setCpuThreads(2);
  const ready = await cpuReady();
  return { ready, ...check() };
});
