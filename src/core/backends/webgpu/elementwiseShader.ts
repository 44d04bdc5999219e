// The elementwise kernel in WGSL: one invocation per element of the shape runs the program's
// straight-line code (a fused chain of ops) on registers, reading each input and writing each
// output through its own strides. Dims are coalesced first (size-1 dims dropped, neighbours every
// operand walks contiguously merged), so most kernels index with one or two dims.

import type { Instruction, Program, View } from "../../backend.ts";
import { coalesce } from "../gpujsKernels.ts";
import {
  type Bound,
  baseOf,
  bindOperands,
  boundSignature,
  element,
  grid,
  type Launch,
  LaunchMemo,
  Params,
  viewOperand,
} from "./bindings.ts";
import type { GpuQueue } from "./gpuQueue.ts";
import { BINARY_WGSL, f32Literal, UNARY_WGSL, WHERE_WGSL } from "./wgslMath.ts";

export const WORKGROUP = 256;

/**
 * Lines that split the flat index `flat` (a u32) into coordinates c0 … c{r-1} of `shape`
 * (row-major; the last dim varies fastest), with the dims as parameters.
 */
export function coordinates(p: Params, shape: readonly number[], flat: string, prefix = "c"): string[] {
  const r = shape.length;
  if (r === 0) return [];
  if (r === 1) return [`let ${prefix}0 = ${flat};`];
  const lines = [`var ${prefix}_rest = ${flat};`];
  for (let d = r - 1; d > 0; d--) {
    const n = p.u(shape[d]);
    lines.push(`let ${prefix}${d} = ${prefix}_rest % ${n};`, `${prefix}_rest = ${prefix}_rest / ${n};`);
  }
  lines.push(`let ${prefix}0 = ${prefix}_rest;`);
  return lines;
}

/** base + Σ i32(c_d)·stride_d, with every stride a parameter. */
export function offsetExpr(p: Params, base: string, strides: readonly number[], prefix = "c"): string {
  return [base, ...strides.map((s, d) => `i32(${prefix}${d}) * ${p.i(s)}`)].join(" + ");
}

const isRowMajor = (shape: readonly number[], strides: readonly number[]) => {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (strides[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
};

/** The launch for `program` over `shape`, or undefined when its operands need more bindings than `maxBindings`. */
export function elementwiseLaunch(
  queue: GpuQueue,
  program: Program,
  inputs: readonly View[],
  shape: readonly number[],
  outputs: readonly View[],
  maxBindings: number,
): Launch | undefined {
  const views = [...inputs, ...outputs];
  const operands = [
    ...inputs.map((v, k) => viewOperand(v, `input ${k}`)),
    ...outputs.map((v, k) => viewOperand(v, `output ${k}`, true)),
  ];
  const bound = bindOperands(queue, operands, maxBindings);
  if (!bound) return undefined;
  const signature = `${programId(program)}|${shape}|${views.map((v) => `${v.strides}@${v.offset}`).join("|")}|${boundSignature(bound)}`;
  return memo.get(signature, bound, () => generate(queue, program, inputs, shape, outputs, bound));
}

const memo = new LaunchMemo();
const programIds = new WeakMap<Program, number>();
let programs = 0;
function programId(program: Program): number {
  let id = programIds.get(program);
  if (id === undefined) programIds.set(program, (id = programs++));
  return id;
}

function generate(
  queue: GpuQueue,
  program: Program,
  inputs: readonly View[],
  shape: readonly number[],
  outputs: readonly View[],
  bound: Bound,
): Launch {
  const n = shape.reduce((a, b) => a * b, 1);
  const views = [...inputs, ...outputs];
  const layout = coalesce(
    shape,
    views.map((v) => v.strides),
  );
  const p = new Params();
  const { groups, rowThreads } = grid(n, WORKGROUP, queue.gpu.limits.maxComputeWorkgroupsPerDimension);
  const lines = [`let i = gid.x + gid.y * ${p.u(rowThreads)};`, `if (i >= ${p.u(n)}) { return; }`];
  lines.push(...coordinates(p, layout.shape, "i"));
  const at = (k: number): string => {
    const strides = layout.strides[k];
    const base = baseOf(p, bound, k, views[k].offset);
    // A row-major operand is indexed by the flat index itself.
    return isRowMajor(layout.shape, strides) ? `${base} + i32(i)` : offsetExpr(p, base, strides);
  };
  const offsets = views.map((_, k) => {
    lines.push(`let o${k} = ${at(k)};`);
    return `o${k}`;
  });
  program.code.forEach((ins, r) => lines.push(`let r${r}: f32 = ${instruction(ins, bound, offsets)};`));
  program.outputs.forEach((reg, j) => {
    const k = inputs.length + j;
    lines.push(`${element(bound, k, offsets[k])} = r${reg};`);
  });
  const main = `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${lines.join("\n  ")}
}`;
  const ops = program.code.filter((c) => c.op !== "input" && c.op !== "const").length;
  return { params: p, bound, main, groups, label: ops <= 1 ? "elementwise" : "elementwise (fused)" };
}

function instruction(ins: Instruction, bound: Bound, offsets: readonly string[]): string {
  switch (ins.op) {
    case "input":
      return element(bound, ins.index, offsets[ins.index]);
    case "const":
      return f32Literal(ins.value);
    case "where":
      return WHERE_WGSL(`r${ins.cond}`, `r${ins.x}`, `r${ins.y}`);
    default:
      if ("y" in ins) return BINARY_WGSL[ins.op](`r${ins.x}`, `r${ins.y}`);
      return UNARY_WGSL[ins.op](`r${ins.x}`);
  }
}
