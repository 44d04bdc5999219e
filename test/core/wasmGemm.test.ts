// Tests of the wasm SIMD GEMM (src/core/wasm/gemm.ts) against a naive float64 triple loop.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import {
  gemm,
  type GemmArgs,
  gemmBatched,
  type GemmBatchStrides,
  gemmInfo,
  gemmTaskCounts,
  setGemmParallelThreshold,
  setGemmRelaxedSimd,
  setGemmThreads,
  wasmAvailable,
} from "../../src/core/wasm/gemm.ts";

import { generator as prng } from "../helpers/conformanceOperands.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function randomArray(length: number, rand: () => number): Float32Array {
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = rand() * 2 - 1;
  return x;
}

/** Reference C entry (i, j) of batch t in float64, and sum |a||b| (+|c_old|) for the tolerance. */
function reference(args: GemmArgs & GemmBatchStrides, t: number, i: number, j: number, cOld: number) {
  let sum = args.accumulate ? cOld : 0;
  let scale = args.accumulate ? Math.abs(cOld) : 0;
  for (let p = 0; p < args.k; p++) {
    const a = args.a[args.aOffset + t * args.aBatchStride + i * args.aRowStride + p * args.aColStride];
    const b = args.b[args.bOffset + t * args.bBatchStride + p * args.bRowStride + j * args.bColStride];
    sum += a * b;
    scale += Math.abs(a * b);
  }
  return { value: sum, scale };
}

function assertClose(actual: number, expected: number, scale: number, k: number, where: string): void {
  if (Number.isNaN(expected)) {
    assert.ok(Number.isNaN(actual), `${where}: expected NaN, got ${actual}`);
    return;
  }
  if (!Number.isFinite(expected)) {
    assert.equal(actual, expected, where);
    return;
  }
  const tol = (k + 2) * 2 ** -23 * scale + 1e-30;
  assert.ok(Math.abs(actual - expected) <= tol, `${where}: got ${actual}, expected ${expected} (tolerance ${tol})`);
}

/** Checks every (or every `step`-th) output entry of a batched call; C outside the outputs is untouched. */
function checkBatched(batch: number, args: GemmArgs & GemmBatchStrides, step = 1): void {
  const before = args.c.slice();
  gemmBatched(batch, args);
  const { m, n, k, c, cOffset, cBatchStride } = args;
  const written = new Set<number>();
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const at = cOffset + t * cBatchStride + i * n + j;
        written.add(at);
        if ((i * n + j) % step !== 0) continue;
        const { value, scale } = reference(args, t, i, j, before[at]);
        assertClose(c[at], value, scale, k, `batch ${t} C[${i},${j}] (m=${m} n=${n} k=${k})`);
      }
    }
  }
  for (let at = 0; at < c.length; at += step === 1 ? 1 : 97) {
    if (!written.has(at)) assert.ok(Object.is(c[at], before[at]), `C element ${at} outside the output changed`);
  }
}

interface ViewSpec {
  trans: boolean;
  pad: number;
  offset: number;
  flip?: boolean;
}

/** A rows x cols matrix view with random layout (transposed or not, padded, offset, rows reversed). */
function makeView(rows: number, cols: number, spec: ViewSpec, rand: () => number, batches = 1) {
  const inner = spec.trans ? rows : cols;
  const outer = spec.trans ? cols : rows;
  const lead = inner + spec.pad;
  const batchStride = outer * lead;
  const array = randomArray(spec.offset + batches * batchStride + 3, rand);
  const rowStride = spec.trans ? 1 : lead;
  const colStride = spec.trans ? lead : 1;
  if (spec.flip && rows > 0) {
    // Row i of the view is row rows-1-i of the array: a negative row stride.
    return { array, offset: spec.offset + (rows - 1) * rowStride, batchStride, rowStride: -rowStride, colStride };
  }
  return { array, offset: spec.offset, batchStride, rowStride, colStride };
}

const viewSpec = fc.record({
  trans: fc.boolean(),
  pad: fc.constantFrom(0, 0, 1, 2, 3, 300), // 300: a sparse view, gathered rather than copied whole
  offset: fc.integer({ min: 0, max: 5 }),
  flip: fc.boolean(),
});
const dim = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 9, 63, 65));

function problem(
  m: number,
  n: number,
  k: number,
  aSpec: ViewSpec,
  bSpec: ViewSpec,
  seed: number,
  opts: {
    accumulate: boolean;
    batch?: number;
    aBroadcast?: boolean;
    bBroadcast?: boolean;
    cGap?: number;
  },
) {
  const rand = prng(seed);
  const batch = opts.batch ?? 1;
  const A = makeView(m, k, aSpec, rand, opts.aBroadcast ? 1 : batch);
  const B = makeView(k, n, bSpec, rand, opts.bBroadcast ? 1 : batch);
  const cBatchStride = m * n + (opts.cGap ?? 0);
  const args: GemmArgs & GemmBatchStrides = {
    m,
    n,
    k,
    a: A.array,
    aOffset: A.offset,
    aRowStride: A.rowStride,
    aColStride: A.colStride,
    aBatchStride: opts.aBroadcast ? 0 : A.batchStride,
    b: B.array,
    bOffset: B.offset,
    bRowStride: B.rowStride,
    bColStride: B.colStride,
    bBatchStride: opts.bBroadcast ? 0 : B.batchStride,
    c: randomArray(2 + batch * cBatchStride + 3, rand),
    cOffset: 2,
    cBatchStride,
    accumulate: opts.accumulate,
  };
  return { batch, args };
}

describe("wasm gemm", () => {
  it("is available here, with relaxed SIMD detected (V8 has it, behind a flag on Node 20)", () => {
    assert.equal(wasmAvailable(), true);
    const info = gemmInfo();
    assert.equal(info.relaxedSimd, true);
    assert.ok(info.threads >= 1);
  });

  for (const relaxed of [true, false]) {
    for (const threads of [1, 2, 3]) {
      it(`matches a naive loop on random strided views (${relaxed ? "relaxed" : "plain"} SIMD, ${threads} thread(s))`, () => {
        setGemmRelaxedSimd(relaxed);
        setGemmThreads(threads);
        setGemmParallelThreshold(0); // split even tiny problems into tasks over all threads
        fc.assert(
          fc.property(
            dim,
            dim,
            dim,
            viewSpec,
            viewSpec,
            fc.boolean(),
            fc.integer(),
            (m, n, k, aSpec, bSpec, accumulate, seed) => {
              const { batch, args } = problem(m, n, k, aSpec, bSpec, seed, { accumulate });
              checkBatched(batch, args);
            },
          ),
          { numRuns: threads === 2 ? 120 : 40 },
        );
      });
    }
  }

  it("batched products match, with broadcast A or B and gaps between C batches", () => {
    setGemmRelaxedSimd(true);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 0, max: 21 }),
        fc.integer({ min: 0, max: 21 }),
        fc.integer({ min: 0, max: 21 }),
        viewSpec,
        viewSpec,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(1, 2),
        fc.integer(),
        (batch, m, n, k, aSpec, bSpec, aBroadcast, bBroadcast, accumulate, cGap, threads, seed) => {
          setGemmThreads(threads);
          setGemmParallelThreshold(0);
          const p = problem(m, n, k, aSpec, bSpec, seed, { accumulate, batch, aBroadcast, bBroadcast, cGap });
          checkBatched(p.batch, p.args);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("gemm() writes dense C and leaves the rest of c alone", () => {
    setGemmThreads(2);
    const rand = prng(7);
    const [m, n, k] = [5, 9, 13];
    const a = randomArray(m * k, rand),
      b = randomArray(k * n, rand);
    const c = new Float32Array(m * n + 8).fill(-7);
    gemm({
      m,
      n,
      k,
      a,
      aOffset: 0,
      aRowStride: k,
      aColStride: 1,
      b,
      bOffset: 0,
      bRowStride: n,
      bColStride: 1,
      c,
      cOffset: 4,
    });
    for (let i = 0; i < 4; i++) assert.equal(c[i], -7);
    for (let i = m * n + 4; i < c.length; i++) assert.equal(c[i], -7);
    let s = 0;
    for (let p = 0; p < k; p++) s += a[2 * k + p] * b[p * n + 3];
    assert.ok(Math.abs(c[4 + 2 * n + 3] - s) < 1e-5);
  });

  for (const threads of [1, 2]) {
    it(`ViT-B shapes, plain and transposed, spot-checked (${threads} thread(s))`, () => {
      setGemmRelaxedSimd(true);
      setGemmThreads(threads);
      setGemmParallelThreshold();
      const shapes: [number, number, number, boolean, boolean][] = [
        [400, 768, 768, false, false],
        [400, 3072, 768, false, true], // A·Bᵀ (backward dX)
        [301, 517, 77, true, false], // Aᵀ·B (backward dW); odd sizes, so edge tiles in every K block
      ];
      for (const [m, k, n, transA, transB] of shapes) {
        const { batch, args } = problem(
          m,
          n,
          k,
          { trans: transA, pad: 1, offset: 3 },
          { trans: transB, pad: 0, offset: 0 },
          m + k,
          { accumulate: false },
        );
        checkBatched(batch, args, 211);
      }
    });
  }

  it("gives bitwise the same result on 1 and 2 threads (each C entry is summed in one fixed order)", () => {
    const results = [1, 2].map((threads) => {
      setGemmThreads(threads);
      setGemmParallelThreshold(0);
      const { args } = problem(
        203,
        301,
        555,
        { trans: false, pad: 0, offset: 0 },
        { trans: true, pad: 1, offset: 0 },
        11,
        { accumulate: false },
      );
      gemm(args);
      return args.c;
    });
    assert.deepEqual(results[0], results[1]);
  });

  it("batched attention shapes (96 x 50x64·64x50, Bᵀ view), multi-threaded", () => {
    setGemmThreads(2);
    setGemmParallelThreshold();
    const p = problem(50, 50, 64, { trans: false, pad: 0, offset: 0 }, { trans: true, pad: 0, offset: 0 }, 5, {
      accumulate: false,
      batch: 96,
    });
    checkBatched(p.batch, p.args, 7);
  });

  it("propagates NaN and Inf as a naive loop does", () => {
    for (const threads of [1, 2]) {
      setGemmThreads(threads);
      setGemmParallelThreshold(0);
      const { batch, args } = problem(
        17,
        19,
        11,
        { trans: false, pad: 0, offset: 0 },
        { trans: false, pad: 0, offset: 0 },
        3,
        { accumulate: true },
      );
      args.a[2 * 11 + 4] = NaN; // row 2 of C becomes NaN
      args.b[5 * 19 + 7] = Infinity; // column 7 becomes ±Inf (or NaN in row 2)
      args.b[6 * 19 + 7] = -Infinity; // ... or NaN where Inf - Inf
      args.a[9 * 11 + 5] = 0;
      args.a[9 * 11 + 6] = 0; // row 9: 0 * Inf = NaN in column 7
      args.c[2 + 12 * 19 + 1] = Infinity; // accumulating onto Inf stays Inf
      checkBatched(batch, args);
      assert.ok(Number.isNaN(args.c[2 + 2 * 19]));
      assert.ok(Number.isNaN(args.c[2 + 9 * 19 + 7]));
      assert.equal(args.c[2 + 12 * 19 + 1], Infinity);
    }
  });

  it("k = 0 gives zeros (or leaves C as is when accumulating); m = 0 or n = 0 writes nothing", () => {
    const c = new Float32Array([1, 2, 3, 4, 5, 6]);
    const empty = new Float32Array(0);
    const base = {
      a: empty,
      aOffset: 0,
      aRowStride: 0,
      aColStride: 1,
      b: empty,
      bOffset: 0,
      bRowStride: 1,
      bColStride: 1,
      c,
      cOffset: 1,
    };
    gemm({ ...base, m: 2, n: 2, k: 0, accumulate: true });
    assert.deepEqual([...c], [1, 2, 3, 4, 5, 6]);
    gemm({ ...base, m: 2, n: 2, k: 0 });
    assert.deepEqual([...c], [1, 0, 0, 0, 0, 6]);
    gemm({ ...base, m: 0, n: 5, k: 3 });
    gemm({ ...base, m: 5, n: 0, k: 3 });
    assert.deepEqual([...c], [1, 0, 0, 0, 0, 6]);
  });

  it("rejects bad arguments with errors that name the problem", () => {
    const a = new Float32Array(6),
      b = new Float32Array(6),
      c = new Float32Array(4);
    const ok = {
      m: 2,
      n: 2,
      k: 3,
      a,
      aOffset: 0,
      aRowStride: 3,
      aColStride: 1,
      b,
      bOffset: 0,
      bRowStride: 2,
      bColStride: 1,
      c,
      cOffset: 0,
    };
    gemm(ok);
    assert.throws(() => gemm({ ...ok, m: -1 }), /m=-1 must be a non-negative integer/);
    assert.throws(() => gemm({ ...ok, k: 2.5 }), /k=2.5/);
    assert.throws(() => gemm({ ...ok, aOffset: 1 }), /A view .* outside a\.length=6/);
    assert.throws(() => gemm({ ...ok, bColStride: -1 }), /B view .* outside b\.length=6/);
    assert.throws(() => gemm({ ...ok, cOffset: 1 }), /needs c\.length >= 5, got 4/);
    assert.throws(() => gemm({ ...ok, aRowStride: NaN }), /aRowStride=NaN must be an integer/);
    assert.throws(() => gemm({ ...ok, a: [1, 2] as unknown as Float32Array }), /a must be a Float32Array/);
    assert.throws(
      () => gemmBatched(2, { ...ok, c: new Float32Array(8), aBatchStride: 0, bBatchStride: 0, cBatchStride: 3 }),
      /batches would overlap/,
    );
    assert.throws(() => setGemmThreads(0), /setGemmThreads/);
    // Stride-0 views make a product whose packed A (40000 x 40000) exceeds the 4 GiB wasm memory.
    const one = new Float32Array(1);
    assert.throws(
      () =>
        gemm({
          m: 40000,
          n: 1,
          k: 40000,
          a: one,
          aOffset: 0,
          aRowStride: 0,
          aColStride: 0,
          b: one,
          bOffset: 0,
          bRowStride: 0,
          bColStride: 0,
          c: new Float32Array(40000),
          cOffset: 0,
        }),
      /m=40000 n=1 k=40000 needs \d+ MiB of wasm memory, more than the 4096 MiB limit/,
    );
    gemm(ok); // and it still works afterwards
  });

  it("worker threads take part in large products (for both kernels)", () => {
    const workerTasks = () =>
      gemmTaskCounts()
        .slice(1)
        .reduce((x, y) => x + y, 0);
    for (const relaxed of [false, true]) {
      setGemmRelaxedSimd(relaxed);
      setGemmThreads(2);
      setGemmParallelThreshold();
      const m = 256,
        a = new Float32Array(m * m).fill(0.5),
        c = new Float32Array(m * m);
      const call = () =>
        gemm({
          m,
          n: m,
          k: m,
          a,
          aOffset: 0,
          aRowStride: m,
          aColStride: 1,
          b: a,
          bOffset: 0,
          bRowStride: m,
          bColStride: 1,
          c,
          cOffset: 0,
        });
      call(); // starts the worker if this kernel's pool has none yet
      const before = workerTasks();
      const deadline = Date.now() + 10_000; // a busy machine may keep the worker off the CPU for a while
      while (workerTasks() === before && Date.now() < deadline) call();
      assert.equal(gemmInfo().threads, 2);
      assert.ok(workerTasks() > before, `workers ran no task: ${gemmTaskCounts()}`);
      assert.equal(c[m * m - 1], 64);
    }
  });

  it("idle worker threads do not keep the process alive", () => {
    const script = `import { gemm } from ${JSON.stringify(path.join(repoRoot, "src/core/wasm/gemm.ts"))};
      const m = 200, a = new Float32Array(m * m).fill(1), c = new Float32Array(m * m);
      gemm({ m, n: m, k: m, a, aOffset: 0, aRowStride: m, aColStride: 1, b: a, bOffset: 0, bRowStride: m, bColStride: 1, c, cOffset: 0 });
      console.log(c[0]);`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: repoRoot,
      timeout: 30_000,
      encoding: "utf8",
    });
    assert.equal(child.error, undefined, `child did not exit: ${child.error?.message}`);
    assert.equal(child.stdout.trim(), "200", child.stderr);
  });
});
