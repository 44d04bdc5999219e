// Quick GFLOP/s measurement of the wasm GEMM (src/core/wasm/gemm.ts) at the ViT-B matmul shapes,
// optionally next to tfjs-wasm's matMul (XNNPACK). Configurations are measured interleaved, round
// by round, so that load from other processes hits them alike; best and median are reported.
// Usage: npx tsx bench/gemm.ts [--threads 1,2] [--simd plain,relaxed] [--tfjs] [--extra] [--rounds 10]
import os from "node:os";
import {
  gemm,
  gemmBatched,
  type GemmArgs,
  gemmInfo,
  setGemmRelaxedSimd,
  setGemmThreads,
} from "../src/core/wasm/gemm.ts";

interface Case {
  name: string;
  batch: number;
  m: number;
  n: number;
  k: number;
  transA?: boolean; // A given as a k x m array (Aᵀ·B)
  transB?: boolean; // B given as an n x k array (A·Bᵀ)
}

const VIT_B: Case[] = [
  { name: "400x768x768", batch: 1, m: 400, k: 768, n: 768 },
  { name: "400x768x3072", batch: 1, m: 400, k: 768, n: 3072 },
  { name: "400x3072x768", batch: 1, m: 400, k: 3072, n: 768 },
  { name: "1568x768x768", batch: 1, m: 1568, k: 768, n: 768 },
  { name: "512x512x512", batch: 1, m: 512, k: 512, n: 512 },
];
const EXTRA: Case[] = [
  { name: "Aᵀ·B 768x400x768 (dW)", batch: 1, m: 768, k: 400, n: 768, transA: true },
  { name: "A·Bᵀ 400x768x768 (dX)", batch: 1, m: 400, k: 768, n: 768, transB: true },
  { name: "A·Bᵀ 400x3072x768 (dX)", batch: 1, m: 400, k: 3072, n: 768, transB: true },
  { name: "attn 96x 50x64·64x50", batch: 96, m: 50, k: 64, n: 50, transB: true },
  { name: "attn 96x 50x50·50x64", batch: 96, m: 50, k: 50, n: 64 },
];

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const rounds = Number(option("--rounds", "10"));
const threadsList = option("--threads", "1,2").split(",").map(Number);
const simdList = option("--simd", "plain,relaxed").split(",");
const cases = process.argv.includes("--extra") ? [...VIT_B, ...EXTRA] : VIT_B;

/** One configuration: a name, and a function preparing a runner for a case. */
interface Config {
  name: string;
  prepare(c: Case, a: Float32Array, b: Float32Array): () => void;
}

function random(length: number): Float32Array {
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = Math.random() - 0.5;
  return x;
}

function ours(simd: string, threads: number): Config {
  return {
    name: `${simd} ${threads}T`,
    prepare(c, a, b) {
      const { batch, m, n, k } = c;
      const args: GemmArgs = {
        m,
        n,
        k,
        a,
        aOffset: 0,
        aRowStride: c.transA ? 1 : k,
        aColStride: c.transA ? m : 1,
        b,
        bOffset: 0,
        bRowStride: c.transB ? 1 : n,
        bColStride: c.transB ? k : 1,
        c: new Float32Array(batch * m * n),
        cOffset: 0,
      };
      const call =
        batch === 1
          ? () => gemm(args)
          : () => gemmBatched(batch, { ...args, aBatchStride: m * k, bBatchStride: k * n, cBatchStride: m * n });
      return () => {
        setGemmRelaxedSimd(simd === "relaxed"); // no-ops unless the setting changes
        setGemmThreads(threads);
        call();
      };
    },
  };
}

async function tfjsWasm(): Promise<Config> {
  const tf = await import("@tensorflow/tfjs");
  await import("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend("wasm"))) throw new Error("bench/gemm: the tfjs wasm backend failed to initialise");
  await tf.ready();
  return {
    name: "tfjs-wasm",
    prepare(c, a, b) {
      const { batch, m, n, k } = c;
      // 2-D tensors for single products: tfjs's batched path is slower for them.
      const shapeA = c.transA ? [k, m] : [m, k];
      const shapeB = c.transB ? [n, k] : [k, n];
      const ta = tf.tensor(a, batch === 1 ? shapeA : [batch, ...shapeA]);
      const tb = tf.tensor(b, batch === 1 ? shapeB : [batch, ...shapeB]);
      return () => tf.matMul(ta, tb, c.transA === true, c.transB === true).dispose();
    },
  };
}

const configs: Config[] = simdList.flatMap((simd) => threadsList.map((threads) => ours(simd, threads)));
if (process.argv.includes("--tfjs")) configs.push(await tfjsWasm());

console.log(["shape", ...configs.map((c) => c.name)].join("\t"));
for (const c of cases) {
  const a = random(c.batch * c.m * c.k);
  const b = random(c.batch * c.k * c.n);
  const runners = configs.map((config) => config.prepare(c, a, b));
  const times: number[][] = runners.map(() => []);
  for (let round = 0; round < rounds; round++) {
    runners.forEach((run, i) => {
      run(); // warm-up, and switches the gemm settings before timing
      const t0 = performance.now();
      run();
      times[i].push(performance.now() - t0);
    });
  }
  const gflops = (ms: number) => ((2 * c.batch * c.m * c.n * c.k) / (ms * 1e6)).toFixed(1);
  const cells = times.map((t) => {
    t.sort((x, y) => x - y);
    return `${gflops(t[0])} / ${gflops(t[Math.floor(t.length / 2)])}`;
  });
  console.log([c.name, ...cells].join("\t"));
}
console.log(
  `GFLOP/s best / median of ${rounds}; relaxed SIMD available: ${gemmInfo().relaxedSimd}; ` +
    `${os.availableParallelism()} CPUs, load average ${os.loadavg()[0].toFixed(1)}`,
);
