// Layer-wise lr decay (MAE's lr_decay.py param_groups_lrd) against a hand-computed table, and the grouped AdamW step.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { unsafeConfig } from "../../src/mae/config.ts";
import { namedParameters } from "../../src/mae/params.ts";
import { initAdamW } from "../../src/nn/adamw.ts";
import { adamwStepGroups, layerIdForViT, paramGroupsLrd } from "../../src/nn/layerDecay.ts";
import { classifierShapes, initClassifier, makeViTConfig } from "../../src/vit/index.ts";

const encoder = unsafeConfig({
  imageSize: 8,
  patchSize: 4,
  numChannels: 1,
  hiddenSize: 8,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 16,
});

// depth 2, layer decay 0.75: scales 0.75^3 = 0.421875 (embeddings), 0.75^2 = 0.5625 (block 0), 0.75 (block 1), 1 (head).
const TABLE: [string, number, number, number][] = [
  // name                                                  layer  lr scale   weight decay
  ["vit.embeddings.cls_token", 0, 0.421875, 0],
  ["vit.embeddings.position_embeddings", 0, 0.421875, 0],
  ["vit.embeddings.patch_embeddings.projection.weight", 0, 0.421875, 0.05],
  ["vit.embeddings.patch_embeddings.projection.bias", 0, 0.421875, 0],
  ["vit.encoder.layer.0.attention.attention.query.weight", 1, 0.5625, 0.05],
  ["vit.encoder.layer.0.attention.attention.query.bias", 1, 0.5625, 0],
  ["vit.encoder.layer.0.layernorm_before.weight", 1, 0.5625, 0],
  ["vit.encoder.layer.0.output.dense.weight", 1, 0.5625, 0.05],
  ["vit.encoder.layer.1.intermediate.dense.weight", 2, 0.75, 0.05],
  ["vit.encoder.layer.1.layernorm_after.bias", 2, 0.75, 0],
  ["fc_norm.weight", 3, 1, 0],
  ["fc_norm.bias", 3, 1, 0],
  ["classifier.weight", 3, 1, 0.05],
  ["classifier.bias", 3, 1, 0],
];

test("param_groups_lrd for a 2-block ViT (mean pool head), decay 0.75, weight decay 0.05: the hand-computed table", () => {
  const cfg = makeViTConfig(encoder, { numLabels: 3, useMeanPooling: true });
  const groups = paramGroupsLrd(classifierShapes(cfg), 2, { weightDecay: 0.05, layerDecay: 0.75 });
  assert.equal(groups.size, classifierShapes(cfg).length, "every parameter has a group");
  for (const [name, layerId, lrScale, weightDecay] of TABLE)
    assert.deepEqual(groups.get(name), { layerId, lrScale, weightDecay }, name);
  assert.equal(layerIdForViT("vit.layernorm.weight", 12), 13, "after the blocks: depth + 1");
  assert.equal(layerIdForViT("vit.encoder.layer.11.output.dense.bias", 12), 12);
});

test("the grouped AdamW step gives each parameter its group's lr and weight decay (first step: p(1 − lr·s·wd) − lr·s·g/(|g| + ε))", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 1e-4, max: 1e-1, noNaN: true }),
      fc.double({ min: 0.3, max: 1, noNaN: true }),
      fc.nat(),
      (lr, decay, seed) => {
        const cfg = makeViTConfig(encoder, { numLabels: 3 });
        const params = namedParameters(initClassifier(T.key(seed), cfg));
        const groups = paramGroupsLrd(classifierShapes(cfg), 2, { weightDecay: 0.05, layerDecay: decay });
        const grads = new Map([...params].map(([n, p], i) => [n, T.random.normal(T.key(seed + i + 1), p.shape)]));
        const eps = 1e-8;
        const { params: next, state } = adamwStepGroups(params, grads, initAdamW(params), groups, {
          lr,
          betas: [0.9, 0.999],
          eps,
        });
        assert.equal(state.step.item(), 1);
        for (const [name, p] of params) {
          const { lrScale, weightDecay } = groups.get(name)!;
          const g = grads.get(name)!.toArray();
          const got = next.get(name)!.toArray();
          p.toArray().forEach((pi, i) => {
            const want = pi * (1 - lr * lrScale * weightDecay) - (lr * lrScale * g[i]) / (Math.abs(g[i]) + eps);
            assert.ok(Math.abs(got[i] - want) <= 1e-6 * (1 + Math.abs(want)), `${name}[${i}]: ${got[i]} vs ${want}`);
          });
        }
      },
    ),
    { numRuns: 10 },
  );
});
