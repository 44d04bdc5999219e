// Reductions (sum, max, min over any set of axes of a strided view) as WGSL kernels.
//
// With the reduced axes moved last, output o reduces a run of R elements. Two shapes of work:
// - few elements per output (R ≤ 32): one invocation per output loops over its run;
// - otherwise one workgroup of 256 per (output, chunk): each invocation folds a strided share of the
//   chunk (sums with Kahan compensation), then the workgroup combines the 256 partial results as a
//   tree in workgroup memory. Long runs with few outputs are cut into chunks so the whole GPU
//   works; a second pass then reduces each output's chunk results the same way.
// max/min propagate NaN (the reference's rule); empty sums are 0.

import type { ReduceOp, Target, View } from "../../backend.ts";
import { coalesce } from "../gpujsKernels.ts";
import {
  baseOf,
  bindOperands,
  element,
  grid,
  LaunchMemo,
  launchMemoized,
  Params,
  signatureOf,
  targetOperand,
  viewOperand,
} from "./bindings.ts";
import { coordinates, offsetExpr } from "./elementwiseShader.ts";
import type { GpuQueue } from "./gpuQueue.ts";
import { WGSL_MATH } from "./wgslMath.ts";

const memo = new LaunchMemo();
const WG = 256;
/** Elements one workgroup folds before the work is split into chunks (two passes). */
const CHUNK = 4096;

const identity = { sum: "0.0", max: "-f32_bits(0x7f800000u)", min: "f32_bits(0x7f800000u)" } as const;

/** combine(a, b) for the op, as WGSL. */
export const COMBINE: Record<ReduceOp, string> = {
  sum: "fn combine(a: f32, b: f32) -> f32 { return a + b; }",
  max: "fn combine(a: f32, b: f32) -> f32 { if (is_nan(a) || is_nan(b)) { return f32_bits(0x7fc00000u); } return select(b, a, a > b); }",
  min: "fn combine(a: f32, b: f32) -> f32 { if (is_nan(a) || is_nan(b)) { return f32_bits(0x7fc00000u); } return select(b, a, a < b); }",
};

/** Tree combination of one value per invocation across a workgroup of 256 (call in uniform control flow). */
export const WORKGROUP_COMBINE = `var<workgroup> tree: array<f32, ${WG}>;
fn workgroup_combine(v: f32, li: u32) -> f32 {
  workgroupBarrier();
  tree[li] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (li < s) { tree[li] = combine(tree[li], tree[li + s]); }
    workgroupBarrier();
  }
  return tree[0];
}`;

/** Kahan-compensated running sum (the compensation keeps long runs float32-accurate). */
const KAHAN = `fn kahan(acc: vec2<f32>, v: f32) -> vec2<f32> {
  if (!is_finite(v) || !is_finite(acc.x)) { return vec2<f32>(acc.x + v, 0.0); }
  let y = v - acc.y;
  let t = acc.x + y;
  return vec2<f32>(t, (t - acc.x) - y);
}`;

const helpersOf = (parts: (op: ReduceOp) => string[]) =>
  Object.fromEntries((["sum", "max", "min"] as const).map((op) => [op, parts(op).join("\n")])) as Record<
    ReduceOp,
    string
  >;
const PER_OUTPUT_HELPERS = helpersOf((op) => [WGSL_MATH, COMBINE[op], KAHAN]);
const PER_WORKGROUP_HELPERS = helpersOf((op) => [WGSL_MATH, COMBINE[op], KAHAN, WORKGROUP_COMBINE]);

interface Layout {
  kept: { shape: number[]; strides: number[] };
  reduced: { shape: number[]; strides: number[] };
}

function split(x: View, axes: readonly number[]): Layout {
  const keep = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const kept = coalesce(
    keep.map((d) => x.shape[d]),
    [keep.map((d) => x.strides[d])],
  );
  const reduced = coalesce(
    axes.map((d) => x.shape[d]),
    [axes.map((d) => x.strides[d])],
  );
  return {
    kept: { shape: kept.shape, strides: kept.strides[0] },
    reduced: { shape: reduced.shape, strides: reduced.strides[0] },
  };
}

export function reduce(queue: GpuQueue, op: ReduceOp, x: View, axes: readonly number[], out: Target): void {
  const n = x.shape.filter((_, d) => !axes.includes(d)).reduce((a, b) => a * b, 1);
  const r = axes.reduce((acc, d) => acc * x.shape[d], 1);
  if (n === 0) return;
  const layout = split(x, axes);
  if (r <= 32) {
    perOutput(queue, op, x, layout, n, r, out);
    return;
  }
  const chunks = Math.min(1024, Math.ceil(r / CHUNK));
  if (chunks === 1) {
    perWorkgroup(queue, op, x, layout, n, r, 1, out);
    return;
  }
  // Pass 1 folds each chunk into partial[o·chunks + c]; pass 2 folds each output's chunks.
  const partial = queue.alloc(out.storage.backend, n * chunks);
  perWorkgroup(queue, op, x, layout, n, r, chunks, { storage: partial, offset: 0 });
  const p: View = { storage: partial, shape: [n, chunks], strides: [chunks, 1], offset: 0 };
  reduce(queue, op, p, [1], out);
  queue.free(partial);
}

/** One invocation per output (short runs). */
function perOutput(queue: GpuQueue, op: ReduceOp, x: View, l: Layout, n: number, r: number, out: Target): void {
  const bound = bindOperands(queue, [viewOperand(x, "reduce input"), targetOperand(out, n, "reduce output")], 8)!;
  launchMemoized(queue, memo, signatureOf("perOutput", op, x, out, n, r), bound, PER_OUTPUT_HELPERS[op], () => {
    const p = new Params();
    const { groups, rowThreads } = grid(n, WG, queue.gpu.limits.maxComputeWorkgroupsPerDimension);
    const lines = [`let o = gid.x + gid.y * ${p.u(rowThreads)};`, `if (o >= ${p.u(n)}) { return; }`];
    lines.push(...coordinates(p, l.kept.shape, "o", "k"));
    lines.push(`let base = ${offsetExpr(p, baseOf(p, bound, 0, x.offset), l.kept.strides, "k")};`);
    lines.push(`var acc = vec2<f32>(${identity[op]}, 0.0);`);
    lines.push(`for (var j = 0u; j < ${p.u(r)}; j++) {`);
    lines.push(...coordinates(p, l.reduced.shape, "j", "q").map((s) => `  ${s}`));
    const v = element(bound, 0, offsetExpr(p, "base", l.reduced.strides, "q"));
    lines.push(op === "sum" ? `  acc = kahan(acc, ${v});` : `  acc.x = combine(acc.x, ${v});`, "}");
    lines.push(`${element(bound, 1, `${baseOf(p, bound, 1, out.offset)} + i32(o)`)} = acc.x;`);
    const main = `@compute @workgroup_size(${WG})
  fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    ${lines.join("\n  ")}
  }`;
    return { params: p, bound, main, groups, label: `reduce ${op}` };
  });
}

/** One workgroup per (output, chunk): out[o·chunks + c] folds elements [c·len, (c+1)·len) of output o's run. */
function perWorkgroup(
  queue: GpuQueue,
  op: ReduceOp,
  x: View,
  l: Layout,
  n: number,
  r: number,
  chunks: number,
  out: Target,
): void {
  const bound = bindOperands(
    queue,
    [viewOperand(x, "reduce input"), targetOperand(out, n * chunks, "reduce output")],
    8,
  )!;
  launchMemoized(
    queue,
    memo,
    signatureOf("perWorkgroup", op, x, out, n, r, chunks),
    bound,
    PER_WORKGROUP_HELPERS[op],
    () => {
      const p = new Params();
      const len = Math.ceil(r / chunks);
      const { groups, rowThreads } = grid(n * chunks, 1, queue.gpu.limits.maxComputeWorkgroupsPerDimension);
      const lines = [
        `let g = wid.x + wid.y * ${p.u(rowThreads)};`,
        `let live = g < ${p.u(n * chunks)};`,
        `let o = g / ${p.u(chunks)};`,
        `let c = g % ${p.u(chunks)};`,
        ...coordinates(p, l.kept.shape, "o", "k"),
        `let base = ${offsetExpr(p, baseOf(p, bound, 0, x.offset), l.kept.strides, "k")};`,
        `let first = c * ${p.u(len)};`,
        `let last = min(first + ${p.u(len)}, ${p.u(r)});`,
        `var acc = vec2<f32>(${identity[op]}, 0.0);`,
        "if (live) {",
        `  for (var j = first + li; j < last; j += ${WG}u) {`,
        ...coordinates(p, l.reduced.shape, "j", "q").map((s) => `    ${s}`),
        `    let v = ${element(bound, 0, offsetExpr(p, "base", l.reduced.strides, "q"))};`,
        op === "sum" ? "    acc = kahan(acc, v);" : "    acc.x = combine(acc.x, v);",
        "  }",
        "}",
        "let total = workgroup_combine(acc.x, li);",
        `if (live && li == 0u) { ${element(bound, 1, `${baseOf(p, bound, 1, out.offset)} + i32(g)`)} = total; }`,
      ];
      const main = `@compute @workgroup_size(${WG})
  fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    ${lines.join("\n  ")}
  }`;
      return { params: p, bound, main, groups, label: `reduce ${op}` };
    },
  );
}
