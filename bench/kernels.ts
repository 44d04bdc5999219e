// Measures the cpu backend's kernels directly through the Backend interface: elementwise GB/s (one
// op, a fused chain), the vectorised math's throughput and accuracy, softmax / layer norm rows per
// second, reductions, random draws, the GEMM's GFLOP/s at ViT shapes and its fraction of the wasm
// SIMD limit (4 lanes × 2 FMA ports × 2 FLOP × clock, per core), and the one-thread / pool
// cut-over of each kernel kind. Best of N runs; on a shared machine the figures are noisy.
// Usage: npx tsx bench/kernels.ts [--threads 2] [--rounds 7] [--only ew,math,rows,reduce,random,gemm,cutover]
import { readFileSync } from "node:fs";
import os from "node:os";
import type { Program, Storage, View } from "../src/core/backend.ts";
import { cpuBackend as cpu } from "../src/core/backends/cpu/cpuBackend.ts";
import { setElementwiseParallelThreshold } from "../src/core/backends/cpu/elementwise.ts";
import { setReduceParallelThreshold } from "../src/core/backends/cpu/reduce.ts";
import { setRowsParallelThreshold } from "../src/core/backends/cpu/rows.ts";
import { cpuHeapStats } from "../src/core/backends/cpu/storage.ts";
import { gemmInfo, setGemmParallelThreshold, setGemmRelaxedSimd } from "../src/core/wasm/gemm.ts";
import { cpuReady, cpuThreads, setCpuThreads } from "../src/core/wasm/runtime.ts";
import { measureAll } from "../test/core/cpuMathAccuracy.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const threads = Number(arg("--threads", String(Math.min(os.availableParallelism(), 16))));
const rounds = Number(arg("--rounds", "7"));
const only = arg("--only", "ew,math,rows,reduce,random,gemm,cutover").split(",");

/** Best time (ms) of `rounds` runs of f, after one warm-up. */
function best(f: () => void, n = rounds): number {
  f();
  let t = Infinity;
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    f();
    t = Math.min(t, performance.now() - s);
  }
  return t;
}

const flat = (storage: Storage, n: number): View => ({ storage, shape: [n], strides: [1], offset: 0 });
const random = (n: number) =>
  cpu.upload(
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3),
    "float32",
  );
const input = (index: number) => ({ op: "input" as const, index });
const fmt = (v: number, d = 1) => v.toFixed(d).padStart(8);

function clockGHz(): number {
  try {
    const mhz = readFileSync("/proc/cpuinfo", "utf8").match(/cpu MHz\s*:\s*([\d.]+)/);
    return mhz ? Number(mhz[1]) / 1000 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** A chain of `length` cheap instructions over two inputs (an AdamW-like update), written to one output. */
function chain(length: number): Program {
  const code: Program["code"][number][] = [
    input(0),
    input(1),
    { op: "const", value: 0.9 },
    { op: "const", value: 1e-3 },
  ];
  for (let i = 0; i < length; i++) {
    const r = code.length;
    code.push(
      i % 3 === 0
        ? { op: "mul", x: r - 1, y: 2 }
        : i % 3 === 1
          ? { op: "add", x: r - 1, y: 1 }
          : { op: "sub", x: r - 1, y: 3 },
    );
  }
  return { code, outputs: [code.length - 1] };
}

function elementwiseSection(): void {
  const n = 1 << 22;
  const [a, b, o] = [random(n), random(n), cpu.alloc(n, "float32")];
  console.log(`\nelementwise, ${n} floats (bytes moved: inputs read + output written)`);
  console.log("  case                        threads    ms     GB/s   ns/elem");
  const cases: [string, Program, number][] = [
    ["add (1 op)", { code: [input(0), input(1), { op: "add", x: 0, y: 1 }], outputs: [2] }, 12],
    ["chain of 30 mul/add/sub", chain(30), 12],
    [
      "gelu(x)·exp(y) fused",
      {
        code: [input(0), input(1), { op: "gelu", x: 0 }, { op: "exp", x: 1 }, { op: "mul", x: 2, y: 3 }],
        outputs: [4],
      },
      12,
    ],
  ];
  for (const [name, program, bytes] of cases)
    for (const t of [1, threads]) {
      setCpuThreads(t);
      const ms = best(() => cpu.elementwise(program, [flat(a, n), flat(b, n)], [n], [flat(o, n)]));
      console.log(
        `  ${name.padEnd(28)}${String(t).padStart(4)} ${fmt(ms, 2)} ${fmt((n * bytes) / ms / 1e6)} ${fmt((ms * 1e6) / n, 2)}`,
      );
    }
  // A strided (transposed) input and a broadcast one.
  const rows = 2048;
  const cols = n / rows;
  const t: View = { storage: a, shape: [rows, cols], strides: [1, rows], offset: 0 };
  const bias: View = { storage: b, shape: [rows, cols], strides: [0, 1], offset: 0 };
  const out: View = { storage: o, shape: [rows, cols], strides: [cols, 1], offset: 0 };
  const add: Program = { code: [input(0), input(1), { op: "add", x: 0, y: 1 }], outputs: [2] };
  for (const [name, x] of [
    ["add transposed + bias", t],
    ["add contiguous + bias", { ...t, strides: [cols, 1] }],
  ] as const) {
    setCpuThreads(threads);
    const ms = best(() => cpu.elementwise(add, [x, bias], [rows, cols], [out]));
    console.log(
      `  ${name.padEnd(28)}${String(threads).padStart(4)} ${fmt(ms, 2)} ${fmt((n * 8) / ms / 1e6)} ${fmt((ms * 1e6) / n, 2)}`,
    );
  }
  for (const s of [a, b, o]) cpu.free(s);
}

function mathSection(): void {
  const n = 1 << 21;
  const [a, o] = [random(n), cpu.alloc(n, "float32")];
  console.log(`\nvectorised math, ${n} floats, ns per element (1 thread | ${threads} threads), and accuracy`);
  const accuracy = measureAll();
  for (const op of ["exp", "log", "tanh", "sigmoid", "erf", "gelu", "geluDerivative", "sin", "cos"] as const) {
    const program: Program = { code: [input(0), { op, x: 0 }], outputs: [1] };
    const ns = [1, threads].map((t) => {
      setCpuThreads(t);
      return (best(() => cpu.elementwise(program, [flat(a, n)], [n], [flat(o, n)])) * 1e6) / n;
    });
    const acc = accuracy
      .filter((x) => x.op === op)
      .map((x) => `${x.maxUlps} ulp (${x.range})`)
      .join("; ");
    console.log(`  ${op.padEnd(16)}${fmt(ns[0], 2)} |${fmt(ns[1], 2)}   ${acc || "per lane via Math (exact)"}`);
  }
  cpu.free(a);
  cpu.free(o);
}

function rowsSection(): void {
  console.log(`\nfused rows (${threads} threads): rows per second (millions)`);
  for (const [rows, d] of [
    [8 * 16 * 197, 197],
    [8 * 12 * 50, 50],
    [1568, 768],
    [8 * 197, 512],
  ]) {
    const n = rows * d;
    const x: View = { storage: random(n), shape: [rows, d], strides: [d, 1], offset: 0 };
    const g: View = { ...x, storage: random(n) };
    const out = { storage: cpu.alloc(n, "float32"), offset: 0 };
    const w: View = { storage: random(d), shape: [d], strides: [1], offset: 0 };
    const mean = { storage: cpu.alloc(rows, "float32"), offset: 0 };
    const rstd = { storage: cpu.alloc(rows, "float32"), offset: 0 };
    const stat = (t: typeof mean): View => ({ storage: t.storage, shape: [rows], strides: [1], offset: 0 });
    const dw = { storage: cpu.alloc(d, "float32"), offset: 0 };
    const db = { storage: cpu.alloc(d, "float32"), offset: 0 };
    setCpuThreads(threads);
    const r = (ms: number) => fmt(rows / ms / 1e3, 2);
    const sm = best(() => cpu.softmax(x, out));
    const smb = best(() => cpu.softmaxBackward(x, g, out));
    const ln = best(() => cpu.layerNorm(x, w, w, 1e-6, out, mean, rstd));
    const lnb = best(() => cpu.layerNormBackward(g, x, w, stat(mean), stat(rstd), out, dw, db));
    console.log(
      `  ${`[${rows}, ${d}]`.padEnd(16)}softmax ${r(sm)}  backward ${r(smb)}   layerNorm ${r(ln)}  backward ${r(lnb)}`,
    );
  }
}

function reduceSection(): void {
  console.log(`\nreductions, sum (${threads} threads): GB/s read`);
  for (const [name, shape, axes] of [
    ["rows [3136, 768] over the last axis", [3136, 768], [1]],
    ["bias grad [3136, 768] over axis 0", [3136, 768], [0]],
    ["all of [4M]", [1 << 22], [0]],
    ["middle [8, 197, 768] over axis 1", [8, 197, 768], [1]],
    ["transposed [768, 3136] over axis 1", [768, 3136], [1]],
  ] as [string, number[], number[]][]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const s = random(n);
    const strides = name.startsWith("transposed")
      ? [1, 768]
      : shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const x: View = { storage: s, shape, strides, offset: 0 };
    const outN = shape.filter((_, d) => !axes.includes(d)).reduce((a, b) => a * b, 1);
    const out = { storage: cpu.alloc(outN, "float32"), offset: 0 };
    setCpuThreads(threads);
    const ms = best(() => cpu.reduce("sum", x, axes, out));
    console.log(`  ${name.padEnd(38)}${fmt((4 * n) / ms / 1e6)}`);
  }
}

function randomSection(): void {
  const n = 1 << 22;
  const out = { storage: cpu.alloc(n, "float32"), offset: 0 };
  console.log(`\nrandom draws (${threads} threads): millions per second, and a 112M-parameter init`);
  for (const dist of [
    { kind: "uniform", low: 0, high: 1 },
    { kind: "normal", mean: 0, std: 1 },
    { kind: "truncatedNormal", lower: -2, upper: 2, std: 0.02 },
    { kind: "bernoulli", p: 0.5 },
  ] as const) {
    setCpuThreads(threads);
    const ms = best(() => cpu.random(dist, { hi: 1, lo: 2 }, n, out));
    console.log(`  ${dist.kind.padEnd(16)}${fmt(n / ms / 1e3)} M/s   112M draws: ${fmt((112e6 / n) * ms, 0)} ms`);
  }
}

function gemmSection(): void {
  const ghz = clockGHz();
  const limit = 4 * 2 * 2 * ghz; // GFLOP/s per core
  console.log(
    `\nGEMM, relaxed SIMD ${gemmInfo().relaxedSimd}; wasm SIMD limit ${limit.toFixed(1)} GFLOP/s per core at ${ghz.toFixed(2)} GHz (/proc/cpuinfo)`,
  );
  console.log("  shape (m×k×n)         threads  GFLOP/s  of the limit");
  for (const [m, k, n, transB] of [
    [1568, 768, 768, false],
    [400, 768, 3072, false],
    [400, 3072, 768, false],
    [1568, 768, 768, true],
  ] as [number, number, number, boolean][]) {
    const a: View = { storage: random(m * k), shape: [m, k], strides: [k, 1], offset: 0 };
    const b: View = { storage: random(k * n), shape: [k, n], strides: transB ? [1, k] : [n, 1], offset: 0 };
    const c = { storage: cpu.alloc(m * n, "float32"), offset: 0 };
    for (const t of [1, threads]) {
      setCpuThreads(t);
      const ms = best(() => cpu.matmul(a, b, c), Math.max(3, Math.floor(rounds / 2)));
      const gflops = (2 * m * n * k) / ms / 1e6;
      const name = `${m}×${k}×${n}${transB ? " (Bᵀ)" : ""}`;
      console.log(
        `  ${name.padEnd(22)}${String(t).padStart(4)} ${fmt(gflops)}   ${fmt((100 * gflops) / (limit * t), 0)}%`,
      );
    }
  }
}

/**
 * The size below which one thread beats the pool, per kernel kind: times both paths over sizes
 * (interleaved) and reports the smallest size from which the pool is faster at every larger size.
 */
function cutoverSection(): void {
  console.log(`\ncut-overs, 1 thread vs the pool of ${threads} (µs; * marks where the pool wins)`);
  const sizes = [1 << 10, 1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19];
  const kinds: [string, (n: number) => () => void, (on: boolean) => void][] = [
    [
      "add",
      (n) => {
        const [a, o] = [random(n), cpu.alloc(n, "float32")];
        const p: Program = { code: [input(0), input(0), { op: "add", x: 0, y: 1 }], outputs: [2] };
        return () => cpu.elementwise(p, [flat(a, n)], [n], [flat(o, n)]);
      },
      (on) => setElementwiseParallelThreshold(on ? 0 : Infinity),
    ],
    [
      "exp",
      (n) => {
        const [a, o] = [random(n), cpu.alloc(n, "float32")];
        const p: Program = { code: [input(0), { op: "exp", x: 0 }], outputs: [1] };
        return () => cpu.elementwise(p, [flat(a, n)], [n], [flat(o, n)]);
      },
      (on) => setElementwiseParallelThreshold(on ? 0 : Infinity),
    ],
    [
      "gelu",
      (n) => {
        const [a, o] = [random(n), cpu.alloc(n, "float32")];
        const p: Program = { code: [input(0), { op: "gelu", x: 0 }], outputs: [1] };
        return () => cpu.elementwise(p, [flat(a, n)], [n], [flat(o, n)]);
      },
      (on) => setElementwiseParallelThreshold(on ? 0 : Infinity),
    ],
    [
      "sum rows of 256",
      (n) => {
        const x: View = { storage: random(n), shape: [n / 256, 256], strides: [256, 1], offset: 0 };
        const o = { storage: cpu.alloc(n / 256, "float32"), offset: 0 };
        return () => cpu.reduce("sum", x, [1], o);
      },
      (on) => setReduceParallelThreshold(on ? 0 : Infinity),
    ],
    [
      "softmax rows of 256",
      (n) => {
        const x: View = { storage: random(n), shape: [n / 256, 256], strides: [256, 1], offset: 0 };
        const o = { storage: cpu.alloc(n, "float32"), offset: 0 };
        return () => cpu.softmax(x, o);
      },
      (on) => setRowsParallelThreshold(on ? 0 : Infinity),
    ],
    [
      "layerNorm rows of 256",
      (n) => {
        const x: View = { storage: random(n), shape: [n / 256, 256], strides: [256, 1], offset: 0 };
        const w: View = { storage: random(256), shape: [256], strides: [1], offset: 0 };
        const o = { storage: cpu.alloc(n, "float32"), offset: 0 };
        const st = () => ({ storage: cpu.alloc(n / 256, "float32"), offset: 0 });
        const [m, r] = [st(), st()];
        return () => cpu.layerNorm(x, w, w, 1e-6, o, m, r);
      },
      (on) => setRowsParallelThreshold(on ? 0 : Infinity),
    ],
    [
      "matmul n×n×n (n³ = size·n)",
      (n) => {
        const d = Math.round(Math.cbrt(n * 16));
        const a: View = { storage: random(d * d), shape: [d, d], strides: [d, 1], offset: 0 };
        const c = { storage: cpu.alloc(d * d, "float32"), offset: 0 };
        return () => cpu.matmul(a, a, c);
      },
      (on) => setGemmParallelThreshold(on ? 0 : Infinity),
    ],
  ];
  console.log(`  ${"kind".padEnd(28)}${sizes.map((s) => String(s).padStart(9)).join("")}`);
  for (const [name, make, pool] of kinds) {
    const cells = sizes.map((n) => {
      const run = make(n);
      let one = Infinity;
      let many = Infinity;
      for (let r = 0; r < rounds; r++) {
        setCpuThreads(1);
        pool(false);
        one = Math.min(one, best(run, 3));
        setCpuThreads(threads);
        pool(true);
        many = Math.min(many, best(run, 3));
      }
      return `${(one * 1e3).toFixed(0)}/${(many * 1e3).toFixed(0)}${many < one ? "*" : " "}`;
    });
    console.log(`  ${name.padEnd(28)}${cells.map((c) => c.padStart(9)).join("")}`);
    pool(false);
  }
  setElementwiseParallelThreshold();
  setReduceParallelThreshold();
  setRowsParallelThreshold();
  setGemmParallelThreshold();
}

async function main(): Promise<void> {
  setCpuThreads(threads);
  await cpuReady();
  setGemmRelaxedSimd(true);
  console.log(
    `vitmae-ts cpu kernels — ${os.cpus()[0]?.model ?? "?"}, ${os.availableParallelism()} cores, ${cpuThreads()} threads used, ` +
      `load average ${os.loadavg()[0].toFixed(1)}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
  );
  if (only.includes("ew")) elementwiseSection();
  if (only.includes("math")) mathSection();
  if (only.includes("rows")) rowsSection();
  if (only.includes("reduce")) reduceSection();
  if (only.includes("random")) randomSection();
  if (only.includes("gemm")) gemmSection();
  if (only.includes("cutover")) cutoverSection();
  const h = cpuHeapStats();
  console.log(
    `\nheap: ${(h.liveBytes / 2 ** 20).toFixed(1)} MiB live, peak ${(h.peakBytes / 2 ** 20).toFixed(1)} MiB, spans ${(h.capacityBytes / 2 ** 20).toFixed(1)} MiB`,
  );
}

void main();
