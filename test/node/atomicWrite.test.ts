// Tests for src/io/atomicWrite.ts: content lands whole, no temp file is left behind, failures leave the target as it was.

import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtomicWriteError, writeFileAtomic, writeJsonAtomic } from "../../src/node/atomicWrite.ts";

function withTempDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "atomic-write-test-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Asserts an AtomicWriteError naming `path` whose message matches `reason`. */
function throwsAtomic(f: () => void, path: string, reason: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof AtomicWriteError, `expected AtomicWriteError, got ${String(e)}`);
    assert.equal(e.path, path);
    assert.ok(e.message.includes(JSON.stringify(path)), e.message);
    assert.match(e.message, reason);
    assert.ok(e.cause !== undefined, "keeps the underlying error as cause");
    return true;
  });
}

test("writes bytes and strings, replaces an existing file, leaves no temp file", () =>
  withTempDir((dir) => {
    const path = join(dir, "out.bin");
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
    writeFileAtomic(path, "héllo");
    assert.equal(readFileSync(path, "utf8"), "héllo");
    const big = new Uint8Array(3 << 20).map((_, i) => i * 7);
    writeFileAtomic(path, big.subarray(5)); // a view with an offset: only its bytes are written
    assert.ok(readFileSync(path).equals(big.subarray(5)));
    assert.deepEqual(readdirSync(dir), ["out.bin"]);
  }));

test("replacing a file keeps its permissions", () =>
  withTempDir((dir) => {
    const path = join(dir, "secret.json");
    writeFileSync(path, "{}");
    chmodSync(path, 0o600);
    writeJsonAtomic(path, { a: 1 });
    assert.equal(statSync(path).mode & 0o777, 0o600);
  }));

test("a missing directory gives an error naming the path and the cause, and writes nothing", () =>
  withTempDir((dir) => {
    const path = join(dir, "missing", "out.bin");
    throwsAtomic(() => writeFileAtomic(path, "x"), path, /directory .*missing.* does not exist/);
    assert.deepEqual(readdirSync(dir), []);
  }));

test("a parent that is a file gives an error, and writes nothing", () =>
  withTempDir((dir) => {
    writeFileSync(join(dir, "file"), "keep");
    const path = join(dir, "file", "out.bin");
    throwsAtomic(() => writeFileAtomic(path, "x"), path, /not a directory/);
    assert.deepEqual(readdirSync(dir), ["file"]);
    assert.equal(readFileSync(join(dir, "file"), "utf8"), "keep");
  }));

test("a failure after the temp file exists removes it and leaves the target unchanged", () =>
  withTempDir((dir) => {
    // The target is a non-empty directory: the temp file is written, then the rename fails.
    const target = join(dir, "target");
    mkdirSync(target);
    writeFileSync(join(target, "inside"), "keep");
    throwsAtomic(() => writeFileAtomic(target, "new"), target, /target is a directory/);
    assert.deepEqual(readdirSync(dir), ["target"]);
    assert.equal(readFileSync(join(target, "inside"), "utf8"), "keep");

    // An existing file and data that cannot be written (as a JS caller could pass): the write fails mid-way.
    const path = join(dir, "model.json");
    writeFileSync(path, "old");
    // @ts-expect-error: deliberately not a Uint8Array or string
    throwsAtomic(() => writeFileAtomic(path, 42), path, /write failed/);
    assert.equal(readFileSync(path, "utf8"), "old");
    assert.deepEqual(readdirSync(dir).sort(), ["model.json", "target"]);
  }));

test("writeJsonAtomic writes pretty JSON with a newline; unserialisable values name the path", () =>
  withTempDir((dir) => {
    const path = join(dir, "config.json");
    writeJsonAtomic(path, { hidden: 64, layers: [1, 2] });
    assert.equal(readFileSync(path, "utf8"), '{\n  "hidden": 64,\n  "layers": [\n    1,\n    2\n  ]\n}\n');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    throwsAtomic(() => writeJsonAtomic(path, cyclic), path, /not JSON-serialisable/);
    assert.throws(() => writeJsonAtomic(path, undefined), /value of type undefined is not JSON-serialisable/);
    assert.equal(JSON.parse(readFileSync(path, "utf8")).hidden, 64, "target unchanged");
    assert.deepEqual(readdirSync(dir), ["config.json"]);
  }));
