// Tests for src/io/safetensors.ts: round trips, the HF reference files, dtype decoding, malformed and fuzzed input.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import {
  parseSafetensors,
  serializeSafetensors,
  toFloat32,
  toNumbers,
  SafetensorsError,
  type SafeTensor,
  type WritableTensor,
} from "../../src/io/safetensors.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../../src/node/safetensorsFile.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const referenceDir = resolve(repoRoot, "test/fixtures/hf");
const SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 };

/** A file built by hand: `header` as an object or raw JSON text, `lengthOverride` to lie about its length. */
function buildFile(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const u16 = (...bits: number[]) => bytesOf(new Uint16Array(bits));

/** Asserts that `f` throws a SafetensorsError whose message matches every pattern. */
function throwsSafetensors(f: () => unknown, ...patterns: (RegExp | string)[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
    for (const p of patterns) {
      if (typeof p === "string") assert.ok(e.message.includes(p), `"${e.message}" should include "${p}"`);
      else assert.match(e.message, p);
    }
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Round trips

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });
const numelOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const tensorArb: fc.Arbitrary<WritableTensor> = fc.oneof(
  shapeArb.chain((shape) =>
    fc
      .array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: numelOf(shape), maxLength: numelOf(shape) })
      .map((bits) => ({ dtype: "F32" as const, shape, data: new Float32Array(new Uint32Array(bits).buffer) })),
  ),
  shapeArb.chain((shape) =>
    fc
      .array(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), { minLength: numelOf(shape), maxLength: numelOf(shape) })
      .map((ids) => ({ dtype: "I64" as const, shape, data: BigInt64Array.from(ids) })),
  ),
);
// Names include integer-like strings ("0", "12") that a JSON object would reorder, and any unicode.
const nameArb = fc
  .oneof(fc.string({ unit: "grapheme" }), fc.nat({ max: 99 }).map(String))
  .filter((n) => n !== "__metadata__");

test("serialize → parse is bitwise for F32 (any bits, NaN payloads included) and I64, in insertion order", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(nameArb, tensorArb), { selector: ([n]) => n, maxLength: 6 }),
      fc.dictionary(fc.string(), fc.string()),
      (named, metadata) => {
        const bytes = serializeSafetensors(new Map(named), metadata);
        const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        assert.equal(headerLength % 8, 0, "header padded to a multiple of 8");
        const parsed = parseSafetensors(bytes);
        assert.deepEqual(
          [...parsed.tensors.keys()],
          named.map(([n]) => n),
        );
        for (const [name, t] of named) {
          const back = parsed.tensors.get(name)!;
          assert.equal(back.dtype, t.dtype);
          assert.deepEqual(back.shape, [...t.shape]);
          assert.deepEqual(bytesOf(back.data), bytesOf(t.data as Float32Array | BigInt64Array));
        }
        assert.deepEqual(parsed.metadata, { ...metadata });
        // contiguous: the data section is exactly the tensors' bytes
        const total = named.reduce((s, [, t]) => s + numelOf(t.shape) * SIZE[t.dtype], 0);
        assert.equal(bytes.length, 8 + headerLength + total);
      },
    ),
    { numRuns: 150 },
  );
});

test("0-dim and size-0 tensors round trip; the header is space padded", () => {
  const bytes = serializeSafetensors(
    {
      loss: { dtype: "F32", shape: [], data: new Float32Array([0.5]) },
      empty: { dtype: "F32", shape: [2, 0, 3], data: new Float32Array(0) },
      id: { dtype: "I64", shape: [], data: [7] },
    },
    { format: "pt" },
  );
  const header = new TextDecoder().decode(
    bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))),
  );
  assert.match(header, /^\{.*\} *$/);
  const f = parseSafetensors(bytes);
  assert.deepEqual(f.tensors.get("loss"), { dtype: "F32", shape: [], data: new Float32Array([0.5]) });
  assert.deepEqual(f.tensors.get("empty"), { dtype: "F32", shape: [2, 0, 3], data: new Float32Array(0) });
  assert.deepEqual(f.tensors.get("id"), { dtype: "I64", shape: [], data: new BigInt64Array([7n]) });
  assert.deepEqual(f.metadata, { format: "pt" });
});

test("names keep header order even when integer-like, which JSON.parse would move first", () => {
  const scalar = (v: number): WritableTensor => ({ dtype: "F32", shape: [], data: new Float32Array([v]) });
  const names = ["10", "b", "2", "0", "a.1"];
  const f = parseSafetensors(serializeSafetensors(new Map(names.map((n, i) => [n, scalar(i)]))));
  assert.deepEqual([...f.tensors.keys()], names);
  names.forEach((n, i) => assert.deepEqual(f.tensors.get(n)!.data, new Float32Array([i])));
  // escaped quotes and backslashes, and ":" inside strings, must not confuse the scan for names
  const tricky = buildFile(
    String.raw`{"a\":\"b\\":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"__metadata__":{"k":"v\":\\"}}`,
  );
  const t = parseSafetensors(tricky);
  assert.deepEqual([...t.tensors.keys()], ['a":"b\\']);
  assert.deepEqual(t.metadata, { k: 'v":\\' });
});

test("I64 from integral floats is exact; a non-integral value names the tensor, the element and the value", () => {
  const f = parseSafetensors(
    serializeSafetensors({
      a: { dtype: "I64", shape: [3], data: new Float32Array([0, -3, 2 ** 40]) },
      b: { dtype: "I64", shape: [2], data: [2 ** 53 + 2, -(2 ** 63)] },
    }),
  );
  assert.deepEqual(f.tensors.get("a")!.data, new BigInt64Array([0n, -3n, 2n ** 40n]));
  assert.deepEqual(f.tensors.get("b")!.data, new BigInt64Array([2n ** 53n + 2n, -(2n ** 63n)]));
  for (const bad of [1.5, NaN, Infinity, 2 ** 63]) {
    throwsSafetensors(
      () => serializeSafetensors({ ids: { dtype: "I64", shape: [2], data: [1, bad] } }),
      'tensor "ids"',
      "element 1",
      String(bad),
      "not an integer",
    );
  }
});

test("serialize rejects bad tensors with a message naming them", () => {
  const f32 = (shape: number[], n: number) => ({ dtype: "F32" as const, shape, data: new Float32Array(n) });
  throwsSafetensors(() => serializeSafetensors({ w: f32([2, 3], 5) }), 'tensor "w"', "needs 6 elements, data has 5");
  throwsSafetensors(() => serializeSafetensors({ w: f32([-1], 0) }), 'tensor "w"', "shape[0] is -1");
  throwsSafetensors(() => serializeSafetensors({ __metadata__: f32([1], 1) }), "reserved");
  throwsSafetensors(
    // @ts-expect-error: F16 is readable but not writable
    () => serializeSafetensors({ h: { dtype: "F16", shape: [1], data: new Uint16Array(1) } }),
    'tensor "h"',
    "only F32 and I64",
  );
  throwsSafetensors(
    // @ts-expect-error: data of the wrong type, as a JS caller could pass
    () => serializeSafetensors({ w: { dtype: "F32", shape: [2], data: [1, 2] } }),
    "must be a Float32Array",
  );
  // @ts-expect-error: metadata values must be strings
  throwsSafetensors(() => serializeSafetensors({}, { epoch: 3 }), '"epoch" must be a string');
});

// ---------------------------------------------------------------------------------------------
// The HF reference files

const cases = existsSync(referenceDir)
  ? readdirSync(referenceDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
  : [];

test("the reference folder has cases", () => assert.ok(cases.length > 0, `no cases in ${referenceDir}`));

for (const name of cases) {
  for (const file of ["model.safetensors", "io.safetensors"]) {
    const path = join(referenceDir, name, file);
    test(`reference ${name}/${file}: byte counts match the header, re-serialising is bitwise`, () => {
      const raw = readFileSync(path);
      const headerLength = Number(raw.readBigUInt64LE(0));
      const header = JSON.parse(raw.subarray(8, 8 + headerLength).toString("utf8"));
      const { tensors, metadata } = readSafetensorsFile(path);
      assert.deepEqual(metadata, header.__metadata__ ?? {});
      assert.equal(tensors.size, Object.keys(header).filter((k) => k !== "__metadata__").length);
      for (const [tname, t] of tensors) {
        const {
          dtype,
          shape,
          data_offsets: [begin, end],
        } = header[tname];
        assert.equal(t.dtype, dtype);
        assert.deepEqual(t.shape, shape);
        assert.equal(t.data.byteLength, end - begin, tname);
        assert.equal(t.data.byteLength, numelOf(shape) * SIZE[dtype], tname);
        assert.deepEqual(
          bytesOf(t.data),
          new Uint8Array(raw.subarray(8 + headerLength + begin, 8 + headerLength + end)),
          tname,
        );
      }
      const writable = new Map<string, WritableTensor>();
      for (const [tname, t] of tensors) {
        if (t.dtype === "F32") writable.set(tname, { dtype: "F32", shape: t.shape, data: t.data as Float32Array });
        if (t.dtype === "I64") writable.set(tname, { dtype: "I64", shape: t.shape, data: t.data as BigInt64Array });
      }
      const again = parseSafetensors(serializeSafetensors(writable, metadata)).tensors;
      for (const [tname, t] of writable)
        assert.deepEqual(bytesOf(again.get(tname)!.data), bytesOf(t.data as Float32Array), tname);
      if (file === "model.safetensors") {
        // All F32, in file order, with HF's compact header: our writer reproduces the file exactly.
        assert.ok(Buffer.from(serializeSafetensors(writable, metadata)).equals(raw), "byte-identical re-serialisation");
      }
    });
  }
  test(`reference ${name}/io.safetensors: ids_restore is I64 permutations, loss is 0-dim, f64.* decode`, () => {
    const { tensors } = readSafetensorsFile(join(referenceDir, name, "io.safetensors"));
    const ids = tensors.get("ids_restore")!;
    assert.equal(ids.dtype, "I64");
    assert.deepEqual(ids.shape, tensors.get("mask")!.shape);
    const [B, L] = ids.shape;
    const values = toNumbers(ids, "ids_restore");
    for (let b = 0; b < B; b++) {
      assert.deepEqual(
        [...values.subarray(b * L, (b + 1) * L)].sort((x, y) => x - y),
        Array.from({ length: L }, (_, i) => i),
      );
    }
    assert.deepEqual(tensors.get("loss")!.shape, []);
    for (const key of ["loss", "logits", "last_hidden_state"]) {
      const f64 = tensors.get(`f64.${key}`)!;
      assert.equal(f64.dtype, "F64");
      const wide = toFloat32(f64, `f64.${key}`),
        narrow = toFloat32(tensors.get(key)!);
      const scale = Math.max(...narrow.map(Math.abs));
      narrow.forEach((v, i) => assert.ok(Math.abs(v - wide[i]) <= 1e-3 * scale, `${key}[${i}]: ${v} vs ${wide[i]}`));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding F16 / BF16 / F64 / I32 / I64 (hand-computed values)

/** One file holding one tensor per entry, laid out back to back from offset 0. */
function fileOf(entries: [string, string, number[], Uint8Array][]): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, dtype, shape, bytes] of entries) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  const data = new Uint8Array(offset);
  offset = 0;
  for (const [, , , bytes] of entries) {
    data.set(bytes, offset);
    offset += bytes.length;
  }
  return buildFile(header, data);
}
const f32Bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

test("F16 decodes as IEEE binary16: normals, subnormals, ±0, ±inf, NaN with payload", () => {
  const t = parseSafetensors(
    fileOf([["h", "F16", [10], u16(0x3c00, 0x0001, 0x03ff, 0x7bff, 0xc000, 0x8000, 0x7c00, 0xfc00, 0x3555, 0x7e01)]]),
  ).tensors.get("h")!;
  const x = toFloat32(t);
  assert.deepEqual(
    [...x.subarray(0, 9)],
    [1, 2 ** -24, 1023 * 2 ** -24, 65504, -2, -0, Infinity, -Infinity, 1365 / 4096],
  );
  assert.ok(Object.is(x[5], -0));
  assert.equal(f32Bits(x)[9], 0x7fc02000, "NaN payload kept");
  assert.deepEqual([...toNumbers(t).subarray(0, 3)], [1, 2 ** -24, 1023 * 2 ** -24]);
});

test("BF16 is the high half of an f32; F64 and I32 round to nearest even; I64 rounds once", () => {
  const i64 = new BigInt64Array([3n, -(2n ** 63n), 2n ** 60n + 2n ** 36n + 1n, 2n ** 60n + 2n ** 36n]);
  const { tensors } = parseSafetensors(
    fileOf([
      ["b", "BF16", [5], u16(0x3f80, 0xc000, 0x7f80, 0x0001, 0x7fc1)],
      ["d", "F64", [3], bytesOf(new Float64Array([1 / 3, 1e300, -2.5]))],
      ["i", "I32", [3], bytesOf(new Int32Array([16777217, 16777219, -5]))],
      ["l", "I64", [4], bytesOf(i64)],
    ]),
  );
  const b = toFloat32(tensors.get("b")!);
  assert.deepEqual([...b.subarray(0, 4)], [1, -2, Infinity, 2 ** -133]);
  assert.equal(f32Bits(b)[4], 0x7fc10000);
  assert.deepEqual([...toFloat32(tensors.get("d")!)], [Math.fround(1 / 3), Infinity, -2.5]);
  assert.deepEqual([...toFloat32(tensors.get("i")!)], [16777216, 16777220, -5]);
  // 2^60 + 2^36 + 1 is just above the midpoint between two floats (ulp 2^37): it rounds up, whereas
  // Math.fround(Number(v)) would first round to the midpoint 2^60 + 2^36 and then down to 2^60.
  assert.deepEqual([...toFloat32(tensors.get("l")!)], [3, -(2 ** 63), 2 ** 60 + 2 ** 37, 2 ** 60]);
  assert.deepEqual([...toNumbers(tensors.get("i")!)], [16777217, 16777219, -5]);
  throwsSafetensors(() => toNumbers(tensors.get("l")!, "l"), 'tensor "l"', "element 1", "beyond 2^53");
});

test("toFloat32 checks a hand-made tensor's data type and length", () => {
  const bad: SafeTensor = { dtype: "F16", shape: [2], data: new Float32Array(2) };
  throwsSafetensors(() => toFloat32(bad, "w"), 'tensor "w"', "needs a Uint16Array");
  throwsSafetensors(
    () => toFloat32({ dtype: "F32", shape: [3], data: new Float32Array(2) }, "w"),
    "needs 3 elements, data has 2",
  );
});

test("unaligned data offsets and an unpadded header still decode; gaps and trailing bytes are tolerated", () => {
  const data = new Uint8Array(15);
  data.set(u16(0x3c00), 1); // F16 at offset 1
  data.set(bytesOf(new Float32Array([1.5, -2])), 3); // F32 at offset 3, after a gap of 1 byte
  const header =
    '{"b":{"dtype":"F32","shape":[2],"data_offsets":[3,11]},"a":{"dtype":"F16","shape":[],"data_offsets":[1,3]}}';
  const f = parseSafetensors(buildFile(header, data)); // 4 trailing bytes
  assert.deepEqual([...f.tensors.keys()], ["b", "a"], "header order, not data order");
  assert.deepEqual(f.tensors.get("b")!.data, new Float32Array([1.5, -2]));
  assert.deepEqual([...toFloat32(f.tensors.get("a")!)], [1]);
});

// ---------------------------------------------------------------------------------------------
// Malformed files: each rule gives a SafetensorsError naming the file, the tensor and the problem

const entry = (over: Record<string, unknown> = {}) => ({ dtype: "F32", shape: [2], data_offsets: [0, 8], ...over });
const eightBytes = new Uint8Array(8);
const malformed: [string, Uint8Array, ...(RegExp | string)[]][] = [
  ["shorter than 8 bytes", new Uint8Array(5), "5 bytes, too short"],
  ["header length < 2", buildFile("{", undefined, 1n), "header length 1 is too small"],
  ["header length > 100 MB", buildFile({}, undefined, 2n ** 62n), "exceeds the 100000000-byte limit"],
  ["header length past the file", buildFile({}, undefined, 1000n), "header length 1000 runs past the end of the file"],
  [
    "header not UTF-8",
    (() => {
      const f = buildFile("{}");
      f[8] = 0xff;
      return f;
    })(),
    "not valid UTF-8",
  ],
  ["header not JSON", buildFile("{nope}"), "not valid JSON"],
  [
    "deeply nested shape",
    buildFile(`{"w":{"dtype":"F32","shape":[${"[".repeat(1e5)}${"]".repeat(1e5)}],"data_offsets":[0,0]}}`),
    'tensor "w"',
    "shape[0] is [an array of 1]",
  ],
  ["header an array", buildFile([1]), "must be a JSON object, got [1]"],
  ["entry not an object", buildFile({ w: 3 }), 'tensor "w"', "entry must be an object"],
  ["missing dtype", buildFile({ w: entry({ dtype: undefined }) }, eightBytes), 'tensor "w"', "missing dtype"],
  ["missing shape", buildFile({ w: entry({ shape: undefined }) }, eightBytes), 'tensor "w"', "missing shape"],
  ["missing data_offsets", buildFile({ w: entry({ data_offsets: undefined }) }, eightBytes), "missing data_offsets"],
  ["dtype not a string", buildFile({ w: entry({ dtype: 4 }) }, eightBytes), "dtype must be a string, got 4"],
  ["unknown dtype", buildFile({ w: entry({ dtype: "U8" }) }, eightBytes), 'tensor "w"', 'unknown dtype "U8"'],
  ["shape not an array", buildFile({ w: entry({ shape: 2 }) }, eightBytes), "shape must be an array"],
  ["negative dim", buildFile({ w: entry({ shape: [-2] }) }, eightBytes), "shape[0] is -2"],
  ["non-integer dim", buildFile({ w: entry({ shape: [2, 0.5] }) }, eightBytes), "shape[1] is 0.5"],
  ["unsafe dim", buildFile({ w: entry({ shape: [2 ** 60] }) }, eightBytes), `shape[0] is ${2 ** 60}`],
  ["string dim", buildFile({ w: entry({ shape: ["2"] }) }, eightBytes), 'shape[0] is "2"'],
  [
    "overflowing element count",
    buildFile({ w: entry({ shape: [2 ** 30, 2 ** 30] }) }, eightBytes),
    "too many elements",
  ],
  [
    "huge shape, few bytes",
    buildFile({ w: entry({ shape: [100000, 100000] }) }, eightBytes),
    "needs 40000000000 bytes",
    "hold 8",
  ],
  [
    "byte count mismatch",
    buildFile({ w: entry({ shape: [3] }) }, eightBytes),
    "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8",
  ],
  [
    "offsets not a pair",
    buildFile({ w: entry({ data_offsets: [0] }) }, eightBytes),
    "data_offsets must be [begin, end]",
  ],
  ["negative offset", buildFile({ w: entry({ data_offsets: [-8, 0] }) }, eightBytes), "must be non-negative integers"],
  [
    "non-integer offset",
    buildFile({ w: entry({ data_offsets: [0, 8.5] }) }, eightBytes),
    "must be non-negative integers",
  ],
  ["reversed offsets", buildFile({ w: entry({ shape: [0], data_offsets: [8, 0] }) }, eightBytes), "reversed"],
  [
    "offsets past the data",
    buildFile({ w: entry({ data_offsets: [4, 12] }) }, eightBytes),
    "run past the end of the data section (8 bytes)",
  ],
  [
    "duplicate name",
    buildFile(
      '{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}',
    ),
    'tensor "w"',
    "appears twice",
  ],
  [
    "overlap",
    buildFile({ w: entry(), v: entry({ shape: [1], data_offsets: [4, 8] }) }, eightBytes),
    'tensor "v"',
    'overlap those of tensor "w"',
  ],
  ["metadata not an object", buildFile({ __metadata__: "pt" }), '__metadata__ must be an object of strings, got "pt"'],
  [
    "metadata value not a string",
    buildFile({ __metadata__: { epoch: 3 } }),
    '__metadata__ value for key "epoch" must be a string, got 3',
  ],
];

for (const [rule, bytes, ...patterns] of malformed) {
  test(`malformed: ${rule}`, () =>
    throwsSafetensors(() => parseSafetensors(bytes, "bad.safetensors"), 'file "bad.safetensors"', ...patterns));
}

test("readSafetensorsFile names a missing file and a directory; writeSafetensorsFile round trips", () => {
  const dir = mkdtempSync(join(tmpdir(), "safetensors-test-"));
  try {
    throwsSafetensors(() => readSafetensorsFile(join(dir, "nope.safetensors")), "nope.safetensors", "no such file");
    throwsSafetensors(() => readSafetensorsFile(dir), dir, "is a folder, not a file");
    const path = join(dir, "w.safetensors");
    writeSafetensorsFile(path, { w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } }, { step: "3" });
    assert.deepEqual(readSafetensorsFile(path), {
      tensors: new Map([["w", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]),
      metadata: { step: "3" },
    });
    throwsSafetensors(
      () => writeSafetensorsFile(path, { w: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
      path,
      'tensor "w"',
    );
    assert.deepEqual(readdirSync(dir), ["w.safetensors"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Fuzz: mutated, truncated and random input parses or throws SafetensorsError, quickly

const valid = serializeSafetensors(
  {
    a: { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    ids: { dtype: "I64", shape: [3], data: [0, 2, 1] },
    s: { dtype: "F32", shape: [], data: new Float32Array([9]) },
  },
  { format: "pt" },
);

/** Parses, and checks that a success is self-consistent and that nothing else than SafetensorsError escapes. */
function parsesOrRejects(bytes: Uint8Array): void {
  const start = performance.now();
  try {
    for (const [, t] of parseSafetensors(bytes, "fuzz").tensors)
      assert.equal(t.data.byteLength, numelOf(t.shape) * SIZE[t.dtype]);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
  }
  assert.ok(performance.now() - start < 500, "parse took too long");
}

test("fuzz: byte mutations and truncations of a valid file", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.nat({ max: valid.length }),
      (mutations, keep) => {
        const bytes = valid.slice(0, keep === 0 ? valid.length : keep);
        for (const [i, v] of mutations) if (i < bytes.length) bytes[i] = v;
        parsesOrRejects(bytes);
      },
    ),
    { numRuns: 2000 },
  );
});

test("fuzz: random garbage and random JSON headers", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), parsesOrRejects), { numRuns: 500 });
  const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom("F32", "I64", "F16", 2 ** 53, -1, 1e400));
  const entryArb = fc.record(
    {
      dtype: value,
      shape: fc.oneof(fc.array(value, { maxLength: 3 }), value),
      data_offsets: fc.oneof(fc.array(fc.oneof(fc.nat({ max: 40 }), value), { maxLength: 3 }), value),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(
      fc.dictionary(fc.oneof(fc.string(), fc.constant("__metadata__")), fc.oneof(entryArb, value)),
      fc.nat({ max: 40 }),
      (header, dataLength) => parsesOrRejects(buildFile(header, new Uint8Array(dataLength))),
    ),
    { numRuns: 1000 },
  );
});
