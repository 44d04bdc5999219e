// HF ViTImageProcessor-exact preprocessing: rescale/normalize numbers, channel conversion, config files, unnormalize.

import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import type { Image } from "../../src/io/image.ts";
import { convertChannels, PreprocessError } from "../../src/data/convertChannels.ts";
import { preprocess, preprocessOptions, unnormalize } from "../../src/data/preprocess.ts";
import {
  DEFAULT_PREPROCESSOR_CONFIG,
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  PreprocessorConfigError,
} from "../../src/data/preprocessorConfig.ts";
import { readPreprocessorConfig } from "../../src/node/preprocessorConfigFile.ts";

const dir = mkdtempSync(join(tmpdir(), "vitmae-preprocess-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const rgb = (width: number, height: number, values: number[]): Image => ({
  width,
  height,
  channels: 3,
  data: Uint8Array.from(values),
});
const gray = (width: number, height: number, values: number[]): Image => ({
  width,
  height,
  channels: 1,
  data: Uint8Array.from(values),
});
const f32 = Math.fround;

describe("rescale and normalize", () => {
  test("one RGB pixel: (v/255 - mean)/std per channel, in float32 as numpy does", () => {
    const out = preprocess(rgb(1, 1, [0, 128, 255]), { height: 1, width: 1, channels: 3 });
    // By hand: (0 - 0.485)/0.229, (128/255 - 0.456)/0.224, (1 - 0.406)/0.225.
    const approx = [-2.1179039301, 0.2051820728, 2.64];
    out.forEach((v, c) => assert.ok(Math.abs(v - approx[c]) < 2e-6, `channel ${c}: ${v} vs ${approx[c]}`));
    // Bit for bit: float64 rescale cast to float32, then float32 subtract and divide.
    const exact = [0, 128, 255].map((v, c) =>
      f32(f32(f32(v * (1 / 255)) - f32(IMAGENET_DEFAULT_MEAN[c])) / f32(IMAGENET_DEFAULT_STD[c])),
    );
    assert.deepEqual([...out], exact);
  });

  test("output is planar [C, H, W]; do_rescale / do_normalize switch their step off", () => {
    const img = rgb(2, 1, [10, 20, 30, 40, 50, 60]);
    const plain = preprocess(img, { height: 1, width: 2, channels: 3, doNormalize: false, doRescale: false });
    assert.deepEqual([...plain], [10, 40, 20, 50, 30, 60]);
    const halves = preprocess(img, { height: 1, width: 2, channels: 3, mean: 0.5, std: 0.5 });
    assert.deepEqual(
      [...halves],
      [10, 40, 20, 50, 30, 60].map((v) => f32(f32(f32(v / 255) - 0.5) / 0.5)),
    );
  });

  test("resize then normalize: a 2x2 gray image at 4x4 (PIL bilinear values from the resize test)", () => {
    const out = preprocess(gray(2, 2, [0, 255, 100, 20]), { height: 4, width: 4, channels: 1, mean: 0.5, std: 0.25 });
    const resized = [0, 64, 191, 255, 25, 68, 153, 196, 75, 76, 78, 79, 100, 80, 40, 20];
    assert.deepEqual(
      [...out],
      resized.map((v) => f32(f32(f32(v / 255) - 0.5) / 0.25)),
    );
  });

  test("a 1-channel model takes the first of 3 means and stds", () => {
    const out = preprocess(gray(1, 1, [200]), {
      height: 1,
      width: 1,
      channels: 1,
      mean: IMAGENET_DEFAULT_MEAN,
      std: IMAGENET_DEFAULT_STD,
    });
    assert.deepEqual([...out], [f32(f32(f32(200 / 255) - f32(0.485)) / f32(0.229))]);
  });

  test("mean/std of the wrong length, a zero std, do_resize false at the wrong size: clear errors", () => {
    const img = rgb(1, 1, [1, 2, 3]);
    assert.throws(
      () => preprocess(img, { height: 1, width: 1, channels: 3, mean: [0.1, 0.2] }),
      /mean \[0.1,0.2\] has 2 values for an image with 3 channels/,
    );
    assert.throws(
      () => preprocess(img, { height: 1, width: 1, channels: 3, std: [1, 0, 1] }),
      /std \[1,0,1\] has a zero/,
    );
    const named = { ...img, source: "cat.png" };
    assert.throws(
      () => preprocess(named, { height: 2, width: 2, channels: 3, doResize: false }),
      /image "cat.png" is 1x1 but the model takes 2x2, and do_resize is false/,
    );
  });
});

describe("channel conversion", () => {
  test("gray -> RGB replicates the gray plane", () => {
    const out = preprocess(gray(2, 1, [30, 220]), { height: 1, width: 2, channels: 3, mean: 0, std: 1 });
    assert.deepEqual(
      [...out],
      [30, 220, 30, 220, 30, 220].map((v) => f32(v / 255)),
    );
  });

  test("RGB -> L rounds like PIL (pure red 76, green 150, blue 29), and matches PIL on a 6x5 image", () => {
    const l = convertChannels(rgb(3, 1, [255, 0, 0, 0, 255, 0, 0, 0, 255]), 1);
    assert.deepEqual([...l.data], [76, 150, 29]); // 76.245, 149.685 (150, not the truncated 149), 29.07
    const src = [
      12, 200, 45, 90, 255, 0, 77, 33, 180, 210, 16, 128, 250, 5, 64, 140, 99, 31, 0, 255, 120, 60, 175, 222, 43, 188,
      11, 240, 7, 150,
    ];
    const img = new Uint8Array(90);
    src.forEach((v, p) => img.set([v, 255 - v, (v * 3) % 256], 3 * p));
    // PIL 9.4: Image.fromarray(img, "RGB").convert("L").
    const pil = [
      150, 102, 152, 125, 105, 150, 154, 151, 101, 103, 151, 127, 105, 150, 153, 128, 126, 151, 150, 105, 127, 153, 101,
      103, 152, 101, 150, 104, 150, 129,
    ];
    assert.deepEqual([...convertChannels({ width: 6, height: 5, channels: 3, data: img }, 1).data], pil);
  });

  test("channels that cannot be reconciled name the image, its channels and the model's", () => {
    const rgba = { width: 1, height: 1, channels: 4, data: new Uint8Array(4), source: "a.png" } as unknown as Image; // malformed on purpose
    assert.throws(
      () => preprocess(rgba, { height: 1, width: 1, channels: 3 }),
      (e: unknown) => e instanceof PreprocessError && /image "a.png" has 4 channels/.test(e.message),
    );
    assert.throws(
      () => preprocess({ ...gray(1, 1, [0]), source: "b.png" }, { height: 1, width: 1, channels: 2 }),
      /image "b.png": the model wants 2 channels/,
    );
    assert.throws(
      () => preprocess({ ...gray(2, 2, [0]), source: "c.png" }, { height: 1, width: 1, channels: 1 }),
      /image "c.png": 2x2x1 needs 4 bytes of HWC data, got 1 bytes/,
    );
  });
});

describe("unnormalize", () => {
  test("unnormalize(preprocess(image)) gives the image back, for any mean and std", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(1 as const, 3 as const),
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: 0.05, max: 3, noNaN: true }),
        fc.integer(),
        (width, height, channels, mean, std, seed) => {
          const data = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 2654435761 + seed) >>> 24);
          const pixels = preprocess({ width, height, channels, data }, { height, width, channels, mean, std });
          assert.deepEqual(unnormalize(pixels, { channels, height, width }, mean, std).data, data);
        },
      ),
      { numRuns: 100 },
    );
  });

  test("values out of range are clipped and NaN becomes 0", () => {
    const out = unnormalize(Float32Array.from([-100, 100, NaN]), { channels: 1, height: 1, width: 3 }, 0, 1);
    assert.deepEqual([...out.data], [0, 255, 0]);
    assert.throws(
      () => unnormalize(new Float32Array(5), { channels: 3, height: 1, width: 2 }),
      /needs 6 values, got 5/,
    );
  });
});

describe("preprocessor_config.json", () => {
  test("absent: the MAE defaults (ImageNet mean/std, bilinear, 1/255)", () => {
    const config = readPreprocessorConfig(dir);
    assert.deepEqual(config, { ...DEFAULT_PREPROCESSOR_CONFIG });
    assert.deepEqual(config.imageMean, [0.485, 0.456, 0.406]);
    assert.equal(config.size, undefined);
  });

  test("facebook/vit-mae-base's file, and a file that leaves keys out (HF's class defaults, 0.5)", () => {
    const base = join(dir, "base");
    mkdirSync(base);
    writeFileSync(
      join(base, "preprocessor_config.json"),
      JSON.stringify({
        do_normalize: true,
        do_resize: true,
        feature_extractor_type: "ViTFeatureExtractor",
        image_mean: [0.485, 0.456, 0.406],
        image_std: [0.229, 0.224, 0.225],
        resample: 3,
        size: 224,
      }),
    );
    const config = readPreprocessorConfig(base);
    assert.deepEqual(config.size, { height: 224, width: 224 });
    assert.equal(config.resample, "bicubic");
    assert.deepEqual(config.imageStd, [0.229, 0.224, 0.225]);
    const options = preprocessOptions(config, { height: 224, width: 224, channels: 3 });
    assert.equal(options.resample, "bicubic");

    const sparse = join(dir, "sparse");
    mkdirSync(sparse);
    writeFileSync(
      join(sparse, "preprocessor_config.json"),
      JSON.stringify({ size: { height: 32, width: 48 }, do_rescale: false }),
    );
    const s = readPreprocessorConfig(sparse);
    assert.deepEqual(
      [s.imageMean, s.imageStd, s.size, s.doRescale, s.resample],
      [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], { height: 32, width: 48 }, false, "bilinear"],
    );
  });

  test("bad JSON, a bad field, or no folder: errors naming the file and the key", () => {
    const bad = join(dir, "bad");
    mkdirSync(bad);
    const file = join(bad, "preprocessor_config.json");
    writeFileSync(file, "{ not json");
    assert.throws(
      () => readPreprocessorConfig(bad),
      (e: unknown) =>
        e instanceof PreprocessorConfigError &&
        e.message.includes(JSON.stringify(file)) &&
        /not valid JSON/.test(e.message),
    );
    writeFileSync(file, JSON.stringify({ image_std: [0.5, "x", 0.5] }));
    assert.throws(() => readPreprocessorConfig(bad), /"image_std" must be a number or a list of numbers/);
    writeFileSync(file, JSON.stringify({ size: { shortest_edge: 224 } }));
    assert.throws(
      () => readPreprocessorConfig(bad),
      /"size" must be a positive integer or \{"height": h, "width": w\}/,
    );
    writeFileSync(file, JSON.stringify({ resample: 9 }));
    assert.throws(() => readPreprocessorConfig(bad), /"resample" must be a PIL filter code 0-5/);
    assert.throws(() => readPreprocessorConfig(join(dir, "missing")), /does not exist or is not a folder/);
  });
});
