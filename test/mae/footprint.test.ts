// A config's size before anything is allocated: the parameter and tensor counts equal what init makes
// (property over random configs), and what cannot be allocated or cannot fit is refused by field.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import * as T from "../../src/core/index.ts";
import { getOrThrow, makeConfig } from "../../src/mae/config.ts";
import { footprint, MAX_TENSOR_ELEMENTS, whyTooLarge } from "../../src/mae/footprint.ts";
import { initPreTraining } from "../../src/mae/init.ts";
import { namedParameters, parameterShapes } from "../../src/mae/params.ts";
import { base, tiny } from "../../src/mae/presets.ts";
import { ViTMAEForPreTraining } from "../../src/mae/models.ts";
import { initClassifier, makeViTConfig } from "../../src/vit/index.ts";

const smallConfigArb = fc
  .record({
    heads: fc.integer({ min: 1, max: 3 }),
    headDim: fc.integer({ min: 1, max: 3 }),
    layers: fc.integer({ min: 0, max: 2 }),
    inner: fc.integer({ min: 1, max: 9 }),
    decoderHeads: fc.integer({ min: 1, max: 2 }),
    decoderLayers: fc.integer({ min: 0, max: 2 }),
    patch: fc.integer({ min: 1, max: 3 }),
    grid: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    channels: fc.integer({ min: 1, max: 3 }),
    qkvBias: fc.boolean(),
  })
  .map((r) =>
    getOrThrow(
      makeConfig({
        hiddenSize: 4 * r.heads * r.headDim,
        numAttentionHeads: r.heads,
        numHiddenLayers: r.layers,
        intermediateSize: r.inner,
        decoderHiddenSize: 4 * r.decoderHeads,
        decoderNumAttentionHeads: r.decoderHeads,
        decoderNumHiddenLayers: r.decoderLayers,
        decoderIntermediateSize: r.inner + 1,
        patchSize: r.patch,
        imageSize: [r.patch * r.grid[0], r.patch * r.grid[1]],
        numChannels: r.channels,
        qkvBias: r.qkvBias,
      }),
    ),
  );

test("footprint counts exactly the parameters and tensors that init makes (property over random configs)", () => {
  fc.assert(
    fc.property(smallConfigArb, (cfg) => {
      const made = namedParameters(initPreTraining(T.key(0), cfg));
      const fp = footprint(cfg);
      assert.equal(fp.parameterTensors, made.size);
      assert.equal(
        fp.parameters,
        [...made.values()].reduce((n, t) => n + t.size, 0),
      );
      assert.equal(fp.parameterTensors, parameterShapes(cfg).length);
    }),
    { numRuns: 30 },
  );
  // ViT-B/16 with MAE's decoder, from the formulas, against params.ts' list of shapes.
  assert.equal(
    footprint(base).parameters,
    parameterShapes(base).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0),
  );
});

test("footprint counts a classifier's and a bare encoder's parameters and tensors exactly (property over random configs)", () => {
  fc.assert(
    fc.property(smallConfigArb, fc.integer({ min: 1, max: 5 }), fc.boolean(), (cfg, numLabels, useMeanPooling) => {
      const made = namedParameters(initClassifier(T.key(0), makeViTConfig(cfg, { numLabels, useMeanPooling })));
      const fp = footprint(cfg, { kind: "classifier", numLabels });
      assert.equal(fp.parameterTensors, made.size);
      assert.equal(
        fp.parameters,
        [...made.values()].reduce((n, t) => n + t.size, 0),
      );
      const encoder = footprint(cfg, { kind: "encoder" });
      assert.equal(encoder.parameterTensors, parameterShapes(cfg, "").length);
      assert.equal(
        encoder.parameters,
        parameterShapes(cfg, "").reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0),
      );
    }),
    { numRuns: 30 },
  );
});

test("whyTooLarge: a tensor over what one array holds, or an estimate over the budget, named by its fields", () => {
  assert.equal(whyTooLarge(tiny, { training: true, batchSize: 8, budgetBytes: 1e9 }), undefined);
  const wide = getOrThrow(makeConfig({ hiddenSize: 2 ** 17, numAttentionHeads: 1, intermediateSize: 8 }, tiny));
  assert.ok(wide.hiddenSize ** 2 > MAX_TENSOR_ELEMENTS);
  assert.match(
    whyTooLarge(wide, { training: false, batchSize: 0 })!,
    /attention weight \(hidden_size²\).*hidden_size 131072/,
  );
  const deep = getOrThrow(makeConfig({ numHiddenLayers: 100_000 }, base));
  const why = whyTooLarge(deep, { training: false, batchSize: 0, budgetBytes: 64e9 })!;
  assert.match(
    why,
    /making the weights needs an estimated \d+(\.\d)? TB .*num_hidden_layers 100000.*more than this machine's 64 GB/,
  );
  assert.match(whyTooLarge(base, { training: true, batchSize: 1e6, budgetBytes: 64e9 })!, /batches of 1000000/);
  // A classifier is sized without the decoder, with its head, and names num_labels; its encoder sees every
  // patch (197 tokens for ViT-B/16), not MAE's kept quarter (50): several times the activations.
  const classifier = { kind: "classifier", numLabels: 1000 } as const;
  const [all, kept] = [footprint(base, classifier), footprint(base, { kind: "encoder" })];
  assert.ok(
    all.activationsPerImage > 3 * kept.activationsPerImage,
    `${all.activationsPerImage} vs ${kept.activationsPerImage}`,
  );
  assert.equal(whyTooLarge(base, { training: true, batchSize: 64, budgetBytes: 64e9 }, classifier), undefined);
  assert.match(
    whyTooLarge(base, { training: true, batchSize: 1e5, budgetBytes: 64e9 }, classifier)!,
    /^a training step on batches of 100000 needs an estimated .*hidden_size 768, num_hidden_layers 12, intermediate_size 3072, image_size 224, patch_size 16, num_labels 1000\), more than/,
  );
  assert.match(
    whyTooLarge(base, { training: false, batchSize: 0 }, { kind: "classifier", numLabels: 6_000_000 })!,
    /the classifier head \(num_labels × hidden_size\) would have 4\.61e\+9 elements/,
  );
  assert.throws(() => ViTMAEForPreTraining.init(wide, T.key(0)), /init: cannot make this model: an attention weight/);
});
