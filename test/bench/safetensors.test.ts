// Tests for bench/safetensors.ts, the bench's float32 adapter over src/io/safetensors.ts.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { readSafetensors, SafetensorsError, type Tensors, writeSafetensors } from "../../bench/safetensors.ts";

const dir = mkdtempSync(join(tmpdir(), "bench-st-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 });

test("write then read gives back every tensor bit for bit, in insertion order (integer-like names too)", () => {
  const entry = shapeArb.chain((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc
      .float32Array({ minLength: n, maxLength: n })
      .map((values) => ({ shape, data: Float32Array.from(values) }));
  });
  const name = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.nat({ max: 99 }).map(String));
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(name, entry), { selector: (e) => e[0], maxLength: 5 }), (entries) => {
      const tensors: Tensors = new Map(entries.filter(([n]) => n !== "__metadata__"));
      const path = join(dir, "rt.safetensors");
      writeSafetensors(path, tensors);
      const back = readSafetensors(path);
      assert.deepEqual([...back.keys()], [...tensors.keys()]);
      for (const [n, t] of tensors) {
        assert.deepEqual(back.get(n)!.shape, t.shape);
        assert.deepEqual(new Uint8Array(back.get(n)!.data.buffer), new Uint8Array(t.data.buffer)); // NaN payloads too
      }
    }),
    { numRuns: 50 },
  );
});

test("the data starts 8-byte aligned and the metadata is kept", () => {
  const path = join(dir, "align.safetensors");
  writeSafetensors(path, new Map([["x", { shape: [3], data: new Float32Array([1, 2, 3]) }]]), { dataset: "block" });
  const bytes = readFileSync(path);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0);
  assert.equal(bytes.length, 8 + headerLen + 12);
  assert.deepEqual(JSON.parse(bytes.toString("utf8", 8, 8 + headerLen)).__metadata__, { dataset: "block" });
});

test("errors name the file and the tensor", () => {
  const bad = join(dir, "bad.safetensors");
  assert.throws(
    () => writeSafetensors(bad, new Map([["w", { shape: [2, 2], data: new Float32Array(3) }]])),
    (e: unknown) => e instanceof SafetensorsError && /bad\.safetensors.*"w".*\[2, 2\].*3/.test((e as Error).message),
  );
  const short = join(dir, "short.safetensors");
  writeFileSync(short, Buffer.alloc(5));
  assert.throws(
    () => readSafetensors(short),
    (e: unknown) => e instanceof SafetensorsError && /short\.safetensors.*too short/.test((e as Error).message),
  );
});

test("reads a checkpoint written by Hugging Face's safetensors (the tiny golden case)", () => {
  const t = readSafetensors(resolve(import.meta.dirname, "../fixtures/hf/tiny/model.safetensors"));
  assert.deepEqual(t.get("vit.embeddings.cls_token")!.shape, [1, 1, 64]);
  assert.deepEqual(t.get("decoder.decoder_pred.weight")!.shape, [192, 32]);
  // Row 0 of the sin-cos table is the CLS row, all zeros; row 1 (i = j = 0) has sin 0 = 0, then cos 0 = 1 at D/4.
  const pos = t.get("vit.embeddings.position_embeddings")!.data;
  assert.ok(pos.subarray(0, 64).every((v) => v === 0));
  assert.equal(pos[64 + 16], 1);
});
