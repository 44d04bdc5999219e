// Tests of ViTMAEConfig: HF defaults and the reference config.json files, validation messages, round trips, [h, w] sizes, presets.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { type Either, isLeft, isRight } from "fp-ts/lib/Either.js";
import {
  ConfigError,
  type ConfigOverrides,
  type ViTMAEConfig,
  SUPPORTED_ACTIVATIONS,
  getOrThrow,
  makeConfig,
  parseConfig,
  toHFJson,
  unsafeConfig,
} from "../../src/mae/config.ts";
import { configFromFile } from "../../src/mae/checkpointFolder.ts";
import "../../src/node/nodeFileSystem.ts"; // configFromFile reads through the file-system seam
import { base, huge, large, mnist, preset, presetNames, presets, tiny } from "../../src/mae/presets.ts";

const referenceDir = path.resolve(import.meta.dirname, "../fixtures/hf");
const cases = readdirSync(referenceDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, "utf8"));

// SPEC.md "Config defaults", written out here rather than read from the code under test.
const SPEC_DEFAULTS = {
  hiddenSize: 768,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  intermediateSize: 3072,
  hiddenAct: "gelu",
  hiddenDropoutProb: 0,
  attentionProbsDropoutProb: 0,
  initializerRange: 0.02,
  layerNormEps: 1e-12,
  imageSize: [224, 224],
  patchSize: [16, 16],
  numChannels: 3,
  qkvBias: true,
  decoderNumAttentionHeads: 16,
  decoderHiddenSize: 512,
  decoderNumHiddenLayers: 8,
  decoderIntermediateSize: 2048,
  maskRatio: 0.75,
  normPixLoss: false,
};
const FIELDS = Object.keys(SPEC_DEFAULTS) as (keyof typeof SPEC_DEFAULTS)[];

const camel = (key: string): string => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
/** The 19 HF fields of a config, as a plain object. */
const fieldsOf = (c: ViTMAEConfig): Record<string, unknown> => Object.fromEntries(FIELDS.map((f) => [f, c[f]]));
/** What a case's config_overrides mean: SPEC defaults overridden, camelCase, sizes as [h, w]. */
function expectedFields(overrides: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...SPEC_DEFAULTS };
  for (const [k, v] of Object.entries(overrides)) out[camel(k)] = k === "image_size" || k === "patch_size" ? [v, v] : v;
  return out;
}
function right<A>(e: Either<ConfigError, A>): A {
  if (isLeft(e)) assert.fail(`expected a valid config, got: ${e.left.message}`);
  return e.right;
}
function errorOf(e: Either<ConfigError, unknown>): ConfigError {
  if (isRight(e)) assert.fail("expected a ConfigError, got a valid config");
  assert.ok(e.left instanceof ConfigError);
  return e.left;
}

test("reference config.json files parse to their case.json config_overrides over the SPEC defaults", () => {
  assert.ok(cases.length >= 4, `expected the reference cases in ${referenceDir}`);
  for (const name of cases) {
    const dir = path.join(referenceDir, name);
    const caseJson = readJson(path.join(dir, "case.json"));
    const fromFile = right(configFromFile(path.join(dir, "config.json")));
    assert.deepEqual(fieldsOf(fromFile), expectedFields(caseJson.config_overrides as Record<string, unknown>), name);
    assert.deepEqual(right(configFromFile(dir)), fromFile, `${name}: a folder reads its config.json`);
    // to_dict()'s other keys are kept, model_type and architectures are ours to write
    assert.equal(fromFile.extra.transformers_version, "4.57.6");
    assert.deepEqual(fromFile.extra.id2label, { 0: "LABEL_0", 1: "LABEL_1" });
    assert.ok(
      !("model_type" in fromFile.extra) && !("architectures" in fromFile.extra) && !("hidden_size" in fromFile.extra),
    );
    // and writing it back gives the file again, key for key
    assert.deepEqual(toHFJson(fromFile), readJson(path.join(dir, "config.json")), name);
  }
});

test("the short save_pretrained form parses to the same config, and toHFJson writes exactly that form back", () => {
  for (const name of cases) {
    const caseJson = readJson(path.join(referenceDir, name, "case.json"));
    const short = caseJson.hf_save_pretrained_config_json_would_be as Record<string, unknown>;
    const config = right(parseConfig(short, `${name}/case.json`));
    assert.deepEqual(fieldsOf(config), fieldsOf(right(configFromFile(path.join(referenceDir, name)))), name);
    assert.deepEqual(toHFJson(config), short, name);
    assert.deepEqual(
      Object.keys(toHFJson(config)),
      Object.keys(toHFJson(config)).sort(),
      "keys sorted as HF writes them",
    );
  }
  assert.deepEqual(
    fieldsOf(tiny),
    fieldsOf(right(configFromFile(path.join(referenceDir, "tiny")))),
    "preset tiny = reference tiny",
  );
});

test("{} gives exactly the SPEC.md defaults and the derived sizes of a 224/16 model", () => {
  const c = right(parseConfig({}));
  assert.deepEqual(fieldsOf(c), SPEC_DEFAULTS);
  assert.deepEqual(c.extra, {});
  assert.deepEqual(c.givenAsInt, { imageSize: true, patchSize: true });
  assert.deepEqual([c.gridSize, c.numPatches, c.patchDim, c.headDim, c.decoderHeadDim], [[14, 14], 196, 768, 64, 32]);
  assert.deepEqual(right(makeConfig({})), c, "makeConfig({}) is the same config");
  assert.equal(toHFJson(c).image_size, 224, "a square size is written as a plain int");
});

test("unknown keys are kept (deep copied, frozen) and written back", () => {
  const json = {
    hidden_size: 64,
    num_attention_heads: 4,
    my_note: { tags: ["a", "b"], n: 1 },
    torch_dtype: "float32",
    __proto__x: null,
  };
  const c = right(parseConfig(json));
  assert.deepEqual(c.extra, { my_note: { tags: ["a", "b"], n: 1 }, torch_dtype: "float32", __proto__x: null });
  json.my_note.tags.push("c"); // the caller's object is not shared
  assert.deepEqual(c.extra.my_note, { tags: ["a", "b"], n: 1 });
  assert.ok(
    Object.isFrozen(c) && Object.isFrozen(c.imageSize) && Object.isFrozen(c.extra) && Object.isFrozen(c.extra.my_note),
  );
  const written = toHFJson(c);
  assert.deepEqual(written.my_note, { tags: ["a", "b"], n: 1 });
  assert.deepEqual(right(parseConfig(written)), c);
  // a "__proto__" key from JSON text stays a plain key, never a prototype
  const sneaky = right(parseConfig(JSON.parse('{"__proto__": {"hidden_size": 5}}')));
  assert.equal(sneaky.hiddenSize, 768);
  assert.deepEqual(Object.keys(sneaky.extra), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(toHFJson(sneaky)), Object.prototype);
});

// One row per rule: the JSON, the field the message must name, and how the value must appear in it.
const RULES: [rule: string, json: Record<string, unknown>, field: string, shown: string][] = [
  ["size given as a string", { hidden_size: "768" }, "hidden_size", '"768"'],
  ["fractional layer count", { num_hidden_layers: 12.5 }, "num_hidden_layers", "12.5"],
  ["negative size", { intermediate_size: -5 }, "intermediate_size", "-5"],
  ["zero size", { decoder_intermediate_size: 0 }, "decoder_intermediate_size", "0"],
  ["null size", { num_attention_heads: null }, "num_attention_heads", "null"],
  ["size beyond int32", { decoder_hidden_size: 2 ** 40 }, "decoder_hidden_size", String(2 ** 40)],
  ["negative layer count", { decoder_num_hidden_layers: -1 }, "decoder_num_hidden_layers", "-1"],
  ["NaN eps", { layer_norm_eps: NaN }, "layer_norm_eps", "NaN"],
  ["non-boolean qkv_bias", { qkv_bias: "true" }, "qkv_bias", '"true"'],
  ["qkv_bias as 1", { qkv_bias: 1 }, "qkv_bias", "1"],
  ["non-boolean norm_pix_loss", { norm_pix_loss: 0 }, "norm_pix_loss", "0"],
  ["unsupported activation", { hidden_act: "gelu_exact" }, "hidden_act", '"gelu_exact"'],
  ["hidden not divisible by heads", { hidden_size: 64, num_attention_heads: 6 }, "hidden_size", "64"],
  [
    "decoder hidden not divisible by heads",
    { decoder_hidden_size: 64, decoder_num_attention_heads: 6 },
    "decoder_hidden_size",
    "64",
  ],
  ["sin-cos needs hidden % 4", { hidden_size: 6, num_attention_heads: 2 }, "hidden_size", "6"],
  [
    "sin-cos needs decoder hidden % 4",
    { decoder_hidden_size: 6, decoder_num_attention_heads: 3 },
    "decoder_hidden_size",
    "6",
  ],
  ["image height not divisible by patch", { image_size: [30, 32], patch_size: 8 }, "image_size", "[30, 32]"],
  ["image width not divisible by patch width", { image_size: 32, patch_size: [8, 6] }, "image_size", "32"],
  ["patch taller than image", { image_size: [8, 32], patch_size: 16 }, "image_size", "[8, 32]"],
  ["image_size of one element", { image_size: [32] }, "image_size", "[32]"],
  ["image_size of three elements", { image_size: [32, 32, 3] }, "image_size", "[32, 32, 3]"],
  ["patch_size with a string", { patch_size: [8, "8"] }, "patch_size", '[8, "8"]'],
  ["mask_ratio 1", { mask_ratio: 1 }, "mask_ratio", "1"],
  ["negative mask_ratio", { mask_ratio: -0.1 }, "mask_ratio", "-0.1"],
  ["infinite mask_ratio", { mask_ratio: Infinity }, "mask_ratio", "Infinity"],
  ["dropout above 1", { hidden_dropout_prob: 1.5 }, "hidden_dropout_prob", "1.5"],
  ["negative attention dropout", { attention_probs_dropout_prob: -0.1 }, "attention_probs_dropout_prob", "-0.1"],
  ["zero layer_norm_eps", { layer_norm_eps: 0 }, "layer_norm_eps", "0"],
  ["negative layer_norm_eps", { layer_norm_eps: -1e-6 }, "layer_norm_eps", "-0.000001"],
  ["negative initializer_range", { initializer_range: -0.02 }, "initializer_range", "-0.02"],
  ["zero channels", { num_channels: 0 }, "num_channels", "0"],
  ["another model type", { model_type: "bert" }, "model_type", '"bert"'],
  ["extra key with NaN", { my_stat: NaN }, "my_stat", "NaN"],
  ["extra key with a function", { my_hook: () => 1 }, "my_hook", "a function"],
];

test("each validation rule gives a ConfigError naming the field, the value and the file", () => {
  for (const [rule, json, field, shown] of RULES) {
    const err = errorOf(parseConfig(json, "models/x/config.json"));
    assert.deepEqual(
      err.issues.map((i) => i.field),
      [field],
      `${rule}: ${err.message}`,
    );
    assert.ok(err.message.includes(`${field} = ${shown}`), `${rule}: message names field and value: ${err.message}`);
    assert.ok(err.message.includes("models/x/config.json"), `${rule}: message names the file`);
    assert.equal(err.source, "models/x/config.json");
  }
  const act = errorOf(parseConfig({ hidden_act: "mish" })).message;
  for (const a of SUPPORTED_ACTIVATIONS) assert.ok(act.includes(`"${a}"`), `the activation error lists ${a}`);
  const image = errorOf(parseConfig({ image_size: 30, patch_size: 8 }));
  assert.deepEqual(
    image.issues.map((i) => i.problem),
    ["height 30 is not divisible by the patch_size height 8", "width 30 is not divisible by the patch_size width 8"],
  );
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.match(errorOf(parseConfig({ loop: cyclic })).message, /^invalid ViTMAE config: loop = .*cyclic/);
  for (const notObject of [null, [], "config", 42, undefined]) {
    assert.deepEqual(
      errorOf(parseConfig(notObject)).issues.map((i) => i.field),
      ["config"],
      String(notObject),
    );
  }
});

test("boundary values that are valid stay valid", () => {
  const edge = right(
    parseConfig({
      mask_ratio: 0,
      hidden_dropout_prob: 1,
      attention_probs_dropout_prob: 0,
      initializer_range: 0,
      layer_norm_eps: 1e-30,
      num_hidden_layers: 0,
      decoder_num_hidden_layers: 0,
      num_channels: 1,
      image_size: [16, 16],
      patch_size: 16,
      hidden_act: "quick_gelu",
    }),
  );
  assert.deepEqual([edge.maskRatio, edge.numHiddenLayers, edge.numPatches, edge.gridSize], [0, 0, 1, [1, 1]]);
  for (const act of SUPPORTED_ACTIVATIONS) assert.equal(right(parseConfig({ hidden_act: act })).hiddenAct, act);
});

test("all problems are reported at once; a rule needing a field that is itself bad stays silent", () => {
  const err = errorOf(
    parseConfig(
      {
        hidden_size: "768",
        num_attention_heads: 5,
        mask_ratio: 1,
        image_size: 30,
        patch_size: 8,
        qkv_bias: 1,
        decoder_hidden_size: 6,
        model_type: "vit",
      },
      "bad.json",
    ),
  );
  assert.deepEqual(err.issues.map((i) => i.field).sort(), [
    "decoder_hidden_size",
    "decoder_hidden_size",
    "hidden_size",
    "image_size",
    "image_size",
    "mask_ratio",
    "model_type",
    "qkv_bias",
  ]);
  assert.match(err.message, /^invalid ViTMAE config in bad\.json \(8 problems\):\n/);
  for (const i of err.issues) assert.ok(err.message.includes(`${i.field} = `), i.field);
});

test("[height, width] sizes give the grid, patch count and patch length, and are written back as pairs", () => {
  const wide = right(parseConfig({ image_size: [32, 48], patch_size: 8 }));
  assert.deepEqual([wide.imageSize, wide.gridSize, wide.numPatches, wide.patchDim], [[32, 48], [4, 6], 24, 192]);
  const rect = right(parseConfig({ image_size: [32, 48], patch_size: [4, 8], num_channels: 1 }));
  assert.deepEqual([rect.patchSize, rect.gridSize, rect.numPatches, rect.patchDim], [[4, 8], [8, 6], 48, 32]);
  assert.deepEqual(
    [toHFJson(rect).image_size, toHFJson(rect).patch_size],
    [
      [32, 48],
      [4, 8],
    ],
  );
  const squarePair = right(parseConfig({ image_size: [32, 32], patch_size: 8 }));
  assert.deepEqual(
    [toHFJson(squarePair).image_size, toHFJson(squarePair).patch_size],
    [[32, 32], 8],
    "each written as it was given",
  );
  assert.deepEqual(right(makeConfig({ imageSize: [32, 48], patchSize: 8 })), wide);
});

test("makeConfig: overrides over a base, unknown fields and clashing extras are errors, unsafeConfig throws", () => {
  const half = right(makeConfig({ maskRatio: 0.5 }, tiny));
  assert.deepEqual(fieldsOf(half), { ...fieldsOf(tiny), maskRatio: 0.5 });
  const noted = right(makeConfig({ extra: { note: "x" } }, tiny));
  assert.deepEqual(right(makeConfig({ numHiddenLayers: 3 }, noted)).extra, { note: "x" }, "extras come from the base");
  const typo = errorOf(makeConfig({ hiddenSzie: 64 } as unknown as ConfigOverrides)); // as from untyped JS
  assert.match(typo.message, /hiddenSzie = 64: is not a ViTMAEConfig field/);
  assert.deepEqual(
    errorOf(makeConfig({ extra: { hidden_size: 8 } })).issues.map((i) => i.field),
    ["hidden_size"],
  );
  assert.deepEqual(
    errorOf(makeConfig({ hiddenSize: 66 })).issues.map((i) => i.field),
    ["hidden_size", "hidden_size"],
  );
  assert.throws(
    () => unsafeConfig({ maskRatio: 1.5 }),
    (e: unknown) => e instanceof ConfigError && /mask_ratio = 1\.5/.test(e.message),
  );
  assert.throws(() => getOrThrow(parseConfig({ num_channels: -3 })), ConfigError);
  assert.equal(getOrThrow(makeConfig({ numChannels: 1 })).numChannels, 1);
});

test("configFromFile: a missing file, bad JSON or a huge file is a ConfigError naming the file", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "vitmae-config-"));
  const missing = path.join(dir, "nope.json");
  assert.match(errorOf(configFromFile(missing)).message, new RegExp(`file = "${missing}": no such file`));
  assert.match(errorOf(configFromFile(dir)).message, /config\.json": no such file/, "a folder without config.json");
  const broken = path.join(dir, "broken.json");
  writeFileSync(broken, '{"hidden_size": 64,');
  const bad = errorOf(configFromFile(broken));
  assert.equal(bad.source, broken);
  assert.match(bad.message, /is not valid JSON/);
  const big = path.join(dir, "big.json");
  writeFileSync(big, `{"pad": "${"x".repeat(1 << 21)}"}`);
  assert.match(errorOf(configFromFile(big)).message, /over the 1048576-byte limit for a config\.json/);
  assert.match(
    errorOf(configFromFile("/dev/null")).message,
    /is not a regular file/,
    "a device is never read (it could block)",
  );
  const wrong = path.join(dir, "wrong.json");
  writeFileSync(wrong, '{"hidden_size": 12.5}');
  assert.match(errorOf(configFromFile(wrong)).message, new RegExp(`in ${wrong}: hidden_size = 12\\.5`));
});

// Valid overrides by construction: hidden = 4·heads·k, image = patch·grid per side, sizes as int or [h, w].
const sizeArb = (patchMax: number, gridMax: number) =>
  fc.tuple(fc.integer({ min: 1, max: patchMax }), fc.integer({ min: 1, max: gridMax }));
const validArb = fc.record({
  heads: fc.integer({ min: 1, max: 8 }),
  k: fc.integer({ min: 1, max: 8 }),
  decHeads: fc.integer({ min: 1, max: 8 }),
  decK: fc.integer({ min: 1, max: 8 }),
  h: sizeArb(16, 8),
  w: sizeArb(16, 8),
  square: fc.boolean(),
  patchAsInt: fc.boolean(),
  channels: fc.integer({ min: 1, max: 4 }),
  layers: fc.nat(4),
  decLayers: fc.nat(4),
  mlp: fc.integer({ min: 1, max: 512 }),
  decMlp: fc.integer({ min: 1, max: 512 }),
  act: fc.constantFrom(...SUPPORTED_ACTIVATIONS),
  dropout: fc.double({ min: 0, max: 1, noNaN: true }),
  attnDropout: fc.double({ min: 0, max: 1, noNaN: true }),
  std: fc.double({ min: 0, max: 10, noNaN: true }),
  eps: fc.double({ min: 1e-30, max: 1, noNaN: true }),
  maskRatio: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  qkvBias: fc.boolean(),
  normPixLoss: fc.boolean(),
  extra: fc.dictionary(
    fc.string().map((s) => `x_${s}`),
    fc.jsonValue(),
    { maxKeys: 3 },
  ),
});

test("property: valid configs are accepted, derived sizes are right, and parseConfig(toHFJson(c)) equals c", () => {
  fc.assert(
    fc.property(validArb, (v) => {
      const [[ph, gh], [pw, gw]] = v.square ? [v.h, v.h] : [v.h, v.w];
      const overrides: ConfigOverrides = {
        hiddenSize: 4 * v.heads * v.k,
        numAttentionHeads: v.heads,
        numHiddenLayers: v.layers,
        intermediateSize: v.mlp,
        decoderHiddenSize: 4 * v.decHeads * v.decK,
        decoderNumAttentionHeads: v.decHeads,
        decoderNumHiddenLayers: v.decLayers,
        decoderIntermediateSize: v.decMlp,
        hiddenAct: v.act,
        hiddenDropoutProb: v.dropout,
        attentionProbsDropoutProb: v.attnDropout,
        initializerRange: v.std,
        layerNormEps: v.eps,
        maskRatio: v.maskRatio,
        qkvBias: v.qkvBias,
        normPixLoss: v.normPixLoss && ph * pw * v.channels > 1, // one-value patches have no variance (refused)
        numChannels: v.channels,
        extra: v.extra,
        imageSize: v.square ? ph * gh : [ph * gh, pw * gw],
        patchSize: v.square && v.patchAsInt ? ph : [ph, pw],
      };
      const c = right(makeConfig(overrides));
      assert.deepEqual([c.gridSize, c.numPatches, c.patchDim], [[gh, gw], gh * gw, ph * pw * v.channels]);
      assert.deepEqual([c.headDim, c.decoderHeadDim], [4 * v.k, 4 * v.decK]);
      assert.deepEqual(right(parseConfig(toHFJson(c))), c);
      // through JSON text as well: writing what was read gives the same text
      const text = JSON.stringify(toHFJson(c));
      assert.equal(JSON.stringify(toHFJson(right(parseConfig(JSON.parse(text))))), text);
    }),
    { numRuns: 300 },
  );
});

test("presets are valid, round-trip, and carry the Hub / brief numbers", () => {
  const table = (c: ViTMAEConfig) => [
    c.imageSize[0],
    c.patchSize[0],
    c.numChannels,
    c.hiddenSize,
    c.numHiddenLayers,
    c.numAttentionHeads,
    c.intermediateSize,
    c.decoderHiddenSize,
    c.decoderNumHiddenLayers,
    c.decoderNumAttentionHeads,
    c.decoderIntermediateSize,
    c.maskRatio,
    c.normPixLoss,
    c.numPatches,
  ];
  assert.deepEqual(table(base), [224, 16, 3, 768, 12, 12, 3072, 512, 8, 16, 2048, 0.75, false, 196]);
  assert.deepEqual(table(large), [224, 16, 3, 1024, 24, 16, 4096, 512, 8, 16, 2048, 0.75, false, 196]);
  assert.deepEqual(table(huge), [224, 14, 3, 1280, 32, 16, 5120, 512, 8, 16, 2048, 0.75, false, 256]);
  assert.deepEqual(table(tiny), [32, 8, 3, 64, 2, 4, 128, 32, 1, 4, 64, 0.75, false, 16]);
  assert.deepEqual(table(mnist), [28, 4, 1, 64, 4, 4, 128, 64, 2, 4, 128, 0.75, false, 49]);
  assert.deepEqual(fieldsOf(base), SPEC_DEFAULTS, "facebook/vit-mae-base is HF's default config");
  assert.deepEqual([...presetNames].sort(), Object.keys(presets).sort());
  for (const name of presetNames) {
    const c = right(preset(name));
    assert.equal(c, presets[name]);
    assert.deepEqual(right(parseConfig(toHFJson(c))), c, name);
    assert.equal(c.layerNormEps, 1e-12, name);
  }
  const unknown = errorOf(preset("gigantic"));
  assert.match(unknown.message, /preset = "gigantic": is not a preset; known presets: base, large, huge, tiny, mnist/);
});

test("finding 12: norm_pix_loss with one-value patches (1x1, one channel) is refused: its variance is 0/0", () => {
  const err = errorOf(parseConfig({ patch_size: 1, image_size: 4, num_channels: 1, norm_pix_loss: true }));
  assert.match(err.message, /norm_pix_loss = true: needs patches of at least 2 values/);
  for (const ok of [
    { patch_size: 1, image_size: 4, num_channels: 1, norm_pix_loss: false },
    { patch_size: 1, image_size: 4, num_channels: 2, norm_pix_loss: true },
    { patch_size: [1, 2], image_size: 4, num_channels: 1, norm_pix_loss: true },
  ])
    assert.ok(isRight(parseConfig(ok)), JSON.stringify(ok));
});
