// The pre-norm transformer block (HF ViTMAELayer): residual structure, shapes, gradient check.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { checkGrads } from "../../src/autodiff/index.ts";
import { activation } from "../../src/nn/activation.ts";
import { block, type BlockParams } from "../../src/nn/block.ts";
import { selfAttention } from "../../src/nn/attention.ts";
import { layerNorm } from "../../src/nn/layerNorm.ts";
import { assertClose, weights } from "../helpers/tensors.ts";

function randomBlock(k: T.Key, d: number, inner: number): BlockParams {
  const ks = T.random.split(k, 16);
  const lin = (i: number, o: number, n: number) => ({
    weight: T.random.normal(ks[i], [o, n], 0, 0.4),
    bias: T.random.normal(ks[i + 8], [o], 0, 0.1),
  });
  const ln = (i: number) => ({
    weight: T.add(1, T.random.normal(ks[i], [d], 0, 0.1)),
    bias: T.random.normal(ks[i + 8], [d], 0, 0.1),
  });
  return {
    attention: {
      attention: { query: lin(0, d, d), key: lin(1, d, d), value: lin(2, d, d) },
      output: { dense: lin(3, d, d) },
    },
    intermediate: { dense: lin(4, inner, d) },
    output: { dense: lin(5, d, inner) },
    layernorm_before: ln(6),
    layernorm_after: ln(7),
  };
}
const zeroDense = (d: { weight: T.Tensor; bias?: T.Tensor }) => ({
  weight: T.zeros(d.weight.shape),
  bias: T.zeros(d.bias!.shape),
});
const opts = { heads: 2, eps: 1e-6, act: activation("gelu") };

test("block keeps [B, T, D] and returns the attention probabilities [B, heads, T, T]", () => {
  const { out, probs } = block(randomBlock(T.key(1), 8, 16), T.random.normal(T.key(2), [2, 5, 8]), opts);
  assert.deepEqual(out.shape, [2, 5, 8]);
  assert.deepEqual(probs.shape, [2, 2, 5, 5]);
});

test("block is pre-norm with two residuals: h = x + attn(ln_before(x)); out = h + mlp(ln_after(h))", () => {
  const p = randomBlock(T.key(3), 8, 16);
  const x = T.random.normal(T.key(4), [1, 4, 8]);
  // Both branches silenced: the identity.
  const silent = {
    ...p,
    attention: { ...p.attention, output: { dense: zeroDense(p.attention.output.dense) } },
    output: { dense: zeroDense(p.output.dense) },
  };
  assert.deepEqual(block(silent, x, opts).out.toNested(), x.toNested());
  // Only the MLP silenced: x + attention of the layer-normed input.
  const attnOnly = { ...p, output: { dense: zeroDense(p.output.dense) } };
  const h = T.add(x, selfAttention(p.attention, layerNorm(p.layernorm_before, x, opts.eps), opts).out);
  assertClose(block(attnOnly, x, opts).out.toArray(), h.toArray(), 1e-6);
  // The full block adds the MLP on layernorm_after(h), with the configured activation.
  const mlp = T.add(
    T.matmul(
      opts.act(
        T.add(
          T.matmul(layerNorm(p.layernorm_after, h, opts.eps), T.transpose(p.intermediate.dense.weight)),
          p.intermediate.dense.bias!,
        ),
      ),
      T.transpose(p.output.dense.weight),
    ),
    p.output.dense.bias!,
  );
  assertClose(block(p, x, opts).out.toArray(), T.add(h, mlp).toArray(), 1e-5);
  // Another activation gives another output.
  assert.notDeepEqual(
    block(p, x, { ...opts, act: activation("relu") }).out.toNested(),
    block(p, x, opts).out.toNested(),
  );
});

test("block: gradients w.r.t. input and the MLP / norm weights match central differences", () => {
  const p = randomBlock(T.key(5), 4, 8);
  const x = T.random.normal(T.key(6), [1, 3, 4]);
  const cot = T.fromArray(weights(12), [1, 3, 4]);
  const f = (xx: T.Tensor, wi: T.Tensor, wo: T.Tensor, lnw: T.Tensor, lnb: T.Tensor) => {
    const q = {
      ...p,
      intermediate: { dense: { ...p.intermediate.dense, weight: wi } },
      output: { dense: { ...p.output.dense, weight: wo } },
      layernorm_before: { weight: lnw, bias: lnb },
    };
    return T.sum(T.mul(block(q, xx, opts).out, cot));
  };
  const r = checkGrads(f, [
    x,
    p.intermediate.dense.weight,
    p.output.dense.weight,
    p.layernorm_before.weight,
    p.layernorm_before.bias,
  ]);
  assert.ok(r.ok, `worst: ${JSON.stringify(r.worst)}`);
});
