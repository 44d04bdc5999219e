// A child-process script for test/autodiff/memory.test.ts: trains a 2-layer MLP with SGD through
// valueAndGrad and prints the JS heap and the cpu backend's live storage (after forced GCs) at
// chosen steps. Run with node --expose-gc. The loop yields to the event loop each step, as a real
// training loop does: storage owned by a backend is given back by finalizers, which run then.

import * as T from "../../src/core/index.ts";
import { cpuHeapStats } from "../../src/core/backends/cpu/cpuBackend.ts";
import { treeZip, valueAndGrad } from "../../src/autodiff/index.ts";

interface Params {
  w1: T.Tensor;
  b1: T.Tensor;
  w2: T.Tensor;
  b2: T.Tensor;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("mlpMemory: run with node --expose-gc");

const steps = Number(process.argv[2] ?? 1000);
const marks = new Set((process.argv[3] ?? "100,1000").split(",").map(Number));
const [kx, k1, k2] = T.random.split(T.key(0), 3);
const x = T.random.normal(kx, [16, 8]); // a fixed batch [B, D]
const y = T.sum(T.sin(x), -1, { keepdims: true }); // a smooth target [B, 1]
let params: Params = {
  w1: T.random.normal(k1, [8, 32], 0, 0.3),
  b1: T.zeros([32]),
  w2: T.random.normal(k2, [32, 1], 0, 0.3),
  b2: T.zeros([1]),
};

const loss = (p: Params): T.Tensor => {
  const h = T.relu(T.add(T.matmul(x, p.w1), p.b1)); // [B, 32]
  const out = T.add(T.matmul(h, p.w2), p.b2); // [B, 1]
  return T.mean(T.square(T.sub(out, y)));
};
const step = valueAndGrad(loss);

const tick = () => new Promise((resolve) => setImmediate(resolve));
const report: { backend: string; losses: number[]; heap: Record<number, number>; storage: Record<number, number> } = {
  backend: T.backend().name,
  losses: [],
  heap: {},
  storage: {},
};
for (let i = 1; i <= steps; i++) {
  const [value, grads] = step(params);
  params = treeZip((p, g) => T.sub(p, T.mul(g, 0.05)), params, grads as Params);
  if (i === 1 || i === steps) report.losses.push(value.item());
  await tick();
  if (marks.has(i)) {
    for (let r = 0; r < 3; r++) {
      gc();
      await tick(); // finalizers of what the GC found run now
    }
    report.heap[i] = process.memoryUsage().heapUsed;
    report.storage[i] = cpuHeapStats().liveBytes;
  }
}
console.log(JSON.stringify(report));
