// Dataset sources (the embedded MNIST, IDX files, image folders), data specs and the held-out split.

import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { key } from "../../src/core/prng.ts";
import { encodeIdx, IdxError } from "../../src/io/idx.ts";
import { encodePng, ImageError } from "../../src/io/image.ts";
import { DatasetError, type Dataset } from "../../src/data/dataset.ts";
import { idxDataset } from "../../src/data/idxDataset.ts";
import { imageFolderDataset } from "../../src/data/imageFolderDataset.ts";
import { mnistDataset } from "../../src/data/mnistDataset.ts";
import { parseDataSpec } from "../../src/data/parseDataSpec.ts";
import { splitDataset } from "../../src/data/splitDataset.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-datasets-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes a w x h gray PNG whose every pixel is `value`. */
function writePng(path: string, value: number, w = 3, h = 2): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodePng(new Uint8Array(w * h).fill(value), w, h, 1));
}

const labelsOf = (ds: Dataset) => Array.from({ length: ds.size }, (_, i) => ds.get(i).label);

describe("mnistDataset", () => {
  test("10,000 digits, 28x28 gray, labelled 0-9 in digit order", () => {
    const ds = mnistDataset();
    assert.deepEqual([ds.name, ds.size, ds.numClasses], ["mnist", 10000, 10]);
    const labels = labelsOf(ds) as number[];
    const counts = Array<number>(10).fill(0);
    labels.forEach((l) => counts[l]++);
    assert.deepEqual(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]); // the package's files
    assert.ok(
      labels.every((l, i) => i === 0 || l >= labels[i - 1]),
      "digit by digit",
    );
    const { image } = ds.get(4321);
    assert.deepEqual([image.width, image.height, image.channels, image.data.length], [28, 28, 1, 784]);
    assert.deepEqual(ds.get(4321).image.data, image.data);
    assert.throws(
      () => ds.get(10000),
      (e: unknown) => e instanceof DatasetError && /index 10000 is out of range \[0, 10000\)/.test(e.message),
    );
  });

  test("pixels are round(v * 255) of the package's floats", () => {
    const dir = join(dirname(createRequire(import.meta.url).resolve("mnist/package.json")), "src", "digits");
    const floats = (JSON.parse(readFileSync(join(dir, "1.json"), "utf8")) as { data: number[] }).data;
    const firstOne = mnistDataset().get(1001); // the first 1 comes after the 1001 zeros
    assert.equal(firstOne.label, 1);
    assert.deepEqual(
      [...firstOne.image.data],
      floats.slice(0, 784).map((v) => Math.round(v * 255)),
    );
    assert.ok(firstOne.image.data.some((v) => v === 255) && firstOne.image.data.some((v) => v > 0 && v < 255));
  });
});

describe("idxDataset", () => {
  const folder = join(root, "fashion");
  mkdirSync(folder);
  const images = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
  writeFileSync(join(folder, "train-images-idx3-ubyte.gz"), gzipSync(encodeIdx([3, 2, 2], images)));
  writeFileSync(join(folder, "train-labels-idx1-ubyte"), encodeIdx([3], Uint8Array.from([9, 0, 4])));
  writeFileSync(join(folder, "t10k-images-idx3-ubyte"), encodeIdx([1, 2, 2], Uint8Array.from([1, 2, 3, 4])));

  test("a folder with the standard names (gzipped images, plain labels)", () => {
    const ds = idxDataset(folder);
    assert.deepEqual([ds.size, ds.numClasses, labelsOf(ds)], [3, 10, [9, 0, 4]]);
    const { image } = ds.get(2);
    assert.deepEqual([image.width, image.height, image.channels, [...image.data]], [2, 2, 1, [160, 180, 200, 220]]);
  });

  test("the t10k split, here without labels; an images file given directly finds its labels file", () => {
    const test10k = idxDataset(folder, undefined, { split: "t10k" });
    assert.deepEqual([test10k.size, test10k.numClasses, test10k.get(0).label], [1, undefined, undefined]);
    const direct = idxDataset(join(folder, "train-images-idx3-ubyte.gz"));
    assert.deepEqual([direct.size, labelsOf(direct)], [3, [9, 0, 4]]);
    writeFileSync(join(root, "other-labels"), encodeIdx([3], Uint8Array.from([1, 2, 3])));
    assert.deepEqual(
      labelsOf(idxDataset(join(folder, "train-images-idx3-ubyte.gz"), join(root, "other-labels"))),
      [1, 2, 3],
    );
  });

  test("labels that do not match the images, and a folder without IDX files", () => {
    const bad = join(root, "bad-idx");
    mkdirSync(bad);
    writeFileSync(join(bad, "train-images-idx3-ubyte"), encodeIdx([2, 1, 1], Uint8Array.from([1, 2])));
    writeFileSync(join(bad, "train-labels-idx1-ubyte"), encodeIdx([3], Uint8Array.from([1, 2, 3])));
    assert.throws(
      () => idxDataset(bad),
      (e: unknown) => e instanceof IdxError && /3 labels for the 2 images/.test(e.message),
    );
    assert.throws(() => idxDataset(root), /has no train-images-idx3-ubyte/);
    assert.throws(() => idxDataset(join(root, "absent")), /does not exist/);
  });
});

describe("imageFolderDataset", () => {
  const dir = join(root, "pets");
  // Made out of order on purpose: classes and files are sorted, nested files included, non-images skipped.
  writePng(join(dir, "cat", "b.png"), 30);
  writePng(join(dir, "cat", "a.png"), 20);
  writePng(join(dir, "ant", "z.png"), 10);
  writePng(join(dir, "bee", "deep", "x.png"), 50);
  writePng(join(dir, "bee", "c.png"), 40);
  writeFileSync(join(dir, "bee", "notes.txt"), "not an image");
  writePng(join(dir, "bee", ".hidden.png"), 99);

  test("one subfolder per class: sorted class names, labels, sorted files, lazily read", () => {
    const ds = imageFolderDataset(dir);
    assert.deepEqual([ds.name, ds.size, ds.numClasses, ds.classNames], ["pets", 5, 3, ["ant", "bee", "cat"]]);
    const seen = Array.from({ length: ds.size }, (_, i) => [ds.get(i).label, ds.get(i).image.data[0]]);
    assert.deepEqual(seen, [
      [0, 10],
      [1, 40],
      [1, 50],
      [2, 20],
      [2, 30],
    ]);
    assert.equal(ds.get(3).image.source, join(dir, "cat", "a.png"));
  });

  test("a flat folder is unlabelled", () => {
    const flat = join(root, "flat");
    writePng(join(flat, "2.png"), 2);
    writePng(join(flat, "1.png"), 1);
    const ds = imageFolderDataset(flat);
    assert.deepEqual([ds.size, ds.numClasses, ds.get(0).label, ds.get(0).image.data[0]], [2, undefined, undefined, 1]);
  });

  test("missing, empty, image-less folders, an empty class, mixed layouts, a bad file", () => {
    const error = (f: () => unknown, re: RegExp) =>
      assert.throws(f, (e: unknown) => e instanceof DatasetError && re.test(e.message));
    error(() => imageFolderDataset(join(root, "nowhere")), /folder ".*nowhere" does not exist/);
    mkdirSync(join(root, "empty"));
    error(() => imageFolderDataset(join(root, "empty")), /folder ".*empty" is empty/);
    writeFileSync(join(root, "empty", "readme.txt"), "hi");
    error(
      () => imageFolderDataset(join(root, "empty")),
      /no images found in ".*empty": 1 file\(s\), none \.png\/\.jpg\/\.jpeg/,
    );
    mkdirSync(join(root, "classes", "dog"), { recursive: true });
    writePng(join(root, "classes", "cat", "1.png"), 1);
    error(() => imageFolderDataset(join(root, "classes")), /class folder ".*dog" has no \.png\/\.jpg\/\.jpeg images/);
    writePng(join(root, "classes", "dog", "1.png"), 1);
    writePng(join(root, "classes", "loose.png"), 1);
    error(
      () => imageFolderDataset(join(root, "classes")),
      /has class subfolders and also 1 image\(s\) at its top level/,
    );
    error(() => imageFolderDataset(join(root, "flat", "1.png")), /is a file, not a folder/);
    const broken = join(root, "broken");
    mkdirSync(broken);
    writeFileSync(join(broken, "x.png"), "not a png");
    assert.throws(
      () => imageFolderDataset(broken).get(0),
      (e: unknown) => e instanceof ImageError && e.message.includes("x.png"),
    );
  });
});

describe("parseDataSpec", () => {
  test("mnist, idx:PATH, idx:PATH:t10k, an IDX folder, an image folder", () => {
    assert.equal(parseDataSpec("mnist").size, 10000);
    assert.equal(parseDataSpec(`idx:${join(root, "fashion")}`).size, 3);
    assert.equal(parseDataSpec(`idx:${join(root, "fashion")}:t10k`).size, 1);
    assert.equal(parseDataSpec(join(root, "fashion")).size, 3);
    assert.deepEqual(parseDataSpec(join(root, "pets")).classNames, ["ant", "bee", "cat"]);
  });

  test("unknown specs say what is expected", () => {
    assert.throws(() => parseDataSpec("mnsit"), /data spec "mnsit": folder "mnsit" does not exist; expected "mnist"/);
    assert.throws(() => parseDataSpec(""), /empty data spec/);
    assert.throws(() => parseDataSpec("idx:"), /no path after "idx:"/);
  });
});

describe("splitDataset", () => {
  const ds = parseDataSpec(join(root, "pets"));

  test("a deterministic, disjoint, complete split of the requested size", () => {
    const mnist = mnistDataset();
    const { train, test: held } = splitDataset(mnist, 0.1, key(5));
    assert.deepEqual([train.size, held.size], [9000, 1000]);
    const again = splitDataset(mnist, 0.1, key(5)).test;
    const pick = (d: Dataset) => Array.from({ length: 50 }, (_, i) => d.get(i * 17).image.data.join());
    assert.deepEqual(pick(again), pick(held));
    assert.notDeepEqual(pick(splitDataset(mnist, 0.1, key(6)).test), pick(held));
    assert.deepEqual([train.name, held.name, held.numClasses], ["mnist[train]", "mnist[test]", 10]);
  });

  test("every example lands in exactly one part", () => {
    const { train, test: held } = splitDataset(ds, 0.4, key(1));
    assert.equal(held.size, 2);
    const values = (d: Dataset) => Array.from({ length: d.size }, (_, i) => d.get(i).image.data[0]); // distinct per image
    assert.deepEqual(
      [...values(train), ...values(held)].sort((a, b) => a - b),
      [10, 20, 30, 40, 50],
    );
  });

  test("bad fractions and tiny datasets are refused", () => {
    assert.throws(() => splitDataset(ds, 1, key(0)), /test fraction must be in \(0, 1\), got 1/);
    assert.throws(
      () => splitDataset(idxDataset(join(root, "fashion"), undefined, { split: "t10k" }), 0.5, key(0)),
      /too few to split/,
    );
  });
});
