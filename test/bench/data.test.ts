// Tests for bench/data.ts and bench/cases.ts: the generated weights match HF's names, shapes and sin-cos tables.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { blockForwardFlops, maeAdamW, maeStepFlops } from "../../bench/cases.ts";
import { maeConfigFrom, maeParams, mulberry32, normals, sincosTable, VIT_MAE_BASE } from "../../bench/data.ts";
import { readSafetensors } from "../../bench/safetensors.ts";

const tinyDir = resolve(import.meta.dirname, "../fixtures/hf/tiny");
const tinyConfig = maeConfigFrom(JSON.parse(readFileSync(`${tinyDir}/config.json`, "utf8")));
const golden = readSafetensors(`${tinyDir}/model.safetensors`);

test("maeParams has exactly HF's parameter names, order and shapes (the tiny golden checkpoint)", () => {
  const ours = maeParams(tinyConfig, mulberry32(1));
  assert.deepEqual([...ours.keys()].sort(), [...golden.keys()].sort());
  for (const [name, t] of golden) assert.deepEqual(ours.get(name)!.shape, t.shape, name);
});

test("sincosTable equals the HF checkpoint's encoder and decoder tables to float32 rounding", () => {
  for (const [name, dim] of [
    ["vit.embeddings.position_embeddings", 64],
    ["decoder.decoder_pos_embed", 32],
  ] as const) {
    const ours = sincosTable(4, dim);
    const theirs = golden.get(name)!;
    assert.deepEqual(ours.shape, theirs.shape);
    for (let i = 0; i < ours.data.length; i++)
      assert.ok(Math.abs(ours.data[i] - theirs.data[i]) <= 1e-7, `${name}[${i}]`);
  }
  assert.throws(() => sincosTable(2, 6), /divisible by 4/);
});

test("mulberry32 is deterministic per seed and stays in [0, 1)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
      const a = mulberry32(seed);
      const b = mulberry32(seed);
      for (let i = 0; i < 100; i++) {
        const x = a();
        assert.equal(x, b());
        assert.ok(x >= 0 && x < 1);
      }
    }),
    { numRuns: 50 },
  );
});

test("normals have the requested mean and std", () => {
  const xs = normals(40001, 0.02, mulberry32(7), 1); // odd length: the last pair is cut in half
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean - 1) < 0.02 * 0.05, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.02) < 0.02 * 0.05, `std ${std}`);
  assert.ok(xs.every(Number.isFinite));
});

test("FLOP counts by hand: one ViT-B block on 8 × 50 tokens, and the MAE step is 3× its forward", () => {
  // linears 2·400·(4·768² + 2·768·3072) = 5 662 310 400; attention 2·2·8·50²·768 = 61 440 000
  assert.equal(blockForwardFlops({ batch: 8, tokens: 50, hidden: 768, intermediate: 3072 }), 5_723_750_400);
  const tiny = maeStepFlops(tinyConfig, 1);
  // L = 16, keep 4: patch 2·16·192·64; 2 enc blocks on 5 tokens; embed 2·5·64·32; 1 dec block on 17; pred 2·17·32·192
  const enc = blockForwardFlops({ batch: 1, tokens: 5, hidden: 64, intermediate: 128 });
  const dec = blockForwardFlops({ batch: 1, tokens: 17, hidden: 32, intermediate: 64 });
  assert.equal(tiny, 3 * (2 * 16 * 192 * 64 + 2 * enc + 2 * 5 * 64 * 32 + dec + 2 * 17 * 32 * 192));
  assert.ok(maeStepFlops(VIT_MAE_BASE, 8) > 3e11 && maeStepFlops(VIT_MAE_BASE, 8) < 6e11);
});

test("MAE's AdamW groups: the tables frozen, no decay on biases, norms and tokens, decay on the rest", () => {
  const shapes = new Map([...golden].map(([k, v]) => [k, v.shape]));
  const opt = maeAdamW(shapes.keys(), shapes);
  assert.deepEqual(opt.frozen, ["vit.embeddings.position_embeddings", "decoder.decoder_pos_embed"]);
  for (const name of [
    "vit.embeddings.cls_token",
    "decoder.mask_token",
    "vit.layernorm.weight",
    "decoder.decoder_pred.bias",
  ]) {
    assert.ok(opt.noDecay.includes(name), name);
  }
  for (const name of [
    "decoder.decoder_pred.weight",
    "vit.embeddings.patch_embeddings.projection.weight",
    ...opt.frozen,
  ]) {
    assert.ok(!opt.noDecay.includes(name), name);
  }
  assert.deepEqual([opt.beta1, opt.beta2, opt.weightDecay], [0.9, 0.95, 0.05]);
});
