// Initialisation as HF's ViTMAE does it (SPEC.md §14): weight statistics, zero biases, LayerNorm 1/0,
// the xavier-bounded patch projection, sin-cos tables in both position parameters, determinism per key.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { initLayerNorm, initLinear, normalInit, xavierUniform } from "../../src/nn/init.ts";
import {
  initEncoder,
  initPreTraining,
  namedParameters,
  parameterShapes,
  sinCosTable,
  unsafeConfig,
} from "../../src/mae/index.ts";

const cfg = unsafeConfig({
  imageSize: 32,
  patchSize: 8,
  numChannels: 3,
  hiddenSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  intermediateSize: 256,
  decoderHiddenSize: 32,
  decoderNumHiddenLayers: 1,
  decoderNumAttentionHeads: 4,
  decoderIntermediateSize: 128,
  initializerRange: 0.05,
});
const named = namedParameters(initPreTraining(T.key(1), cfg));

function stats(t: T.Tensor): { mean: number; std: number; maxAbs: number } {
  const v = t.toArray();
  const mean = v.reduce((a, x) => a + x, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length);
  return { mean, std, maxAbs: v.reduce((a, x) => Math.max(a, Math.abs(x)), 0) };
}

test("initPreTraining gives exactly HF's parameter names and shapes", () => {
  const byName = (xs: [string, number[]][]) => [...xs].sort(([a], [b]) => (a < b ? -1 : 1));
  assert.deepEqual(byName([...named].map(([n, t]) => [n, [...t.shape]])), byName(parameterShapes(cfg)));
  const enc = namedParameters(initEncoder(T.key(1), cfg));
  assert.deepEqual(byName([...enc].map(([n, t]) => [n, [...t.shape]])), byName(parameterShapes(cfg, "")));
});

test("Linear weights ~ N(0, initializer_range), every bias 0, LayerNorm weight 1 and bias 0", () => {
  const sigma = cfg.initializerRange;
  let linears = 0;
  for (const [name, t] of named) {
    const v = t.toArray();
    if (name.endsWith(".bias"))
      assert.ok(
        v.every((x) => x === 0),
        `${name} is zero`,
      );
    else if (/(layernorm|layernorm_before|layernorm_after|decoder_norm)\.weight$/.test(name))
      assert.ok(
        v.every((x) => x === 1),
        `${name} is one`,
      );
    else if (name.endsWith(".weight") && !name.includes("patch_embeddings")) {
      linears++;
      const s = stats(t);
      assert.ok(Math.abs(s.std - sigma) < 0.15 * sigma, `${name}: std ${s.std}, want ≈ ${sigma}`);
      assert.ok(Math.abs(s.mean) < (5 * sigma) / Math.sqrt(v.length), `${name}: mean ${s.mean}`);
    }
  }
  assert.equal(linears, 6 * 3 + 1 + 1, "q, k, v, output, intermediate, output per layer; decoder_embed; decoder_pred");
});

test("the patch projection is xavier-uniform on its [D, C·p·p] view", () => {
  const w = named.get("vit.embeddings.patch_embeddings.projection.weight")!;
  const bound = Math.sqrt(6 / (3 * 8 * 8 + 64));
  const s = stats(w);
  assert.ok(s.maxAbs <= bound, `max |w| ${s.maxAbs} within the bound ${bound}`);
  assert.ok(s.maxAbs > 0.95 * bound, "fills the interval");
  assert.ok(
    Math.abs(s.std - bound / Math.sqrt(3)) < 0.05 * bound,
    `uniform std ${s.std}, want ≈ ${bound / Math.sqrt(3)}`,
  );
});

test("cls_token and mask_token ~ N(0, σ); both position parameters hold the sin-cos table", () => {
  for (const name of ["vit.embeddings.cls_token", "decoder.mask_token"]) {
    const s = stats(named.get(name)!);
    assert.ok(s.std > 0.5 * cfg.initializerRange && s.std < 1.5 * cfg.initializerRange, `${name}: std ${s.std}`);
  }
  assert.deepEqual(named.get("vit.embeddings.position_embeddings")!.toNested(), [sinCosTable(64, 4, 4).toNested()]);
  assert.deepEqual(named.get("decoder.decoder_pos_embed")!.toNested(), [sinCosTable(32, 4, 4).toNested()]);
});

test("init is deterministic per key, and another key gives other weights", () => {
  const again = namedParameters(initPreTraining(T.key(1), cfg));
  const other = namedParameters(initPreTraining(T.key(2), cfg));
  for (const [name, t] of named) assert.deepEqual([...again.get(name)!.toArray()], [...t.toArray()], name);
  assert.notDeepEqual(
    [...other.get("vit.encoder.layer.0.attention.attention.query.weight")!.toArray()],
    [...named.get("vit.encoder.layer.0.attention.attention.query.weight")!.toArray()],
  );
  // Different layers get different weights from one key.
  assert.notDeepEqual(
    [...named.get("vit.encoder.layer.0.intermediate.dense.weight")!.toArray()],
    [...named.get("vit.encoder.layer.1.intermediate.dense.weight")!.toArray()],
  );
});

test("qkv_bias false: no q/k/v biases (other Linears keep theirs)", () => {
  const noBias = namedParameters(initPreTraining(T.key(1), unsafeConfig({ ...cfgFields(), qkvBias: false })));
  assert.ok(![...noBias.keys()].some((n) => /(query|key|value)\.bias$/.test(n)));
  assert.ok(noBias.has("vit.encoder.layer.0.attention.output.dense.bias"));
});

test("nn init helpers: shapes, N(0, std), xavier bound, initLinear without bias, LayerNorm 1/0", () => {
  assert.deepEqual(normalInit(T.key(3), [10, 20], 0.02).shape, [10, 20]);
  const s = stats(normalInit(T.key(3), [200, 100], 0.5));
  assert.ok(Math.abs(s.std - 0.5) < 0.02 && Math.abs(s.mean) < 0.01);
  const bound = Math.sqrt(6 / 80);
  const x = stats(xavierUniform(T.key(4), [30, 50], 50, 30));
  assert.ok(x.maxAbs <= bound && x.maxAbs > 0.95 * bound, `max |w| ${x.maxAbs}: fills [-${bound}, ${bound}]`);
  assert.ok(Math.abs(x.std - bound / Math.sqrt(3)) < 0.05 * bound, `uniform std ${x.std}`);
  const l = initLinear(T.key(5), 7, 3, 0.1, false);
  assert.deepEqual(l.weight.shape, [3, 7]);
  assert.equal(l.bias, undefined);
  assert.deepEqual(initLinear(T.key(5), 7, 3, 0.1).bias!.toNested(), [0, 0, 0]);
  assert.deepEqual(initLayerNorm(3).weight.toNested(), [1, 1, 1]);
  assert.deepEqual(initLayerNorm(3).bias.toNested(), [0, 0, 0]);
});

function cfgFields() {
  return {
    imageSize: 32,
    patchSize: 8,
    numChannels: 3,
    hiddenSize: 64,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    intermediateSize: 256,
    decoderHiddenSize: 32,
    decoderNumHiddenLayers: 1,
    decoderNumAttentionHeads: 4,
    decoderIntermediateSize: 128,
    initializerRange: 0.05,
  } as const;
}
