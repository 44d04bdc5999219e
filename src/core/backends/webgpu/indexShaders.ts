// Indexing kernels in WGSL: gather (takeAlongAxis), scatterAdd, argsort and argmax along an axis
// of strided views, one invocation per output element.
//
// - gather checks each index on the GPU: a bad one (not an integer in [0, n)) is recorded in the
//   error word (kernelErrors.ts: the next read throws the reference's RangeError) and gives NaN.
// - scatterAdd has no float atomics to lean on (WGSL has none), so each output element scans the
//   index line that may point at it and adds the matching source values in index order: the same
//   additions in the same order as the reference loop, so the result is deterministic and equal to
//   it. The scan costs (index line length) reads per output: fine for MAE's lines (≤ 197).
// - argsort ranks each element by counting the elements that sort before it (NaN last, ties by
//   position: a stable sort) and writes its position at its rank: O(n²) per line of n, parallel
//   over every element — right for MAE's noise lines (L ≤ 197 patches), slow for very long lines.
// - argmax scans its line: the first maximum, or the first NaN.

import type { View, Target } from "../../backend.ts";
import { baseOf, bindOperands, element, grid, launch, Params, targetOperand, viewOperand } from "./bindings.ts";
import { coordinates } from "./elementwiseShader.ts";
import type { GpuQueue } from "./gpuQueue.ts";
import { ERROR_CODES } from "./kernelErrors.ts";
import { WGSL_MATH } from "./wgslMath.ts";

const WG = 256;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Σ i32(c_d)·stride_d over the dims, with dim `axis` replaced by `along` (an i32 expression). */
function offsetAlong(p: Params, base: string, strides: readonly number[], axis: number, along: string): string {
  return [base, ...strides.map((s, d) => (d === axis ? `(${along}) * ${p.i(s)}` : `i32(c${d}) * ${p.i(s)}`))].join(
    " + ",
  );
}

/** A one-invocation-per-element kernel over `n` elements; `body` lines run with index `i` and coordinates c0…. */
function perElement(
  queue: GpuQueue,
  p: Params,
  n: number,
  shape: readonly number[],
  body: (lines: string[]) => void,
): { main: string; groups: [number, number] } {
  const { groups, rowThreads } = grid(n, WG, queue.gpu.limits.maxComputeWorkgroupsPerDimension);
  const lines = [`let i = gid.x + gid.y * ${p.u(rowThreads)};`, `if (i >= ${p.u(n)}) { return; }`];
  lines.push(...coordinates(p, shape, "i"));
  body(lines);
  return {
    groups,
    main: `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${lines.join("\n  ")}
}`,
  };
}

/** WGSL: whether `v` is an integer index in [0, n). */
const validIndex = (v: string, n: string) => `(${v} >= 0.0 && ${v} < f32(${n}) && floor(${v}) == ${v})`;

export function gather(queue: GpuQueue, x: View, index: View, axis: number, out: Target): void {
  const n = size(index.shape);
  if (n === 0) return;
  const bound = bindOperands(
    queue,
    [
      viewOperand(x, "takeAlongAxis input"),
      viewOperand(index, "takeAlongAxis index"),
      targetOperand(out, n, "takeAlongAxis output"),
    ],
    7,
  )!;
  const p = new Params();
  const { main, groups } = perElement(queue, p, n, index.shape, (lines) => {
    const nx = p.u(x.shape[axis]);
    lines.push(
      `let v = ${element(bound, 1, offsetAlong(p, baseOf(p, bound, 1, index.offset), index.strides, -1, ""))};`,
      `let at = ${baseOf(p, bound, 2, out.offset)} + i32(i);`,
      `if (!${validIndex("v", nx)}) {`,
      `  report(${ERROR_CODES.takeAlongAxis}u, v, ${p.u(axis)}, ${nx});`,
      `  ${element(bound, 2, "at")} = f32_bits(0x7fc00000u);`,
      "  return;",
      "}",
      `${element(bound, 2, "at")} = ${element(bound, 0, offsetAlong(p, baseOf(p, bound, 0, x.offset), x.strides, axis, "i32(v)"))};`,
    );
  });
  launch(queue, { params: p, bound, main, groups, label: "gather", reportsErrors: true }, WGSL_MATH);
}

export function scatterAdd(queue: GpuQueue, base: View, index: View, src: View, axis: number, out: Target): void {
  const n = size(base.shape);
  const ni = index.shape[axis];
  checkIndices(queue, index, axis, base.shape[axis]);
  if (n === 0) return;
  const bound = bindOperands(
    queue,
    [
      viewOperand(base, "scatterAdd base"),
      viewOperand(index, "scatterAdd index"),
      viewOperand(src, "scatterAdd source"),
      targetOperand(out, n, "scatterAdd output"),
    ],
    8,
  )!;
  const p = new Params();
  const { main, groups } = perElement(queue, p, n, base.shape, (lines) => {
    const baseIndex = baseOf(p, bound, 1, index.offset);
    const baseSrc = baseOf(p, bound, 2, src.offset);
    lines.push(
      `var acc = ${element(bound, 0, offsetAlong(p, baseOf(p, bound, 0, base.offset), base.strides, -1, ""))};`,
      `let j = f32(c${axis});`,
      `for (var k = 0u; k < ${p.u(ni)}; k++) {`,
      `  if (${element(bound, 1, offsetAlong(p, baseIndex, index.strides, axis, "i32(k)"))} == j) {`,
      `    acc = acc + ${element(bound, 2, offsetAlong(p, baseSrc, src.strides, axis, "i32(k)"))};`,
      "  }",
      "}",
      `${element(bound, 3, `${baseOf(p, bound, 3, out.offset)} + i32(i)`)} = acc;`,
    );
  });
  launch(queue, { params: p, bound, main, groups, label: "scatterAdd" }, WGSL_MATH);
}

/** Records the first index that is not an integer in [0, n) (scatterAdd reads indices only by comparison). */
function checkIndices(queue: GpuQueue, index: View, axis: number, n: number): void {
  const count = size(index.shape);
  if (count === 0) return;
  const bound = bindOperands(queue, [viewOperand(index, "scatterAdd index")], 7)!;
  const p = new Params();
  const { main, groups } = perElement(queue, p, count, index.shape, (lines) => {
    const nn = p.u(n);
    lines.push(
      `let v = ${element(bound, 0, offsetAlong(p, baseOf(p, bound, 0, index.offset), index.strides, -1, ""))};`,
      `if (!${validIndex("v", nn)}) { report(${ERROR_CODES.scatterAdd}u, v, ${p.u(axis)}, ${nn}); }`,
    );
  });
  launch(queue, { params: p, bound, main, groups, label: "scatterAdd", reportsErrors: true }, WGSL_MATH);
}

export function argsort(queue: GpuQueue, x: View, axis: number, descending: boolean, out: Target): void {
  const n = size(x.shape);
  if (n === 0) return;
  const bound = bindOperands(queue, [viewOperand(x, "argsort input"), targetOperand(out, n, "argsort output")], 8)!;
  const outStrides = x.shape.map((_, d) => size(x.shape.slice(d + 1)));
  const p = new Params();
  const { main, groups } = perElement(queue, p, n, x.shape, (lines) => {
    const bx = baseOf(p, bound, 0, x.offset);
    const sign = p.f(descending ? -1 : 1);
    lines.push(
      `let me = c${axis};`,
      `let v = ${element(bound, 0, offsetAlong(p, bx, x.strides, -1, ""))};`,
      "let vNan = is_nan(v);",
      `let key = v * ${sign};`,
      "var rank = 0u;",
      `for (var k = 0u; k < ${p.u(x.shape[axis])}; k++) {`,
      `  let w = ${element(bound, 0, offsetAlong(p, bx, x.strides, axis, "i32(k)"))};`,
      "  let wNan = is_nan(w);",
      `  let wKey = w * ${sign};`,
      "  var before = false;",
      "  if (wNan != vNan) { before = vNan; }",
      "  else if (wNan) { before = k < me; }",
      "  else { before = wKey < key || (wKey == key && k < me); }",
      "  rank += select(0u, 1u, before);",
      "}",
      `${element(bound, 1, offsetAlong(p, baseOf(p, bound, 1, out.offset), outStrides, axis, "i32(rank)"))} = f32(me);`,
    );
  });
  launch(queue, { params: p, bound, main, groups, label: "argsort" }, WGSL_MATH);
}

export function argmax(queue: GpuQueue, x: View, axis: number, out: Target): void {
  const outShape = x.shape.filter((_, d) => d !== axis);
  const n = size(outShape);
  if (n === 0) return;
  const bound = bindOperands(queue, [viewOperand(x, "argmax input"), targetOperand(out, n, "argmax output")], 8)!;
  const strides = x.strides.filter((_, d) => d !== axis);
  const p = new Params();
  const { main, groups } = perElement(queue, p, n, outShape, (lines) => {
    const line = [baseOf(p, bound, 0, x.offset), ...strides.map((s, d) => `i32(c${d}) * ${p.i(s)}`)].join(" + ");
    const step = p.i(x.strides[axis]);
    lines.push(
      `let line = ${line};`,
      "var best = 0u;",
      `var b = ${element(bound, 0, "line")};`,
      `for (var k = 1u; k < ${p.u(x.shape[axis])}; k++) {`,
      "  if (is_nan(b)) { break; }",
      `  let v = ${element(bound, 0, `line + i32(k) * ${step}`)};`,
      "  if (v > b || is_nan(v)) { best = k; b = v; }",
      "}",
      `${element(bound, 1, `${baseOf(p, bound, 1, out.offset)} + i32(i)`)} = f32(best);`,
    );
  });
  launch(queue, { params: p, bound, main, groups, label: "argmax" }, WGSL_MATH);
}
