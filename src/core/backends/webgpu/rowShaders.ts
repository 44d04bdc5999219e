// The fused row kernels in WGSL — softmax, layer norm and their backward passes — over the last
// axis of a strided view, one workgroup of 64 invocations per row: each invocation folds a strided
// share of the row, the workgroup combines the shares as a tree in workgroup memory, and every
// invocation then writes its share of the outputs. The weight and bias gradients of layer norm sum
// over rows instead: one invocation per column walks a chunk of rows (neighbouring invocations read
// neighbouring columns), and the chunks' sums are added by the reduce kernel.
// Semantics follow hostKernels.ts: softmax's max ignores NaN (a NaN or +inf in a row makes it NaN;
// a row of -inf is NaN, 0/0), layer norm's variance is the biased two-pass one.

import type { Target, View } from "../../backend.ts";
import { coalesce } from "../gpujsKernels.ts";
import {
  baseOf,
  bindOperands,
  type Bound,
  element,
  grid,
  launch,
  LaunchMemo,
  launchMemoized,
  signatureOf,
  Params,
  targetOperand,
  viewOperand,
} from "./bindings.ts";
import { coordinates, elementwiseLaunch, offsetExpr } from "./elementwiseShader.ts";
import type { GpuQueue } from "./gpuQueue.ts";
import { reduce } from "./reduceShader.ts";
import { WGSL_MATH } from "./wgslMath.ts";

const memo = new LaunchMemo();
const WG = 64;
/** Rows of the weight/bias gradient are cut into at most this many chunks (then summed by reduce). */
const COLUMN_CHUNKS = 32;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Workgroup sums and maxima of one value per invocation (call in uniform control flow). */
const ROW_COMBINE = `var<workgroup> tree: array<f32, ${WG}>;
fn row_sum(v: f32, li: u32) -> f32 {
  workgroupBarrier();
  tree[li] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (li < s) { tree[li] = tree[li] + tree[li + s]; }
    workgroupBarrier();
  }
  return tree[0];
}
// The largest value, NaN ignored (the reference's \`if (v > m) m = v\`).
fn row_max(v: f32, li: u32) -> f32 {
  workgroupBarrier();
  tree[li] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (li < s && tree[li + s] > tree[li]) { tree[li] = tree[li + s]; }
    workgroupBarrier();
  }
  return tree[0];
}`;

const ROW_HELPERS = [WGSL_MATH, ROW_COMBINE].join("\n");

/** A row operand: leading dims (coalesced) and the stride along the row. */
interface Rows {
  readonly rows: number;
  readonly d: number;
}

/**
 * Lines that find row `row`'s start in view k (its leading coordinates as `prefix`0…); `perRow`
 * views (layer norm's mean and rstd) have one element per row, so all their dims lead.
 */
function rowStart(p: Params, bound: Bound, k: number, v: View, prefix: string, perRow = false): string[] {
  const lead = perRow ? coalesce(v.shape, [v.strides]) : coalesce(v.shape.slice(0, -1), [v.strides.slice(0, -1)]);
  return [
    ...coordinates(p, lead.shape, "row", prefix),
    `let ${prefix}Start = ${offsetExpr(p, baseOf(p, bound, k, v.offset), lead.strides[0], prefix)};`,
  ];
}

/** The kernel over rows: one workgroup per row; `body` runs with `row`, `li`, `d` in scope. */
function rowKernel(queue: GpuQueue, p: Params, r: Rows, body: string[]): { main: string; groups: [number, number] } {
  const { groups, rowThreads } = grid(r.rows, 1, queue.gpu.limits.maxComputeWorkgroupsPerDimension);
  const lines = [
    `let row = wid.x + wid.y * ${p.u(rowThreads)};`,
    `let live = row < ${p.u(r.rows)};`,
    `let d = ${p.u(r.d)};`,
    ...body,
  ];
  return {
    groups,
    main: `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${lines.join("\n  ")}
}`,
  };
}

const rowsOf = (v: View): Rows => {
  const d = v.shape[v.shape.length - 1];
  return { d, rows: d === 0 ? 0 : size(v.shape) / d };
};

/** `for (j = li; j < d; j += WG) { … }`, only on live rows (reads stay in bounds). */
const each = (...inner: string[]) => [
  `if (live) { for (var j = li; j < d; j += ${WG}u) {`,
  ...inner.map((s) => `  ${s}`),
  "} }",
];

export function softmax(queue: GpuQueue, x: View, out: Target): void {
  const r = rowsOf(x);
  if (r.rows === 0) return;
  const n = r.rows * r.d;
  const bound = bindOperands(queue, [viewOperand(x, "softmax input"), targetOperand(out, n, "softmax output")], 8)!;
  launchMemoized(queue, memo, signatureOf("softmax", x, out), bound, ROW_HELPERS, () => {
    const p = new Params();
    const sx = p.i(x.strides[x.shape.length - 1]);
    const xj = element(bound, 0, `xStart + i32(j) * ${sx}`);
    const outAt = `${baseOf(p, bound, 1, out.offset)} + i32(row * d + j)`;
    const { main, groups } = rowKernel(queue, p, r, [
      ...rowStart(p, bound, 0, x, "x"),
      `var m = -f32_bits(0x7f800000u);`,
      ...each(`let v = ${xj};`, "if (v > m) { m = v; }"),
      "m = row_max(m, li);",
      "if (m == -f32_bits(0x7f800000u)) { m = 0.0; }",
      "var s = 0.0;",
      ...each(`s = s + f_exp(${xj} - m);`),
      "s = row_sum(s, li);",
      ...each(`${element(bound, 1, outAt)} = f_exp(${xj} - m) / s;`),
    ]);
    return { params: p, bound, main, groups, label: "softmax" };
  });
}

export function softmaxBackward(queue: GpuQueue, y: View, dy: View, out: Target): void {
  const r = rowsOf(y);
  if (r.rows === 0) return;
  const n = r.rows * r.d;
  const bound = bindOperands(
    queue,
    [
      viewOperand(y, "softmaxBackward y"),
      viewOperand(dy, "softmaxBackward dy"),
      targetOperand(out, n, "softmaxBackward output"),
    ],
    8,
  )!;
  launchMemoized(queue, memo, signatureOf("softmaxBackward", y, dy, out), bound, ROW_HELPERS, () => {
    const p = new Params();
    const yj = element(bound, 0, `yStart + i32(j) * ${p.i(y.strides[y.shape.length - 1])}`);
    const gj = element(bound, 1, `gStart + i32(j) * ${p.i(dy.strides[dy.shape.length - 1])}`);
    const { main, groups } = rowKernel(queue, p, r, [
      ...rowStart(p, bound, 0, y, "y"),
      ...rowStart(p, bound, 1, dy, "g"),
      "var dot = 0.0;",
      ...each(`dot = dot + ${gj} * ${yj};`),
      "dot = row_sum(dot, li);",
      ...each(`${element(bound, 2, `${baseOf(p, bound, 2, out.offset)} + i32(row * d + j)`)} = ${yj} * (${gj} - dot);`),
    ]);
    return { params: p, bound, main, groups, label: "softmaxBackward" };
  });
}

export function layerNorm(
  queue: GpuQueue,
  x: View,
  weight: View,
  bias: View,
  eps: number,
  out: Target,
  mean: Target,
  rstd: Target,
): void {
  const r = rowsOf(x);
  if (r.rows === 0) {
    // Rows of no elements: the reference writes nothing, and its fresh arrays hold zeros; so do these.
    const rows = size(x.shape.slice(0, -1));
    for (const t of [mean, rstd]) fill(queue, t, rows, 0);
    return;
  }
  const bound = bindOperands(
    queue,
    [
      viewOperand(x, "layerNorm input"),
      viewOperand(weight, "layerNorm weight"),
      viewOperand(bias, "layerNorm bias"),
      targetOperand(out, r.rows * r.d, "layerNorm output"),
      targetOperand(mean, r.rows, "layerNorm mean"),
      targetOperand(rstd, r.rows, "layerNorm rstd"),
    ],
    8,
  )!;
  launchMemoized(
    queue,
    memo,
    signatureOf("layerNorm", x, weight, bias, eps, out, mean, rstd),
    bound,
    ROW_HELPERS,
    () => {
      const p = new Params();
      const xj = element(bound, 0, `xStart + i32(j) * ${p.i(x.strides[x.shape.length - 1])}`);
      const wj = element(bound, 1, `${baseOf(p, bound, 1, weight.offset)} + i32(j) * ${p.i(weight.strides[0])}`);
      const bj = element(bound, 2, `${baseOf(p, bound, 2, bias.offset)} + i32(j) * ${p.i(bias.strides[0])}`);
      const { main, groups } = rowKernel(queue, p, r, [
        ...rowStart(p, bound, 0, x, "x"),
        "var s = 0.0;",
        ...each(`s = s + ${xj};`),
        "let mu = row_sum(s, li) / f32(d);",
        "var q = 0.0;",
        ...each(`let c = ${xj} - mu;`, "q = q + c * c;"),
        `let rs = 1.0 / sqrt(row_sum(q, li) / f32(d) + ${p.f(eps)});`,
        `if (live && li == 0u) {`,
        `  ${element(bound, 4, `${baseOf(p, bound, 4, mean.offset)} + i32(row)`)} = mu;`,
        `  ${element(bound, 5, `${baseOf(p, bound, 5, rstd.offset)} + i32(row)`)} = rs;`,
        "}",
        ...each(
          `${element(bound, 3, `${baseOf(p, bound, 3, out.offset)} + i32(row * d + j)`)} = (${xj} - mu) * rs * ${wj} + ${bj};`,
        ),
      ]);
      return { params: p, bound, main, groups, label: "layerNorm" };
    },
  );
}

export function layerNormBackward(
  queue: GpuQueue,
  dy: View,
  x: View,
  weight: View,
  mean: View,
  rstd: View,
  dx: Target | null,
  dweight: Target | null,
  dbias: Target | null,
): void {
  const r = rowsOf(x);
  if (dx && r.rows > 0) layerNormInputGrad(queue, dy, x, weight, mean, rstd, dx, r);
  if (dweight || dbias) layerNormParamGrads(queue, dy, x, mean, rstd, dweight, dbias, r);
}

/** dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w, per row. */
function layerNormInputGrad(
  queue: GpuQueue,
  dy: View,
  x: View,
  weight: View,
  mean: View,
  rstd: View,
  dx: Target,
  r: Rows,
): void {
  const bound = bindOperands(
    queue,
    [
      viewOperand(dy, "layerNormBackward dy"),
      viewOperand(x, "layerNormBackward x"),
      viewOperand(weight, "layerNormBackward weight"),
      viewOperand(mean, "layerNormBackward mean"),
      viewOperand(rstd, "layerNormBackward rstd"),
      targetOperand(dx, r.rows * r.d, "layerNormBackward dx"),
    ],
    8,
  )!;
  launchMemoized(
    queue,
    memo,
    signatureOf("layerNormInputGrad", dy, x, weight, mean, rstd, dx),
    bound,
    ROW_HELPERS,
    () => {
      const p = new Params();
      const last = (v: View) => p.i(v.strides[v.shape.length - 1]);
      const gj = element(bound, 0, `gStart + i32(j) * ${last(dy)}`);
      const xj = element(bound, 1, `xStart + i32(j) * ${last(x)}`);
      const wj = element(bound, 2, `${baseOf(p, bound, 2, weight.offset)} + i32(j) * ${p.i(weight.strides[0])}`);
      const { main, groups } = rowKernel(queue, p, r, [
        ...rowStart(p, bound, 0, dy, "g"),
        ...rowStart(p, bound, 1, x, "x"),
        ...rowStart(p, bound, 3, mean, "m", true),
        ...rowStart(p, bound, 4, rstd, "r", true),
        `let mu = ${element(bound, 3, "mStart")};`,
        `let rs = ${element(bound, 4, "rStart")};`,
        "var sg = 0.0;",
        "var sgx = 0.0;",
        ...each(`let g = ${gj} * ${wj};`, "sg = sg + g;", `sgx = sgx + g * (${xj} - mu) * rs;`),
        "let meanG = row_sum(sg, li) / f32(d);",
        "let meanGX = row_sum(sgx, li) / f32(d);",
        ...each(
          `${element(bound, 5, `${baseOf(p, bound, 5, dx.offset)} + i32(row * d + j)`)} = rs * (${gj} * ${wj} - meanG - (${xj} - mu) * rs * meanGX);`,
        ),
      ]);
      return { params: p, bound, main, groups, label: "layerNormBackward" };
    },
  );
}

/** dw = Σ dy·x̂ and db = Σ dy over rows: per column and chunk of rows, then the chunks summed. */
function layerNormParamGrads(
  queue: GpuQueue,
  dy: View,
  x: View,
  mean: View,
  rstd: View,
  dweight: Target | null,
  dbias: Target | null,
  r: Rows,
): void {
  const chunks = Math.max(1, Math.min(COLUMN_CHUNKS, r.rows));
  const per = Math.ceil(r.rows / chunks);
  const backend = (dweight ?? dbias)!.storage.backend;
  const partial = queue.alloc(backend, Math.max(1, 2 * chunks * r.d));
  if (r.d > 0) {
    const bound = bindOperands(
      queue,
      [
        viewOperand(dy, "layerNormBackward dy"),
        viewOperand(x, "layerNormBackward x"),
        viewOperand(mean, "layerNormBackward mean"),
        viewOperand(rstd, "layerNormBackward rstd"),
        { storage: partial, lo: 0, hi: 2 * chunks * r.d, write: true },
      ],
      8,
    )!;
    const p = new Params();
    const lead = (v: View) => coalesce(v.shape.slice(0, -1), [v.strides.slice(0, -1)]);
    const [ld, lx] = [lead(dy), lead(x)];
    const [lm, lr] = [coalesce(mean.shape, [mean.strides]), coalesce(rstd.shape, [rstd.strides])];
    const lines = [
      `let col = gid.x;`,
      `let chunk = gid.y;`,
      `if (col >= ${p.u(r.d)}) { return; }`,
      "var sw = 0.0;",
      "var sb = 0.0;",
      `let first = chunk * ${p.u(per)};`,
      `let stop = min(first + ${p.u(per)}, ${p.u(r.rows)});`,
      "for (var row = first; row < stop; row++) {",
      ...[
        ...coordinates(p, ld.shape, "row", "g"),
        ...coordinates(p, lx.shape, "row", "x"),
        ...coordinates(p, lm.shape, "row", "m"),
        ...coordinates(p, lr.shape, "row", "r"),
        `let g = ${element(bound, 0, `${offsetExpr(p, baseOf(p, bound, 0, dy.offset), ld.strides[0], "g")} + i32(col) * ${p.i(dy.strides[dy.shape.length - 1])}`)};`,
        `let xv = ${element(bound, 1, `${offsetExpr(p, baseOf(p, bound, 1, x.offset), lx.strides[0], "x")} + i32(col) * ${p.i(x.strides[x.shape.length - 1])}`)};`,
        `let mu = ${element(bound, 2, offsetExpr(p, baseOf(p, bound, 2, mean.offset), lm.strides[0], "m"))};`,
        `let rs = ${element(bound, 3, offsetExpr(p, baseOf(p, bound, 3, rstd.offset), lr.strides[0], "r"))};`,
        "sw = sw + g * (xv - mu) * rs;",
        "sb = sb + g;",
      ].map((s) => `  ${s}`),
      "}",
      `let at = ${baseOf(p, bound, 4, 0)} + i32(chunk * ${p.u(r.d)} + col);`,
      `${element(bound, 4, "at")} = sw;`,
      `${element(bound, 4, `at + ${p.i(chunks * r.d)}`)} = sb;`,
    ];
    const main = `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${lines.join("\n  ")}
}`;
    launch(
      queue,
      { params: p, bound, main, groups: [Math.ceil(r.d / WG), chunks], label: "layerNormBackward" },
      WGSL_MATH,
    );
  }
  const sums = (at: number, t: Target) =>
    reduce(queue, "sum", { storage: partial, shape: [chunks, r.d], strides: [r.d, 1], offset: at }, [0], t);
  if (dweight) sums(0, dweight);
  if (dbias) sums(chunks * r.d, dbias);
  queue.free(partial);
}

/** Writes `value` to n elements at the target. */
function fill(queue: GpuQueue, t: Target, n: number, value: number): void {
  if (n === 0) return;
  const program = { code: [{ op: "const", value }], outputs: [0] } as const;
  const view = { storage: t.storage, shape: [n], strides: [1], offset: t.offset };
  launch(queue, elementwiseLaunch(queue, program, [], [n], [view], 8)!, WGSL_MATH);
}
