// Batched matmul C = A·B as a tiled WGSL GEMM (the scheme of the classic CUDA SGEMM tutorials).
//
// Tiling. A workgroup of 256 invocations owns a BM × BN tile of C. It walks k in steps of BK:
//   1. the 256 invocations copy the BM × BK slab of A and the BK × BN slab of B into workgroup
//      memory (each copies (BM·BK)/256 elements; out-of-range elements load as 0, so no edge
//      cases remain below), with consecutive invocations reading consecutive addresses of
//      whichever dim of the operand is contiguous (A is often transposed in backward passes);
//   2. after a barrier, each invocation multiplies: it owns a TM × TN block of C held in registers
//      (TM·TN accumulators), and for each of the BK steps loads TM values of A and TN of B from
//      workgroup memory and does TM·TN multiply-adds — memory traffic per FMA falls by TM·TN/(TM+TN);
//   3. a second barrier, and the next slab.
// Invocation (tx, ty) of the 16 × 16 grid owns rows ty + 16·i and columns tx + 16·j (not a
// contiguous block): neighbouring invocations then read neighbouring workgroup-memory words (no
// bank conflicts) and write neighbouring columns of C (coalesced stores). The A slab is stored
// k-major with one word of padding per row, so its transposed stores do not collide in banks.
//
// Three tile shapes, by problem size: 128×128 (BK 8, 8×8 per invocation) for large products,
// 64×64 (BK 16, 4×4) for mid-size and attention-shaped ones, 32×32 (BK 32, 2×2) for small ones.
// Shapes, strides and batch offsets are parameters: a variant compiles once per operand layout.

import type { Target, View } from "../../backend.ts";
import { coalesce } from "../gpujsKernels.ts";
import {
  baseOf,
  bindOperands,
  type Bound,
  boundSignature,
  element,
  type Launch,
  LaunchMemo,
  launch,
  Params,
  targetOperand,
  viewOperand,
} from "./bindings.ts";
import { coordinates, offsetExpr } from "./elementwiseShader.ts";
import type { GpuQueue } from "./gpuQueue.ts";

interface Tile {
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  readonly tm: number;
  readonly tn: number;
}

export const TILES = {
  large: { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  medium: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
  small: { bm: 32, bn: 32, bk: 32, tm: 2, tn: 2 },
} as const satisfies Record<string, Tile>;

const MAX_BATCH_PER_DISPATCH = 65535;

/** The tile for an m × n product repeated `batch` times: the biggest that still gives the GPU ~256 workgroups. */
export function chooseTile(m: number, n: number, batch: number): Tile {
  const tiles = (t: Tile) => Math.ceil(m / t.bm) * Math.ceil(n / t.bn) * batch;
  if (m >= 128 && n >= 128 && tiles(TILES.large) >= 256) return TILES.large;
  if (m >= 48 && n >= 48) return TILES.medium;
  return TILES.small;
}

export function matmul(queue: GpuQueue, a: View, b: View, out: Target, tile?: Tile): void {
  const rank = a.shape.length;
  const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
  const batchShape = a.shape.slice(0, -2);
  const batch = batchShape.reduce((x, y) => x * y, 1);
  if (batch * m * n === 0) return;
  const t = tile ?? chooseTile(m, n, batch);
  const outBatchStrides = batchShape.map((_, d) => m * n * batchShape.slice(d + 1).reduce((x, y) => x * y, 1));
  const bl = coalesce(batchShape, [a.strides.slice(0, -2), b.strides.slice(0, -2), outBatchStrides]);
  // Padded to three batch dims: one compiled kernel serves every batch layout up to rank 3.
  while (bl.shape.length < 3) {
    bl.shape.unshift(1);
    for (const st of bl.strides) st.unshift(0);
  }
  for (let first = 0; first < batch; first += MAX_BATCH_PER_DISPATCH) {
    const count = Math.min(MAX_BATCH_PER_DISPATCH, batch - first);
    dispatch(queue, a, b, out, { m, n, k }, bl, first, count, t);
  }
}

function dispatch(
  queue: GpuQueue,
  a: View,
  b: View,
  out: Target,
  dims: { m: number; n: number; k: number },
  batch: { shape: number[]; strides: number[][] },
  first: number,
  count: number,
  t: Tile,
): void {
  const { m, n, k } = dims;
  const bound = bindOperands(
    queue,
    [viewOperand(a, "matmul a"), viewOperand(b, "matmul b"), targetOperand(out, count * m * n, "matmul output")],
    8,
  )!;
  const signature = `${m},${k},${n}|${a.strides}@${a.offset}|${b.strides}@${b.offset}|${out.offset}|${first},${count}|${t.bm}|${batch.shape}/${batch.strides}|${boundSignature(bound)}`;
  launch(queue, memo.get(signature, bound, () => generate(queue, a, b, out, dims, batch, first, count, t, bound))!, "");
}

const memo = new LaunchMemo();

function generate(
  queue: GpuQueue,
  a: View,
  b: View,
  out: Target,
  dims: { m: number; n: number; k: number },
  batch: { shape: number[]; strides: number[][] },
  first: number,
  count: number,
  t: Tile,
  bound: Bound,
): Launch {
  const { m, n, k } = dims;
  const rank = a.shape.length;
  const [sam, sak] = [a.strides[rank - 2], a.strides[rank - 1]];
  const [sbk, sbn] = [b.strides[rank - 2], b.strides[rank - 1]];
  const p = new Params();
  const threads = 256;
  const [cols, rows] = [t.bn / t.tn, t.bm / t.tm]; // 16 × 16
  const amp = t.bm + 1; // padded row of the A slab (k-major)
  const bnp = t.bn;
  // Which dim consecutive invocations walk when loading: the operand's contiguous one.
  const aAlongK = sak === 1 || (sam !== 1 && Math.abs(sak) <= Math.abs(sam));
  const bAlongN = sbn === 1 || (sbk !== 1 && Math.abs(sbn) <= Math.abs(sbk));
  const perA = (t.bm * t.bk) / threads;
  const perB = (t.bk * t.bn) / threads;
  const [M, N, K] = [p.u(m), p.u(n), p.u(k)];
  const [SAM, SAK, SBK, SBN] = [p.i(sam), p.i(sak), p.i(sbk), p.i(sbn)];
  const lines: string[] = [
    `let z = wid.z + ${p.u(first)};`,
    ...coordinates(p, batch.shape, "z", "w"),
    `let a0 = ${offsetExpr(p, baseOf(p, bound, 0, a.offset), batch.strides[0], "w")};`,
    `let b0 = ${offsetExpr(p, baseOf(p, bound, 1, b.offset), batch.strides[1], "w")};`,
    `let c0 = ${baseOf(p, bound, 2, out.offset)} + i32(z) * ${p.i(m * n)};`,
    `let row0 = wid.y * ${t.bm}u;`,
    `let col0 = wid.x * ${t.bn}u;`,
    `let tx = li % ${cols}u;`,
    `let aAlongK = ${p.u(aAlongK ? 1 : 0)} != 0u;`,
    `let bAlongN = ${p.u(bAlongN ? 1 : 0)} != 0u;`,
    `let ty = li / ${cols}u;`,
  ];
  for (let i = 0; i < t.tm; i++) for (let j = 0; j < t.tn; j++) lines.push(`var acc${i}_${j} = 0.0;`);
  lines.push(`for (var k0 = 0u; k0 < ${K}; k0 += ${t.bk}u) {`);
  // 1. the slabs
  for (let e = 0; e < perA; e++) {
    const idx = `li + ${e * threads}u`;
    lines.push(
      `  {`,
      `    let mm = select((${idx}) % ${t.bm}u, (${idx}) / ${t.bk}u, aAlongK);`,
      `    let kk = select((${idx}) / ${t.bm}u, (${idx}) % ${t.bk}u, aAlongK);`,
      `    let r = row0 + mm; let q = k0 + kk;`,
      `    var v = 0.0;`,
      `    if (r < ${M} && q < ${K}) { v = ${element(bound, 0, `a0 + i32(r) * ${SAM} + i32(q) * ${SAK}`)}; }`,
      `    slabA[kk * ${amp}u + mm] = v;`,
      `  }`,
    );
  }
  for (let e = 0; e < perB; e++) {
    const idx = `li + ${e * threads}u`;
    lines.push(
      `  {`,
      `    let kk = select((${idx}) % ${t.bk}u, (${idx}) / ${t.bn}u, bAlongN);`,
      `    let nn = select((${idx}) / ${t.bk}u, (${idx}) % ${t.bn}u, bAlongN);`,
      `    let q = k0 + kk; let c = col0 + nn;`,
      `    var v = 0.0;`,
      `    if (q < ${K} && c < ${N}) { v = ${element(bound, 1, `b0 + i32(q) * ${SBK} + i32(c) * ${SBN}`)}; }`,
      `    slabB[kk * ${bnp}u + nn] = v;`,
      `  }`,
    );
  }
  lines.push("  workgroupBarrier();");
  // 2. the multiply-adds on registers
  // SwiftShader (CI's software GPU) unrolls a constant-bound loop fully and then takes ~10 s to
  // compile it: there the bound is a parameter. GPU compilers unroll it to good effect.
  const steps = queue.gpu.software ? p.u(t.bk) : `${t.bk}u`;
  lines.push(`  for (var kk = 0u; kk < ${steps}; kk++) {`);
  for (let i = 0; i < t.tm; i++) lines.push(`    let a${i} = slabA[kk * ${amp}u + ty + ${rows * i}u];`);
  for (let j = 0; j < t.tn; j++) lines.push(`    let b${j} = slabB[kk * ${bnp}u + tx + ${cols * j}u];`);
  for (let i = 0; i < t.tm; i++)
    for (let j = 0; j < t.tn; j++) lines.push(`    acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`);
  lines.push("  }", "  workgroupBarrier();", "}");
  // 3. the stores (guarded at the edges)
  for (let i = 0; i < t.tm; i++)
    for (let j = 0; j < t.tn; j++)
      lines.push(
        `if (row0 + ty + ${rows * i}u < ${M} && col0 + tx + ${cols * j}u < ${N}) { ${element(bound, 2, `c0 + i32(row0 + ty + ${rows * i}u) * i32(${N}) + i32(col0 + tx + ${cols * j}u)`)} = acc${i}_${j}; }`,
      );
  const main = `var<workgroup> slabA: array<f32, ${t.bk * amp}>;
var<workgroup> slabB: array<f32, ${t.bk * bnp}>;
@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${lines.join("\n  ")}
}`;
  return {
    params: p,
    bound,
    main,
    groups: [Math.ceil(n / t.bn), Math.ceil(m / t.bm), count],
    label: `gemm ${t.bm}x${t.bn}`,
  };
}
