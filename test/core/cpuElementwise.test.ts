// The cpu backend's elementwise kernel (the wasm block interpreter) held to the reference backend:
// every op on random shapes, layouts (permuted, sliced, reversed, broadcast, offset) and special
// values; random programs (instruction DAGs) equal to the composition of their single ops, bit for
// bit, on one thread and on the pool; programs the interpreter cannot take fall back correctly.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BINARY_OPS, type Instruction, type Program, UNARY_OPS, type View } from "../../src/core/backend.ts";
import { cpuBackend as cpu } from "../../src/core/backends/cpu/cpuBackend.ts";
import { setElementwiseParallelThreshold } from "../../src/core/backends/cpu/elementwise.ts";
import { referenceBackend as ref } from "../../src/core/backends/reference.ts";
import { setCpuThreads } from "../../src/core/wasm/runtime.ts";
import {
  assertClose,
  contiguousLayout,
  layoutArb,
  layoutView,
  makeView,
  prng,
  readAll,
  SPECIALS,
  shapeArb,
  size,
  storageSize,
  ulp,
  values,
} from "./cpuHelpers.ts";

/** Float32 ulps each op may differ from the reference by (0: bit-exact); see src/core/wasm/simdMath.ts. */
const ULPS: Record<string, number> = {
  exp: 2,
  log: 2,
  sigmoid: 2,
  tanh: 3,
  erf: 4,
  gelu: 4,
  geluDerivative: 4,
  rsqrt: 1,
};

/** Runs `program` on both backends over the same layouts; returns both outputs' whole storages. */
function runBoth(
  program: Program,
  shape: number[],
  inLayouts: ReturnType<typeof contiguousLayout>[],
  outLayouts: ReturnType<typeof contiguousLayout>[],
  seed: number,
  specials: boolean,
) {
  const data = inLayouts.map((l, k) => values(storageSize(shape, l), seed + k, { specials }));
  const result = [ref, cpu].map((b) => {
    const inputs = inLayouts.map((l, k) => makeView(b, shape, l, data[k]));
    const outputs = outLayouts.map((l) => makeView(b, shape, l, new Float32Array(storageSize(shape, l)).fill(-777)));
    b.elementwise(program, inputs, shape, outputs);
    return {
      outputs: outputs.map((o) => readAll(b, o)),
      inputs: inputs.map((v) => ref.readSync({ ...v, storage: ref.upload(readAll(b, v), "float32") })),
    };
  });
  return { want: result[0].outputs, got: result[1].outputs, inputs: result[0].inputs };
}

const unary = (op: string): Program => ({
  code: [{ op: "input", index: 0 }, { op, x: 0 } as Instruction],
  outputs: [1],
});
const binary = (op: string): Program => ({
  code: [{ op: "input", index: 0 }, { op: "input", index: 1 }, { op, x: 0, y: 1 } as Instruction],
  outputs: [2],
});
const where: Program = {
  code: [
    { op: "input", index: 0 },
    { op: "input", index: 1 },
    { op: "input", index: 2 },
    { op: "where", cond: 0, x: 1, y: 2 },
  ],
  outputs: [3],
};

const ALL_OPS = [...UNARY_OPS, ...BINARY_OPS, "where"];
const programOf = (op: string) =>
  op === "where" ? where : (UNARY_OPS as readonly string[]).includes(op) ? unary(op) : binary(op);

describe("cpu elementwise", () => {
  it("every op agrees with the reference on every special value (and every pair of them)", () => {
    const specials = [...SPECIALS, 2.5, -2.5, 0.75, -0.75, 5, -5, 1e-8, -1e-8];
    const k = specials.length;
    for (const op of ALL_OPS) {
      const program = programOf(op);
      const arity = program.code.filter((i) => i.op === "input").length;
      // Every pair (x_i, y_j) as a k×k grid: x varies along dim 0, y along dim 1, the condition too.
      const shape = arity === 1 ? [k] : [k, k];
      const layouts = [0, 1, 2].map((a) => ({
        ...contiguousLayout(shape.length),
        broadcast: shape.map((_, d) => shape.length === 2 && d !== (a === 1 ? 1 : 0)),
      }));
      const data = new Float32Array(specials);
      const result = [ref, cpu].map((b) => {
        const ins = layouts.slice(0, arity).map((l) => makeView(b, shape, l, data));
        const out = makeView(b, shape, contiguousLayout(shape.length), new Float32Array(size(shape)));
        b.elementwise(program, ins, shape, [out]);
        return b.readSync(out);
      });
      const ulps = ULPS[op] ?? 0;
      assertClose(
        result[1],
        result[0],
        `${op} on special values`,
        ulps === 0 ? undefined : (_, w) => ulps * ulp(w) + (op === "geluDerivative" ? 2e-7 : 0),
      );
    }
  });

  for (const op of ALL_OPS)
    it(`${op} agrees with the reference within its stated ulps, on any layout`, () => {
      fc.assert(
        fc.property(
          fc.constant(op),
          shapeArb(4, 7).chain((shape) =>
            fc.tuple(
              fc.constant(shape),
              fc.array(layoutArb(shape.length, { broadcast: true }), { minLength: 3, maxLength: 3 }),
              layoutArb(shape.length),
            ),
          ),
          fc.integer(),
          fc.boolean(),
          fc.boolean(),
          (op, [shape, inL, outL], seed, specials, pooled) => {
            setElementwiseParallelThreshold(pooled ? 0 : undefined);
            const program = programOf(op);
            const arity = program.code.filter((i) => i.op === "input").length;
            const { want, got, inputs } = runBoth(program, shape, inL.slice(0, arity), [outL], seed, specials);
            const x = inputs[0];
            const n = size(shape);
            const outView = layoutView(cpu.alloc(1, "float32"), shape, outL);
            // Map each storage element of the output back to its input x (for the tolerances).
            const xAt = new Map<number, number>();
            const idx = new Array(shape.length).fill(0);
            for (let i = 0; i < n; i++) {
              let at = outView.offset;
              for (let d = 0; d < shape.length; d++) at += idx[d] * outView.strides[d];
              xAt.set(at, x[i]);
              for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
            }
            const ulps = ULPS[op] ?? 0;
            assertClose(
              got[0],
              want[0],
              `${op} ${JSON.stringify(shape)}`,
              ulps === 0
                ? undefined
                : (i, w) => {
                    const xi = xAt.get(i) ?? 0;
                    // The reference's own float64 error (1 + erf(x/√2) cancels for x ≪ 0), and gelu′'s zero crossing.
                    const floor = op === "gelu" ? 1e-15 * Math.abs(xi) : op === "geluDerivative" ? 2e-7 : 0;
                    return ulps * ulp(w) + floor;
                  },
            );
          },
        ),
        { numRuns: 25 },
      );
      setElementwiseParallelThreshold();
    });

  it("pow by a small integer constant (the float64 fast path) equals Math.pow rounded, ±0 and ±inf included", () => {
    for (const e of [0, 1, 2, 3, -1, -2, 5, 17, -33, 64]) {
      const program: Program = {
        code: [
          { op: "input", index: 0 },
          { op: "const", value: e },
          { op: "pow", x: 0, y: 1 },
        ],
        outputs: [2],
      };
      const { want, got } = runBoth(program, [301], [contiguousLayout(1)], [contiguousLayout(1)], e + 100, true);
      assertClose(got[0], want[0], `x^${e}`, (_, w) => ulp(w));
    }
  });

  it("a random program equals the composition of its single ops, bit for bit, on one thread and on the pool", () => {
    fc.assert(
      fc.property(
        fc.oneof(shapeArb(4, 6, 1), fc.constant([37, 71]), fc.constant([3, 1030])).map((s) => [...s]),
        fc.integer({ min: 1, max: 3 }),
        fc.integer(),
        fc.boolean(),
        (shape, nInputs, seed, specials) => {
          const rand = prng(seed);
          const program = randomProgram(rand, nInputs);
          const inL = Array.from({ length: nInputs }, () => randomLayout(rand, shape.length, true));
          const outL = program.outputs.map(() => randomLayout(rand, shape.length, false));
          const data = inL.map((l, k) => values(storageSize(shape, l), seed + k, { specials }));
          const inputs = inL.map((l, k) => makeView(cpu, shape, l, data[k]));
          const run = (threads: number) => {
            setCpuThreads(threads);
            setElementwiseParallelThreshold(threads === 1 ? undefined : 0);
            const outs = outL.map((l) => makeView(cpu, shape, l, new Float32Array(storageSize(shape, l)).fill(-777)));
            cpu.elementwise(program, inputs, shape, outs);
            return outs.map((o) => cpu.readSync(o));
          };
          const one = run(1);
          const pooled = run(2);
          setCpuThreads(2);
          setElementwiseParallelThreshold();
          const composed = compose(
            program,
            inputs.map((v) => cpu.readSync(v) as Float32Array),
            shape,
          );
          program.outputs.forEach((r, j) => {
            assertClose(one[j], composed[r], `output ${j} (register ${r}) of ${JSON.stringify(program.code)}`);
            assertClose(pooled[j], one[j], `pooled output ${j}`);
          });
        },
      ),
      { numRuns: 120 },
    );
  });

  it("falls back to the reference loops for programs too long for the interpreter, and rank > 8 after merging", () => {
    // 300 instructions: x + 1 + 1 + … (past MAX_CODE = 256)
    const code: Instruction[] = [
      { op: "input", index: 0 },
      { op: "const", value: 1 },
    ];
    for (let i = 0; i < 300; i++) code.push({ op: "add", x: code.length - 1 === 1 ? 0 : code.length - 1, y: 1 });
    const long: Program = { code, outputs: [code.length - 1] };
    const r1 = runBoth(long, [50], [contiguousLayout(1)], [contiguousLayout(1)], 1, false);
    assertClose(r1.got[0], r1.want[0], "long program");
    // A rank-9 transpose: no two dims merge.
    const shape = [2, 2, 2, 2, 2, 2, 2, 2, 2];
    const l = { ...contiguousLayout(9), perm: [8, 7, 6, 5, 4, 3, 2, 1, 0] };
    const r2 = runBoth(unary("exp"), shape, [l], [contiguousLayout(9)], 2, false);
    assertClose(r2.got[0], r2.want[0], "rank 9", (_, w) => 2 * ulp(w));
  });

  it("writes nothing for a size-0 shape and handles rank 0", () => {
    const { want, got } = runBoth(
      binary("mul"),
      [],
      [contiguousLayout(0), contiguousLayout(0)],
      [contiguousLayout(0)],
      3,
      false,
    );
    assertClose(got[0], want[0], "rank 0");
    const z = runBoth(unary("exp"), [3, 0, 2], [contiguousLayout(3)], [contiguousLayout(3)], 4, false);
    assertClose(z.got[0], z.want[0], "size 0");
  });

  it("rejects a program that reads a later register or a missing input, naming it", () => {
    const x = cpu.upload([1, 2], "float32");
    const v: View = { storage: x, shape: [2], strides: [1], offset: 0 };
    const bad: Program = {
      code: [
        { op: "input", index: 0 },
        { op: "neg", x: 1 },
      ],
      outputs: [1],
    };
    assert.throws(() => cpu.elementwise(bad, [v], [2], [v]), /instruction 1 reads register 1/);
    const missing: Program = { code: [{ op: "input", index: 3 }], outputs: [0] };
    assert.throws(() => cpu.elementwise(missing, [v], [2], [v]), /reads input 3 of 1/);
  });
});

const CONSTS = [0, 1, -1, 2, 3, 0.5, -2.5, 1e-3, 1e4];

/** A random straight-line program over nInputs inputs: 1..30 ops of every kind, 1..3 outputs. */
function randomProgram(rand: () => number, nInputs: number): Program {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const code: Instruction[] = Array.from({ length: nInputs }, (_, index) => ({ op: "input", index }));
  const ops = 1 + Math.floor(rand() * 30);
  for (let i = 0; i < ops; i++) {
    const reg = () => Math.floor(rand() * code.length);
    const r = rand();
    if (r < 0.1) code.push({ op: "const", value: pick(CONSTS) });
    else if (r < 0.5) code.push({ op: pick(UNARY_OPS), x: reg() });
    else if (r < 0.9) code.push({ op: pick(BINARY_OPS), x: reg(), y: reg() });
    else code.push({ op: "where", cond: reg(), x: reg(), y: reg() });
  }
  const outputs = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => Math.floor(rand() * code.length));
  return { code, outputs };
}

function randomLayout(rand: () => number, rank: number, broadcast: boolean) {
  const l = contiguousLayout(rank);
  const ids = l.perm;
  for (let i = rank - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  for (let d = 0; d < rank; d++) {
    l.reversed[d] = rand() < 0.2;
    l.step[d] = rand() < 0.2 ? 2 : 1;
    l.pad[d] = rand() < 0.2 ? 1 : 0;
    l.broadcast[d] = broadcast && rand() < 0.2;
  }
  l.offset = Math.floor(rand() * 3);
  return l;
}

/** Each register's values over the shape, computed one instruction at a time by the cpu backend itself. */
function compose(program: Program, inputs: Float32Array[], shape: number[]): Float32Array[] {
  const n = size(shape);
  const regs: Float32Array[] = [];
  const flat = (a: Float32Array): View => ({ storage: cpu.upload(a, "float32"), shape: [n], strides: [1], offset: 0 });
  program.code.forEach((ins, i) => {
    if (ins.op === "input") regs[i] = inputs[ins.index];
    else if (ins.op === "const") regs[i] = new Float32Array(n).fill(ins.value);
    else {
      // The op alone, its constant operands kept constant (so pow keeps its integer fast path).
      const operands = ins.op === "where" ? [ins.cond, ins.x, ins.y] : "y" in ins ? [ins.x, ins.y] : [ins.x];
      const code: Instruction[] = [];
      const views: View[] = [];
      const at = operands.map((r) => {
        const c = program.code[r];
        if (c.op === "const") code.push({ op: "const", value: c.value });
        else code.push({ op: "input", index: views.push(flat(regs[r])) - 1 });
        return code.length - 1;
      });
      if (ins.op === "where") code.push({ op: "where", cond: at[0], x: at[1], y: at[2] });
      else if ("y" in ins) code.push({ op: ins.op, x: at[0], y: at[1] });
      else code.push({ op: ins.op, x: at[0] });
      const out = flat(new Float32Array(n));
      cpu.elementwise({ code, outputs: [code.length - 1] }, views, [n], [out]);
      regs[i] = cpu.readSync(out) as Float32Array;
    }
  });
  return regs;
}
