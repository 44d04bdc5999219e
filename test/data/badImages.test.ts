// Unreadable images found before training: the cheap scan (headers and structure, a few reads per
// file) against the decoder on whole and cut files, and the two ways a run leaves bad images out.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { skippingUnreadable, withoutBad } from "../../src/data/badImages.ts";
import { subsetDataset, type BadExample, type Dataset } from "../../src/data/dataset.ts";
import { imageFolderDataset } from "../../src/data/imageFolderDataset.ts";
import { bytesReader, decodeImage, encodePng, ImageError } from "../../src/io/image.ts";
import { scanImage } from "../../src/io/imageScan.ts";
import { scanImageFile } from "../../src/node/imageFile.ts";
import { pictureOf } from "../helpers/pretrainFixture.ts";

const dir = mkdtempSync(join(tmpdir(), "vitmae-bad-images-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A small JPEG written by PIL (8x8 gray), as in test/io/image.test.ts. */
const JPEG = Buffer.from(
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoK" +
    "CgoKBggLDAsKDAkKCgr/wAALCAAIAAgBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUF" +
    "BAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVW" +
    "V1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi" +
    "4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/API/+CSX7JP/ACDP+JZ/c/gr/9k=",
  "base64",
);

const scans = (bytes: Uint8Array) => {
  try {
    scanImage(bytesReader(bytes), "x");
    return true;
  } catch (e) {
    assert.ok(e instanceof ImageError, String(e));
    return false;
  }
};

test("the scan passes whole PNGs and JPEGs and fails every cut of them (property over random PNGs)", () => {
  assert.ok(scans(JPEG));
  for (let cut = 0; cut < JPEG.length; cut++) assert.ok(!scans(JPEG.subarray(0, cut)), `JPEG cut at ${cut}`);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.nat(), (w, h, seed) => {
      const data = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 31 + seed) % 256);
      const png = encodePng(data, w, h, 3);
      assert.ok(scans(png));
      assert.deepEqual(decodeImage(png, "x").data, data, "what the scan passes decodes");
      for (const cut of [0, 8, 20, 33, 40, png.length - 12, png.length - 1]) {
        if (cut < png.length) assert.ok(!scans(png.subarray(0, cut)), `PNG ${w}x${h} cut at ${cut} of ${png.length}`);
      }
    }),
    { numRuns: 40 },
  );
});

test("scanImageFile names the file and the problem: truncated, empty, GIF, text, a folder", () => {
  const { data, width, height } = pictureOf(1);
  const png = encodePng(data, width, height, 3);
  const cases: [string, Uint8Array | "folder", RegExp][] = [
    ["cut.png", png.subarray(0, 60), /truncated PNG: chunk IDAT at byte 33 needs/],
    ["cut.jpg", JPEG.subarray(0, JPEG.length - 2), /truncated JPEG \(no end-of-image marker/],
    ["empty.png", new Uint8Array(0), /the file is empty/],
    ["anim.png", Buffer.from("GIF89a........"), /GIF images are not supported/],
    ["notes.jpg", Buffer.from("hello, world"), /not a PNG or JPEG file/],
    ["sub.png", "folder", /is a folder, not a file/],
  ];
  for (const [name, bytes, why] of cases) {
    const path = join(dir, name);
    if (bytes === "folder") mkdirSync(path);
    else writeFileSync(path, bytes);
    assert.throws(
      () => scanImageFile(path),
      (e: Error) =>
        e instanceof ImageError && e.message.startsWith(`image ${JSON.stringify(path)}: `) && why.test(e.message),
      name,
    );
  }
  const good = join(dir, "good.png");
  writeFileSync(good, png);
  scanImageFile(good);
});

test("an image folder's scan lists every bad file; a subset's scan keeps its own indices", () => {
  const folder = join(dir, "folder");
  mkdirSync(folder);
  for (let i = 0; i < 6; i++) {
    const { data, width, height } = pictureOf(i);
    const png = encodePng(data, width, height, 3);
    writeFileSync(join(folder, `img${i}.png`), i === 2 || i === 4 ? png.subarray(0, 50) : png);
  }
  const dataset = imageFolderDataset(folder);
  assert.deepEqual(
    dataset.scan!().map((b) => [b.index, b.source]),
    [
      [2, join(folder, "img2.png")],
      [4, join(folder, "img4.png")],
    ],
  );
  const subset = subsetDataset(dataset, [4, 0, 2], "subset");
  assert.deepEqual(
    subset.scan!().map((b) => b.index),
    [0, 2],
  );
  const clean = withoutBad(dataset, dataset.scan!());
  assert.equal(clean.size, 4);
  assert.deepEqual(clean.scan!(), []);
});

test("skippingUnreadable replaces a bad example by the next readable one, the same every time, and reports it once", () => {
  const images = Array.from({ length: 5 }, (_, i) => pictureOf(i));
  const bad = new Set([1, 2, 4]);
  const dataset: Dataset = {
    name: "d",
    size: 5,
    get: (i) => {
      if (bad.has(i)) throw new ImageError(`img${i}.png`, "corrupt PNG");
      return { image: images[i] };
    },
  };
  const reported: BadExample[] = [];
  const skipping = skippingUnreadable(dataset, (b) => void reported.push(b));
  const served = [0, 1, 2, 3, 4, 1, 4].map((i) => images.indexOf(skipping.get(i).image));
  assert.deepEqual(served, [0, 3, 3, 3, 0, 3, 0]);
  assert.deepEqual(
    reported.map((b) => b.source),
    ["img1.png", "img2.png", "img4.png"],
  );
  bad.add(0);
  bad.add(3);
  assert.throws(() => skippingUnreadable(dataset, () => {}).get(0), /no readable image is left/);
});
