// ViTMAEForPreTraining / ViTMAEModel behaviour beyond the golden cases: head masks, dropout in
// training, the pixel-tensor-only call, per-call mask ratios, key-driven masking, input errors.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/core/index.ts";
import { ShapeError } from "../../src/core/index.ts";
import { ViTMAEForPreTraining, ViTMAEModel, forward, unsafeConfig, type ViTMAEConfig } from "../../src/mae/index.ts";

const small = {
  imageSize: 16,
  patchSize: 4,
  numChannels: 3,
  hiddenSize: 16,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  intermediateSize: 32,
  decoderHiddenSize: 8,
  decoderNumHiddenLayers: 1,
  decoderNumAttentionHeads: 2,
  decoderIntermediateSize: 16,
  initializerRange: 0.3, // sharp attention, so heads matter
} as const;
const cfg = unsafeConfig({ ...small, maskRatio: 0.75 });
const model = ViTMAEForPreTraining.init(cfg, T.key(5));
const pixels = T.random.normal(T.key(6), [2, 3, 16, 16]);
const noise = T.random.uniform(T.key(7), [2, 16]);
const nested = (t: T.Tensor | undefined) => t?.toNested();

test("the class forward is the functional forward", () => {
  const a = model.forward({ pixelValues: pixels, noise });
  const b = forward(model.params, cfg, pixels, { noise });
  assert.deepEqual(nested(a.logits), nested(b.logits));
  assert.equal(a.loss.item(), b.loss.item());
});

// ---- head masks ----

test("headMask [heads]: a zeroed head's attentions are probs × mask, its values contribute nothing, the output changes", () => {
  const plain = model.forward({ pixelValues: pixels, noise, outputAttentions: true });
  const headMask = T.fromArray([1, 0, 1, 1], [4]);
  const masked = model.forward({ pixelValues: pixels, noise, outputAttentions: true, headMask });
  // Layer 0 sees the same input either way: its returned probabilities are the unmasked ones × mask.
  const expected = T.mul(plain.attentions![0], T.reshape(headMask, [1, 4, 1, 1]));
  assert.deepEqual(nested(masked.attentions![0]), nested(expected));
  for (const a of masked.attentions!)
    assert.ok(T.sum(T.abs(T.slice(a, [null, { start: 1, stop: 2 }]))).item() === 0, "head 1 is zero in every layer");
  assert.notDeepEqual(
    nested(masked.lastHiddenState),
    nested(plain.lastHiddenState),
    "masking a head changes the output",
  );
  // Head 1 uses value features [hd, 2·hd): scrambling those weights changes nothing when it is masked.
  const hd = cfg.headDim;
  const scrambled = structuredCloneParams(model.params);
  for (const layer of scrambled.vit.encoder.layer) {
    const v = layer.attention.attention.value;
    const rows = v.weight.toNested() as number[][];
    for (let r = hd; r < 2 * hd; r++) rows[r] = rows[r].map((x) => x * -3 + 0.7);
    layer.attention.attention.value = { ...v, weight: T.fromNested(rows) };
  }
  const again = new ViTMAEForPreTraining(cfg, scrambled).forward({ pixelValues: pixels, noise, headMask });
  assert.deepEqual(
    nested(again.lastHiddenState),
    nested(masked.lastHiddenState),
    "a masked head's values must not reach the output",
  );
  const unmaskedScrambled = new ViTMAEForPreTraining(cfg, scrambled).forward({ pixelValues: pixels, noise });
  assert.notDeepEqual(
    nested(unmaskedScrambled.lastHiddenState),
    nested(plain.lastHiddenState),
    "(the scramble does matter without the mask)",
  );
});

test("headMask [layers, heads] masks per layer; all ones is no mask", () => {
  const plain = model.forward({ pixelValues: pixels, noise, outputAttentions: true });
  const headMask = T.fromNested([
    [1, 1, 1, 1],
    [0, 1, 1, 0.5],
  ]);
  const masked = model.forward({ pixelValues: pixels, noise, outputAttentions: true, headMask });
  assert.deepEqual(nested(masked.attentions![0]), nested(plain.attentions![0]), "layer 0 unmasked");
  const layer1 = masked.attentions![1].toNested() as number[][][][];
  for (const sample of layer1) {
    assert.ok(
      sample[0].flat().every((v) => v === 0),
      "layer 1, head 0 zeroed",
    );
    const rowSums = sample[3].map((r) => r.reduce((a, v) => a + v, 0));
    rowSums.forEach((s) => assert.ok(Math.abs(s - 0.5) < 1e-5, `layer 1, head 3 scaled by 0.5: row sum ${s}`));
  }
  const ones = model.forward({ pixelValues: pixels, noise, headMask: T.ones([2, 4]) });
  assert.deepEqual(nested(ones.lastHiddenState), nested(plain.lastHiddenState));
});

test("a wrongly shaped headMask is a ShapeError naming headMask and the shapes it accepts", () => {
  for (const shape of [[3], [2, 3], [3, 4], [2, 4, 1]]) {
    assert.throws(
      () => model.forward({ pixelValues: pixels, noise, headMask: T.ones(shape) }),
      (e: Error) =>
        e instanceof ShapeError &&
        e.message.includes("headMask") &&
        e.message.includes("[4]") &&
        e.message.includes("[2, 4]"),
    );
  }
});

// ---- dropout ----

test("training with a dropoutKey: outputs change when dropout > 0, deterministic per key; eval is unaffected", () => {
  const dropCfg = unsafeConfig({ ...small, maskRatio: 0.75, hiddenDropoutProb: 0.2, attentionProbsDropoutProb: 0.2 });
  const m = new ViTMAEForPreTraining(dropCfg, model.params);
  const evalOut = m.forward({ pixelValues: pixels, noise });
  const k = T.key(42);
  const train1 = m.forward({ pixelValues: pixels, noise, training: true, dropoutKey: k });
  const train2 = m.forward({ pixelValues: pixels, noise, training: true, dropoutKey: k });
  const train3 = m.forward({ pixelValues: pixels, noise, training: true, dropoutKey: T.key(43) });
  assert.deepEqual(nested(train1.logits), nested(train2.logits), "same key, same dropout");
  assert.notDeepEqual(nested(train1.logits), nested(evalOut.logits), "dropout changes the output");
  assert.notDeepEqual(nested(train1.logits), nested(train3.logits), "another key, another dropout");
  assert.notDeepEqual(nested(train1.lastHiddenState), nested(evalOut.lastHiddenState), "encoder dropout too");
  // A key without training: true is eval; eval equals the model without dropout configured at all.
  assert.deepEqual(nested(m.forward({ pixelValues: pixels, noise, dropoutKey: k }).logits), nested(evalOut.logits));
  assert.deepEqual(nested(model.forward({ pixelValues: pixels, noise }).logits), nested(evalOut.logits));
  // With dropout probabilities 0 (the HF default), training changes nothing.
  assert.deepEqual(
    nested(model.forward({ pixelValues: pixels, noise, training: true, dropoutKey: k }).logits),
    nested(evalOut.logits),
  );
  assert.throws(() => m.forward({ pixelValues: pixels, noise, training: true }), /training.*dropoutKey/);
});

// ---- inputs and masking ----

test("the pixel tensor alone with maskRatio 0: identity order, mask all zeros, ids_restore = arange, NaN loss", () => {
  const cfg0 = unsafeConfig({ ...small, maskRatio: 0 });
  for (const m of [new ViTMAEForPreTraining(cfg0, model.params), new ViTMAEModel(cfg0, model.params.vit)]) {
    const out = m.forward(pixels);
    assert.deepEqual(out.lastHiddenState.shape, [2, 17, 16]);
    assert.deepEqual(nested(out.mask), [new Array(16).fill(0), new Array(16).fill(0)]);
    assert.deepEqual(nested(out.idsRestore), [[...Array(16).keys()], [...Array(16).keys()]]);
    if ("loss" in out) assert.ok(Number.isNaN(out.loss.item()), "nothing masked: HF's 0/0");
  }
  // The same through a per-call override on the 0.75 model, and no noise needed.
  const viaOverride = model.forward({ pixelValues: pixels, maskRatio: 0 });
  const direct = new ViTMAEForPreTraining(cfg0, model.params).forward(pixels);
  assert.deepEqual(nested(viaOverride.lastHiddenState), nested(direct.lastHiddenState));
});

test("masking needs noise or a key: the pixel tensor alone with maskRatio > 0 is a clear error", () => {
  assert.throws(() => model.forward(pixels), /masking needs `noise`.*key/);
  assert.throws(() => ViTMAEModel.init(cfg, T.key(1)).forward(pixels), /masking needs `noise`.*key/);
});

test("maskRatio per call overrides the config's", () => {
  const out = model.forward({ pixelValues: pixels, key: T.key(1), maskRatio: 0.5 });
  assert.deepEqual(out.lastHiddenState.shape, [2, 9, 16]);
  assert.deepEqual(
    (out.mask.toNested() as number[][]).map((r) => r.reduce((a, v) => a + v, 0)),
    [8, 8],
  );
  assert.deepEqual(
    model.forward({ pixelValues: pixels, key: T.key(1) }).lastHiddenState.shape,
    [2, 5, 16],
    "config's 0.75 otherwise",
  );
});

test("masking from a key is deterministic per key", () => {
  const a = model.forward({ pixelValues: pixels, key: T.key(9) });
  const b = model.forward({ pixelValues: pixels, key: T.key(9) });
  const c = model.forward({ pixelValues: pixels, key: T.key(10) });
  assert.deepEqual(nested(a.idsRestore), nested(b.idsRestore));
  assert.equal(a.loss.item(), b.loss.item());
  assert.notDeepEqual(nested(a.idsRestore), nested(c.idsRestore));
});

test("bad pixel inputs are named errors, also on the pixel-only maskRatio-0 path", () => {
  const cfg0: ViTMAEConfig = unsafeConfig({ ...small, maskRatio: 0 });
  const m0 = new ViTMAEForPreTraining(cfg0, model.params);
  const enc0 = new ViTMAEModel(cfg0, model.params.vit);
  for (const f of [
    (x: T.Tensor) => m0.forward(x),
    (x: T.Tensor) => enc0.forward(x),
    (x: T.Tensor) => model.forward({ pixelValues: x, key: T.key(0) }),
  ]) {
    assert.throws(
      () => f(T.zeros([2, 1, 16, 16])),
      (e: Error) => e instanceof ShapeError && /1 channels.*num_channels = 3/.test(e.message),
    );
    assert.throws(
      () => f(T.zeros([2, 3, 20, 20])),
      (e: Error) => e instanceof ShapeError && /20x20.*doesn't match.*16x16.*interpolatePosEncoding/.test(e.message),
    );
    assert.throws(
      () => f(T.zeros([2, 3, 14, 14])),
      (e: Error) => e instanceof ShapeError && /14x14/.test(e.message),
    );
    assert.throws(
      () => f(T.zeros([3, 16, 16])),
      (e: Error) => e instanceof ShapeError && /\[batch, channels, height, width\]/.test(e.message),
    );
  }
  assert.throws(
    () => m0.forward({ pixelValues: T.zeros([1, 3, 18, 18]), interpolatePosEncoding: true }),
    (e: Error) => e instanceof ShapeError && /not divisible by the patch size/.test(e.message),
  );
  assert.throws(
    () => model.forward({ pixelValues: pixels, noise: T.zeros([2, 15]) }),
    (e: Error) => e instanceof ShapeError && /noise must be \[2, 16\]/.test(e.message),
  );
  // a JS caller's mistake
  assert.throws(() => model.forward({ pixelValues: [1, 2] as unknown as T.Tensor }), /pixelValues must be a Tensor/);
});

test("interpolatePosEncoding runs other (non-square) sizes: 20x12 → a 5x3 grid", () => {
  const out = model.forward({
    pixelValues: T.random.normal(T.key(3), [1, 3, 20, 12]),
    key: T.key(4),
    interpolatePosEncoding: true,
  });
  assert.deepEqual(out.logits.shape, [1, 15, 48]);
  assert.deepEqual(out.lastHiddenState.shape, [1, 1 + Math.trunc(15 * 0.25), 16]);
  assert.ok(Number.isFinite(out.loss.item()));
});

/** A parameter record whose containers are copies (tensors are immutable, so they are shared). */
function structuredCloneParams<P>(p: P): P {
  if (p instanceof T.Tensor) return p;
  if (Array.isArray(p)) return p.map(structuredCloneParams) as P;
  if (p && typeof p === "object")
    return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, structuredCloneParams(v)])) as P;
  return p;
}

test("finding 8: an empty batch is refused by the model classes (HF's loss would be 0/0)", () => {
  const model = ViTMAEForPreTraining.init(
    unsafeConfig({
      imageSize: 8,
      patchSize: 4,
      hiddenSize: 8,
      numAttentionHeads: 2,
      numHiddenLayers: 1,
      intermediateSize: 8,
      decoderHiddenSize: 8,
      decoderNumAttentionHeads: 2,
      decoderNumHiddenLayers: 1,
      decoderIntermediateSize: 8,
    }),
    T.key(0),
  );
  assert.throws(
    () => model.forward({ pixelValues: T.zeros([0, 3, 8, 8]), key: T.key(1) }),
    /pixelValues is an empty batch \(shape \[0,3,8,8\]\)/,
  );
  assert.throws(
    () => ViTMAEModel.init(model.config, T.key(0)).forward({ pixelValues: T.zeros([0, 3, 8, 8]), maskRatio: 0 }),
    /empty batch/,
  );
});
