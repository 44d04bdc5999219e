// The operands of test/helpers/backendConformance.ts: random strided views made alike on a backend
// and on the reference (shapes with odd and size-0 dims; permuted, reversed, stepped, broadcast
// strides; leading slack; NaN, ±Infinity and ±0 among the values), random elementwise programs, and
// the comparison. No Node import: a browser page runs them too.

import fc from "fast-check";
import {
  BINARY_OPS,
  getBackend,
  UNARY_OPS,
  type Backend,
  type Instruction,
  type Program,
  type Target,
  type View,
} from "../../src/core/backend.ts";
import "../../src/core/backends/reference.ts";

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** How a view lies in its storage: dim order in memory, a step per dim (2: every other, -1: reversed), broadcast dims, leading slack. */
export interface Layout {
  order: number[];
  steps: number[];
  broadcast: boolean[];
  lead: number;
}

export const dimArb = fc.constantFrom(0, 1, 2, 3, 7, 17);
export const shapeArb = (minRank: number, maxRank: number, dims = dimArb) =>
  fc.array(dims, { minLength: minRank, maxLength: maxRank });
export const layoutArb = (rank: number, broadcast = true): fc.Arbitrary<Layout> =>
  fc.record({
    order: fc.shuffledSubarray([...Array(rank).keys()], { minLength: rank, maxLength: rank }),
    steps: fc.array(fc.constantFrom(1, 1, 2, -1), { minLength: rank, maxLength: rank }),
    broadcast: fc.array(broadcast ? fc.boolean() : fc.constant(false), { minLength: rank, maxLength: rank }),
    lead: fc.integer({ min: 0, max: 3 }),
  });

/** Values: mostly uniform in [-3, 3], some integers, and NaN, ±Infinity and ±0 sprinkled in when `specials`. */
export type Fill = (random: () => number) => number;
const SPECIALS = [NaN, Infinity, -Infinity, 0, -0];
export const values =
  (specials = true, scale = 3): Fill =>
  (random) => {
    const u = random();
    if (specials && u < 0.06) return SPECIALS[Math.floor(random() * SPECIALS.length)];
    return u < 0.2 ? Math.round(random() * 2 * scale - scale) : random() * 2 * scale - scale;
  };
export const integersBelow =
  (n: number): Fill =>
  (random) =>
    Math.floor(random() * n);

/** A small seeded generator (mulberry32), so fast-check shrinks seeds and shapes rather than long arrays. */
export function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The same random view on two backends: the one under test and the reference. */
export interface Pair {
  test: View;
  ref: View;
}

/** A view of `shape` laid out per `layout` in fresh storage filled from `seed` (unreached slots too). */
export function viewPair(
  be: Backend,
  shape: readonly number[],
  layout: Layout,
  seed: number,
  fill: Fill = values(),
): Pair {
  const extent = shape.map((n, d) => (layout.broadcast[d] ? 1 : n * Math.abs(layout.steps[d])));
  const physical = new Array<number>(shape.length);
  let acc = 1;
  for (let k = layout.order.length - 1; k >= 0; k--) {
    physical[layout.order[k]] = acc;
    acc *= extent[layout.order[k]];
  }
  let offset = layout.lead;
  const strides = shape.map((n, d) => {
    if (layout.broadcast[d]) return 0;
    const s = physical[d] * layout.steps[d];
    if (s < 0) offset += (n - 1) * -s;
    return s;
  });
  const random = generator(seed);
  const data = Float32Array.from({ length: layout.lead + acc + 2 }, () => fill(random));
  const ref = getBackend("reference");
  return {
    test: { storage: be.upload(data, "float32"), shape, strides, offset },
    ref: { storage: ref.upload(data, "float32"), shape, strides, offset },
  };
}

export const viewArb = (minRank: number, maxRank: number, broadcast = true) =>
  shapeArb(minRank, maxRank).chain((shape) =>
    fc.tuple(fc.constant(shape), layoutArb(shape.length, broadcast), fc.integer()),
  );

export const describe = (v: View) => `shape [${v.shape}] strides [${v.strides}] offset ${v.offset}`;

/**
 * Runs `kernel` on both backends into fresh contiguous outputs of the given sizes; returns both
 * results, read with `read` (a GPU backend reads only asynchronously).
 */
export async function both(
  be: Backend,
  sizes: number[],
  kernel: (b: Backend, side: "test" | "ref", outs: Target[]) => void,
): Promise<{ got: (Float32Array | Float64Array)[]; want: (Float32Array | Float64Array)[] }> {
  const ref = getBackend("reference");
  const run = (b: Backend, side: "test" | "ref") => {
    const outs = sizes.map((n) => ({ storage: b.alloc(n, "float32"), offset: 0 }));
    kernel(b, side, outs);
    return Promise.all(outs.map((o, i) => b.read({ storage: o.storage, shape: [sizes[i]], strides: [1], offset: 0 })));
  };
  return { got: await run(be, "test"), want: await run(ref, "ref") };
}

/** |got - want| <= tol · max(1e-3, scale) (scale: |want| by default); NaN and ±Infinity exact. */
export function assertNear(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  what: string,
  tol: number,
  scale?: ArrayLike<number>,
): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i], want[i]];
    const s = scale ? scale[i] : Math.abs(w);
    const ok = Number.isNaN(w)
      ? Number.isNaN(g)
      : !Number.isFinite(w)
        ? g === w
        : Math.abs(g - w) <= tol * Math.max(1e-3, s);
    if (!ok) throw new Error(`${what}[${i}]: got ${g}, expected ${w}`);
  }
}

/**
 * A random straight-line program over `inputs` inputs with up to `length` instructions and 1-2
 * outputs (one output of a longer program too: what jit's fusion makes).
 */
export const programArb = (inputs: number, length: number): fc.Arbitrary<Program> =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat(), fc.double({ min: -3, max: 3, noNaN: true })), {
        minLength: 1,
        maxLength: length,
      }),
      fc.boolean(),
    )
    .map(([steps, oneOutput]) => {
      const code: Instruction[] = Array.from({ length: inputs }, (_, index) => ({ op: "input", index }));
      for (const [kind, a, b, c, value] of steps) {
        const n = code.length;
        const r = [a % n, b % n, c % n];
        switch (kind % 4) {
          case 0:
            code.push({ op: UNARY_OPS[kind % UNARY_OPS.length], x: r[0] });
            break;
          case 1:
            code.push({ op: BINARY_OPS[kind % BINARY_OPS.length], x: r[0], y: r[1] });
            break;
          case 2:
            code.push({ op: "where", cond: r[0], x: r[1], y: r[2] });
            break;
          default:
            code.push({ op: "const", value: Math.round(value * 4) / 4 });
        }
      }
      const last = code.length - 1;
      return { code, outputs: steps.length > 1 && !oneOutput ? [last, Math.max(inputs, last - 1)] : [last] };
    });
