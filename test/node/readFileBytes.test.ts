// One way to read a file a user named: every reader (safetensors, images, IDX) says the same thing
// about a folder, a missing file, a FIFO and an oversized file, in its own error type.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { IdxError } from "../../src/io/idx.ts";
import { readIdxFile } from "../../src/node/idxFile.ts";
import { ImageError } from "../../src/io/image.ts";
import { readImageFile } from "../../src/node/imageFile.ts";
import { SafetensorsError } from "../../src/io/safetensors.ts";
import { readSafetensorsFile } from "../../src/node/safetensorsFile.ts";
import { readFileBytes } from "../../src/node/readFileBytes.ts";

const dir = mkdtempSync(join(tmpdir(), "vitmae-read-"));
const folder = join(dir, "a-folder");
mkdirSync(folder);
const missing = join(dir, "missing");
const fifo = join(dir, "fifo");
execFileSync("mkfifo", [fifo]); // nothing ever writes to it: a blocking read would hang the test

const readers: [string, (path: string) => unknown, new (...args: never[]) => Error][] = [
  ["safetensors", readSafetensorsFile, SafetensorsError],
  ["image", readImageFile, ImageError],
  ["IDX", readIdxFile, IdxError],
];

for (const [name, read, type] of readers) {
  test(`${name}: a folder, a missing file and a FIFO each get one clear line naming the path`, () => {
    for (const [path, problem] of [
      [folder, "is a folder, not a file"],
      [missing, "no such file"],
      [fifo, "is not a regular file (a FIFO, socket or device)"],
    ] as const) {
      assert.throws(
        () => read(path),
        (e: Error) => {
          assert.ok(e instanceof type, `${name} ${path}: ${e.name}: ${e.message}`);
          assert.ok(e.message.includes(JSON.stringify(path)), `names the path: ${e.message}`);
          assert.ok(e.message.includes(`: ${problem}`), `${JSON.stringify(problem)} in: ${e.message}`);
          return true;
        },
      );
    }
  });
}

test("readFileBytes: a size limit is checked before reading, and says what it is for", () => {
  const big = join(dir, "big.json");
  writeFileSync(big, "x".repeat(100));
  const fail = (problem: string): never => {
    throw new Error(problem);
  };
  assert.deepEqual([...readFileBytes(big, fail, { bytes: 100, what: "a test" })].length, 100);
  assert.throws(
    () => readFileBytes(big, fail, { bytes: 99, what: "a config.json" }),
    /^Error: is 100 bytes, over the 99-byte limit for a config\.json$/,
  );
});
