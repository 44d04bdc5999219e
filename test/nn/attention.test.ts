// Multi-head self-attention (HF ViTSelfAttention + ViTSelfOutput): against a plain-loop reference,
// head order, probabilities, head masks, and a gradient check.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { checkGrads } from "../../src/autodiff/index.ts";
import { selfAttention, type AttentionParams } from "../../src/nn/attention.ts";
import { assertClose, weights } from "../helpers/tensors.ts";

function randomParams(k: T.Key, d: number, bias = true): AttentionParams {
  const ks = T.random.split(k, 8);
  const lin = (i: number) => ({
    weight: T.random.normal(ks[i], [d, d], 0, 0.5),
    ...(bias || i === 3 ? { bias: T.random.normal(ks[4 + i], [d], 0, 0.1) } : {}),
  });
  return { attention: { query: lin(0), key: lin(1), value: lin(2) }, output: { dense: lin(3) } };
}

/** Plain loops: per sample, per head h on features [h·hd, (h+1)·hd), softmax(q·kᵀ/√hd)·v, heads concatenated, output dense. */
function naive(p: AttentionParams, x: number[][][], heads: number): { out: number[][][]; probs: number[][][][] } {
  const mat = (t: T.Tensor) => t.toNested() as number[][];
  const vec = (t: T.Tensor | undefined, n: number) => (t ? [...t.toArray()] : new Array(n).fill(0));
  const d = x[0][0].length;
  const hd = d / heads;
  const lin = (w: number[][], b: number[], row: number[]) =>
    w.map((wr, o) => wr.reduce((a, v, i) => a + v * row[i], b[o]));
  const apply = (l: { weight: T.Tensor; bias?: T.Tensor }, rows: number[][]) =>
    rows.map((r) => lin(mat(l.weight), vec(l.bias, d), r));
  const out: number[][][] = [];
  const probs: number[][][][] = [];
  for (const sample of x) {
    const [q, k, v] = [
      apply(p.attention.query, sample),
      apply(p.attention.key, sample),
      apply(p.attention.value, sample),
    ];
    const context = sample.map(() => new Array(d).fill(0));
    const ph: number[][][] = [];
    for (let h = 0; h < heads; h++) {
      const f = (r: number[]) => r.slice(h * hd, (h + 1) * hd);
      const scores = q.map((qi) => k.map((kj) => f(qi).reduce((a, val, i) => a + val * f(kj)[i], 0) / Math.sqrt(hd)));
      const pr = scores.map((row) => {
        const m = Math.max(...row);
        const e = row.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        return e.map((v2) => v2 / z);
      });
      ph.push(pr);
      pr.forEach((row, i) => row.forEach((w, j) => f(v[j]).forEach((val, c) => (context[i][h * hd + c] += w * val))));
    }
    probs.push(ph);
    out.push(apply(p.output.dense, context));
  }
  return { out, probs };
}

test("selfAttention equals a plain-loop reference (head h on features [h·hd, (h+1)·hd), heads concatenated)", () => {
  for (const bias of [true, false]) {
    const p = randomParams(T.key(1), 8, bias);
    const x = T.random.normal(T.key(2), [2, 5, 8]);
    const { out, probs } = selfAttention(p, x, { heads: 2 });
    assert.deepEqual(out.shape, [2, 5, 8]);
    assert.deepEqual(probs.shape, [2, 2, 5, 5]);
    const ref = naive(p, x.toNested() as number[][][], 2);
    assertClose(out.toArray(), ref.out.flat(2), 1e-5, `out (qkv bias ${bias})`);
    assertClose(probs.toArray(), ref.probs.flat(3), 1e-5, "probs");
  }
});

test("attention probabilities are a softmax over the keys: rows sum to 1", () => {
  const { probs } = selfAttention(randomParams(T.key(3), 12), T.random.normal(T.key(4), [3, 4, 12]), { heads: 3 });
  assertClose(T.sum(probs, -1).toArray(), new Array(3 * 3 * 4).fill(1), 1e-5);
});

test("a head mask multiplies each head's probabilities; a zero head drops out of the output", () => {
  const p = randomParams(T.key(5), 8);
  const x = T.random.normal(T.key(6), [1, 3, 8]);
  const plain = selfAttention(p, x, { heads: 2 });
  const masked = selfAttention(p, x, { heads: 2, headMask: T.fromArray([0, 1], [2]) });
  assert.deepEqual(
    masked.probs.toNested(),
    T.mul(plain.probs, T.reshape(T.fromArray([0, 1], [2]), [1, 2, 1, 1])).toNested(),
  );
  // Head 0 masked is head 0 with zero values: its part of the context is 0 either way.
  const hd = 4;
  const zeroRows = (t: T.Tensor) =>
    T.mul(
      t,
      T.reshape(
        T.fromArray(
          [...Array(8)].map((_, i) => (i < hd ? 0 : 1)),
          [8],
        ),
        t.shape.length === 2 ? [8, 1] : [8],
      ),
    );
  const v = p.attention.value;
  const silenced = {
    ...p,
    attention: { ...p.attention, value: { weight: zeroRows(v.weight), bias: zeroRows(v.bias!) } },
  };
  assertClose(
    selfAttention(silenced, x, { heads: 2 }).out.toArray(),
    masked.out.toArray(),
    1e-6,
    "masked head = silent head",
  );
  assert.notDeepEqual(masked.out.toNested(), plain.out.toNested());
});

test("selfAttention: gradients w.r.t. input and every weight match central differences", () => {
  const p = randomParams(T.key(7), 4);
  const x = T.random.normal(T.key(8), [1, 3, 4]);
  const cot = T.fromArray(weights(12), [1, 3, 4]);
  const f = (xx: T.Tensor, wq: T.Tensor, wk: T.Tensor, wv: T.Tensor, wo: T.Tensor, bq: T.Tensor) => {
    const q = {
      ...p,
      attention: {
        query: { weight: wq, bias: bq },
        key: { ...p.attention.key, weight: wk },
        value: { ...p.attention.value, weight: wv },
      },
      output: { dense: { ...p.output.dense, weight: wo } },
    };
    return T.sum(T.mul(selfAttention(q, xx, { heads: 2 }).out, cot));
  };
  const r = checkGrads(f, [
    x,
    p.attention.query.weight,
    p.attention.key.weight,
    p.attention.value.weight,
    p.output.dense.weight,
    p.attention.query.bias!,
  ]);
  assert.ok(r.ok, `worst: ${JSON.stringify(r.worst)}`);
});
