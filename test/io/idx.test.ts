// IDX files: hand-built round trips (plain and gzipped) and the errors for bad magic, bad sizes and bad gzip.

import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { decodeIdx, encodeIdx, IdxError } from "../../src/io/idx.ts";
import { gunzipIdx, readIdxFile, readIdxImages, readIdxLabels } from "../../src/node/idxFile.ts";

const dir = mkdtempSync(join(tmpdir(), "vitmae-idx-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX header written out byte by byte, as the format note describes it. */
function handBuilt(type: number, dims: number[], data: number[]): Uint8Array {
  const header = [0, 0, type, dims.length];
  for (const d of dims) header.push((d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255);
  return Uint8Array.from([...header, ...data]);
}

function assertIdxError(f: () => unknown, source: string, problem: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof IdxError, `expected an IdxError, got ${String(e)}`);
    assert.ok(e.message.includes(JSON.stringify(source)), `message should name ${source}: ${e.message}`);
    assert.match(e.message, problem);
    return true;
  });
}

test("a hand-built images file reads back, plain and gzipped", () => {
  const pixels = Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);
  const bytes = handBuilt(0x08, [2, 3, 4], pixels);
  assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 8, 3]); // magic 0x00000803
  for (const [name, content] of [
    ["images-idx3-ubyte", bytes],
    ["images-idx3-ubyte.gz", gzipSync(bytes)],
  ] as const) {
    const path = join(dir, name);
    writeFileSync(path, content);
    const images = readIdxImages(path);
    assert.deepEqual([images.count, images.rows, images.cols], [2, 3, 4]);
    assert.deepEqual([...images.data], pixels);
  }
});

test("a hand-built labels file reads back", () => {
  const path = join(dir, "labels-idx1-ubyte");
  writeFileSync(path, handBuilt(0x08, [5], [3, 1, 4, 1, 5]));
  assert.deepEqual([...readIdxLabels(path)], [3, 1, 4, 1, 5]);
});

test("encodeIdx -> decodeIdx is the identity, gzipped or not", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (dims, gz) => {
      const data = Uint8Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => i * 13);
      const bytes = encodeIdx(dims, data);
      const back = decodeIdx(gz ? gunzipIdx(gzipSync(bytes), "roundtrip") : bytes, "roundtrip");
      assert.deepEqual(back.dims, dims);
      assert.deepEqual(back.data, data);
    }),
    { numRuns: 50 },
  );
});

test("bad magic numbers and unsupported element types", () => {
  assertIdxError(
    () => decodeIdx(Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 0]), "a.idx"),
    "a.idx",
    /bad magic number 0x01020801/,
  );
  assertIdxError(() => decodeIdx(handBuilt(0x0d, [1], [0, 0, 0, 0]), "f.idx"), "f.idx", /float32 is not supported/);
  assertIdxError(() => decodeIdx(Uint8Array.from([0, 0]), "short.idx"), "short.idx", /too short/);
});

test("a byte count that does not match the dims", () => {
  assertIdxError(
    () => decodeIdx(handBuilt(0x08, [2, 2, 2], [1, 2, 3, 4, 5, 6, 7]), "cut.idx"),
    "cut.idx",
    /dims \[2, 2, 2\] need 8 data bytes after the 16-byte header, but the file has 7/,
  );
  assertIdxError(() => decodeIdx(handBuilt(0x08, [1], [1, 2]), "long.idx"), "long.idx", /need 1 data bytes .* has 2/);
  assertIdxError(() => decodeIdx(Uint8Array.from([0, 0, 8, 3, 0, 0]), "hdr.idx"), "hdr.idx", /truncated/);
});

test("images vs labels: the wrong number of dims is named", () => {
  const path = join(dir, "labels-as-images");
  writeFileSync(path, handBuilt(0x08, [3], [0, 1, 2]));
  assertIdxError(() => readIdxImages(path), path, /expected images \[n, rows, cols\].*got 1 dims \[3\]/);
  assertIdxError(
    () => readIdxLabels(join(dir, "images-idx3-ubyte")),
    join(dir, "images-idx3-ubyte"),
    /expected labels/,
  );
});

test("broken gzip data and missing files", () => {
  const gz = gzipSync(handBuilt(0x08, [4], [1, 2, 3, 4]));
  assertIdxError(() => gunzipIdx(gz.subarray(0, gz.length - 6), "t.gz"), "t.gz", /bad gzip data/);
  assertIdxError(() => decodeIdx(gz, "t.gz"), "t.gz", /is gzip-compressed: gunzip the bytes first/);
  assertIdxError(() => readIdxFile(join(dir, "missing")), join(dir, "missing"), /no such file/);
});
