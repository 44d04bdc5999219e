// The safetensors format on plain typed arrays: parse and validate (untrusted input), convert,
// serialise; follows huggingface/safetensors. Bytes in, bytes out: files are src/node/safetensorsFile.ts.

export type SafeDType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32";
export type SafeData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint16Array;
/** One stored tensor, row-major. F16 and BF16 are kept as raw bits in a Uint16Array (see `toFloat32`). */
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeData;
}
/** `tensors` is in file (header) order. */
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}
/** What we write: F32 as is; I64 (ids) from BigInts or from integral numbers, checked. */
export type WritableTensor =
  | { dtype: "F32"; shape: readonly number[]; data: Float32Array }
  | { dtype: "I64"; shape: readonly number[]; data: BigInt64Array | Float32Array | number[] };
/** Tensors to write, by name, in insertion order. */
export type WritableTensors = Record<string, WritableTensor> | Map<string, WritableTensor>;

/** A malformed file or tensor: names the file (when known), the tensor (when there is one) and the problem. */
export class SafetensorsError extends Error {
  readonly source?: string;
  readonly tensor?: string;
  readonly problem: string;
  constructor(problem: string, where: { source?: string; tensor?: string } = {}, cause?: unknown) {
    const file = where.source === undefined ? "" : ` file ${JSON.stringify(where.source)}`;
    const tensor = where.tensor === undefined ? "" : `tensor ${JSON.stringify(where.tensor)}: `;
    super(`safetensors${file}: ${tensor}${problem}`, cause === undefined ? undefined : { cause });
    this.name = "SafetensorsError";
    this.source = where.source;
    this.tensor = where.tensor;
    this.problem = problem;
  }
}

type Fail = (problem: string, tensor?: string) => never;
const failIn =
  (source: string | undefined): Fail =>
  (problem, tensor) => {
    throw new SafetensorsError(problem, { source, tensor });
  };

const DTYPE_SIZE: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 };
const METADATA_KEY = "__metadata__";
/** The same cap as HF's reader: a header this big is an attack or corruption, not a model. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Parses a whole safetensors file. Every size is checked against the bytes actually present before
 * anything is allocated, and each tensor's bytes are copied into a fresh (hence aligned) buffer.
 * Gaps between tensors are tolerated: they cannot make a tensor's bytes ambiguous, so refusing them
 * would only refuse readable files (HF's own reader is stricter). Overlaps are rejected, as two
 * tensors would alias the same bytes, and so are duplicate names. The Map keeps header order.
 */
export function parseSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  const fail = failIn(source);
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength < 2n) fail(`header length ${headerLength} is too small for a JSON object`);
  if (headerLength > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const dataStart = 8 + Number(headerLength);
  if (dataStart > bytes.byteLength)
    fail(`header length ${headerLength} runs past the end of the file (${bytes.byteLength} bytes)`);
  const { header, names } = parseHeaderJson(bytes.subarray(8, dataStart), fail);
  const metadata = parseMetadata(header[METADATA_KEY], fail);
  const dataLength = bytes.byteLength - dataStart;
  const entries = names
    .filter((name) => name !== METADATA_KEY)
    .map((name) => parseEntry(name, header[name], dataLength, fail));
  checkNoOverlap(entries, fail);
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    // new Uint8Array(view) copies into a fresh buffer (Buffer#slice would not copy).
    const copy = new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: viewAs(e.dtype, swapToHost(copy, DTYPE_SIZE[e.dtype])),
    });
  }
  return { tensors, metadata };
}

interface Entry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

function parseHeaderJson(headerBytes: Uint8Array, fail: Fail): { header: Record<string, unknown>; names: string[] } {
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(header)) fail(`header must be a JSON object, got ${describe(header)}`);
  const names = topLevelNames(text);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) fail("the name appears twice in the header", name);
    seen.add(name);
  }
  return { header, names };
}

/**
 * The header's top-level names in file order: JSON.parse lists integer-like names ("0", "12") first
 * and keeps only the last of duplicate names. `text` is known to be valid JSON, so a string at depth
 * 1 followed by ":" is a name.
 */
function topLevelNames(text: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++; // skip the escaped character
      let next = i + 1;
      while (" \t\n\r".includes(text[next])) next++;
      if (depth === 1 && text[next] === ":") names.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return names;
}

/** A copy of the metadata, checked to be a string → string map (absent is empty). */
function parseMetadata(raw: unknown, fail: Fail): Record<string, string> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) fail(`${METADATA_KEY} must be an object of strings, got ${describe(raw)}`);
  const entries = Object.entries(raw);
  for (const [key, value] of entries) {
    if (typeof value !== "string") {
      fail(`${METADATA_KEY} value for key ${JSON.stringify(key)} must be a string, got ${describe(value)}`);
    }
  }
  return Object.fromEntries(entries) as Record<string, string>; // own properties, so a "__proto__" key stays a plain key
}

function parseEntry(name: string, raw: unknown, dataLength: number, fail: Fail): Entry {
  const bad = (problem: string): never => fail(problem, name);
  if (!isPlainObject(raw)) bad(`entry must be an object {dtype, shape, data_offsets}, got ${describe(raw)}`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (dtype === undefined) bad("missing dtype");
  if (typeof dtype !== "string") bad(`dtype must be a string, got ${describe(dtype)}`);
  if (!Object.hasOwn(DTYPE_SIZE, dtype as string)) {
    bad(`unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(", ")})`);
  }
  if (shape === undefined) bad("missing shape");
  const numel = elementCount(shape, bad);
  if (offsets === undefined) bad("missing data_offsets");
  if (!Array.isArray(offsets) || offsets.length !== 2)
    bad(`data_offsets must be [begin, end], got ${describe(offsets)}`);
  const [begin, end] = offsets as unknown[];
  if (!isCount(begin) || !isCount(end)) bad(`data_offsets ${describe(offsets)} must be non-negative integers`);
  const b = begin as number,
    e = end as number;
  if (b > e) bad(`data_offsets [${b}, ${e}] are reversed (begin > end)`);
  if (e > dataLength) bad(`data_offsets [${b}, ${e}] run past the end of the data section (${dataLength} bytes)`);
  const size = DTYPE_SIZE[dtype as SafeDType];
  if (numel * size !== e - b) {
    bad(
      `shape [${(shape as number[]).join(", ")}] of ${dtype} needs ${numel * size} bytes ` +
        `but data_offsets [${b}, ${e}] hold ${e - b}`,
    );
  }
  return { name, dtype: dtype as SafeDType, shape: (shape as number[]).map((d) => d + 0), begin: b, end: e };
}

/** Empty tensors occupy no bytes, so they overlap nothing. */
function checkNoOverlap(entries: Entry[], fail: Fail): void {
  let previous: Entry | undefined;
  for (const e of [...entries].sort((a, b) => a.begin - b.begin)) {
    if (e.begin === e.end) continue;
    if (previous !== undefined && e.begin < previous.end) {
      fail(
        `data_offsets [${e.begin}, ${e.end}] overlap those of tensor ${JSON.stringify(previous.name)} ` +
          `[${previous.begin}, ${previous.end}]`,
        e.name,
      );
    }
    if (previous === undefined || e.end > previous.end) previous = e;
  }
}

/** Checks a shape (non-negative safe-integer dims) and returns its element count, itself a safe integer. */
function elementCount(shape: unknown, bad: (problem: string) => never): number {
  if (!Array.isArray(shape)) bad(`shape must be an array of dims, got ${describe(shape)}`);
  let numel = 1;
  (shape as unknown[]).forEach((d, i) => {
    if (!isCount(d)) bad(`shape[${i}] is ${describe(d)}; dims must be non-negative integers`);
    numel *= d as number;
  });
  if ((shape as number[]).includes(0)) return 0; // before the overflow check: Infinity·0 is NaN
  // With no zero dim every partial product is at most the final one, so this catches all overflow
  // (the 8 is the largest dtype size, so byte counts stay exact too).
  if (!Number.isSafeInteger(numel * 8)) bad(`shape [${(shape as number[]).join(", ")}] has too many elements`);
  return numel;
}

function viewAs(dtype: SafeDType, bytes: Uint8Array): SafeData {
  const buffer = bytes.buffer; // a fresh copy, offset 0, so every view is aligned
  switch (dtype) {
    case "F32":
      return new Float32Array(buffer);
    case "F16":
    case "BF16":
      return new Uint16Array(buffer);
    case "F64":
      return new Float64Array(buffer);
    case "I64":
      return new BigInt64Array(buffer);
    case "I32":
      return new Int32Array(buffer);
  }
}

// ---------------------------------------------------------------------------------------------
// Converting

/**
 * The tensor's values as float32, rounded to nearest-even as IEEE 754 says. F32 data is returned
 * as is (not copied). F16 keeps subnormals, ±inf and NaN payloads; BF16 is the high half of an f32.
 */
export function toFloat32(t: SafeTensor, name?: string): Float32Array {
  switch (t.dtype) {
    case "F32":
      return checkedData(t, Float32Array, name);
    case "F16":
      return halfToFloat32(checkedData(t, Uint16Array, name));
    case "BF16": {
      const bits = checkedData(t, Uint16Array, name);
      const out = new Float32Array(bits.length);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
      return out;
    }
    case "F64":
      return new Float32Array(checkedData(t, Float64Array, name));
    case "I32":
      return new Float32Array(checkedData(t, Int32Array, name));
    case "I64":
      return Float32Array.from(checkedData(t, BigInt64Array, name), int64ToFloat32);
  }
  throw new SafetensorsError(`unknown dtype ${JSON.stringify(t.dtype)}`, { tensor: name });
}

/** The tensor's values as JS numbers (e.g. I64 ids); throws if an I64 value is beyond ±(2^53 - 1). */
export function toNumbers(t: SafeTensor, name?: string): Float64Array {
  switch (t.dtype) {
    case "F32":
      return new Float64Array(checkedData(t, Float32Array, name));
    case "F16":
    case "BF16":
      return new Float64Array(toFloat32(t, name));
    case "F64":
      return new Float64Array(checkedData(t, Float64Array, name));
    case "I32":
      return new Float64Array(checkedData(t, Int32Array, name));
    case "I64": {
      const data = checkedData(t, BigInt64Array, name);
      const out = new Float64Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new SafetensorsError(`element ${i} is ${v}, beyond 2^53: not exact as a number`, { tensor: name });
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
  throw new SafetensorsError(`unknown dtype ${JSON.stringify(t.dtype)}`, { tensor: name });
}

/** The data, checked to be the array type of its dtype and to hold product(shape) elements. */
function checkedData<A extends SafeData>(t: SafeTensor, array: new (n: number) => A, name?: string): A {
  const bad = (problem: string): never => {
    throw new SafetensorsError(problem, { tensor: name });
  };
  if (!(t.data instanceof array)) bad(`dtype ${t.dtype} needs a ${array.name}, got ${describe(t.data)}`);
  const numel = elementCount(t.shape, bad);
  if ((t.data as A).length !== numel)
    bad(`shape [${t.shape.join(", ")}] needs ${numel} elements, data has ${(t.data as A).length}`);
  return t.data as A;
}

/** IEEE binary16 → binary32 on the bits: sign, 5-bit exponent (bias 15), 10-bit fraction. */
function halfToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer); // writing bits keeps NaN payloads
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0)
      out[i] = (sign ? -1 : 1) * fraction * 2 ** -24; // ±0 and subnormals: fraction·2^-24
    else if (exponent === 31)
      outBits[i] = sign | 0x7f800000 | (fraction << 13); // ±inf, NaN
    else outBits[i] = sign | ((exponent + 112) << 23) | (fraction << 13); // rebias 15 → 127
  }
  return out;
}

/** int64 → nearest float32 (ties to even) in one rounding; `Math.fround(Number(v))` would round twice. */
function int64ToFloat32(v: bigint): number {
  if (v <= 2n ** 53n && v >= -(2n ** 53n)) return Math.fround(Number(v)); // exact as a double
  const negative = v < 0n;
  let magnitude = negative ? -v : v;
  const shift = BigInt(magnitude.toString(2).length - 24); // keep 24 significant bits
  const rest = magnitude & ((1n << shift) - 1n);
  const half = 1n << (shift - 1n);
  magnitude >>= shift;
  if (rest > half || (rest === half && (magnitude & 1n) === 1n)) magnitude += 1n;
  const x = Number(magnitude) * 2 ** Number(shift);
  return negative ? -x : x;
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Serialises tensors in insertion order, contiguously, with a compact JSON header padded with
 * spaces to a multiple of 8 (so the data section stays 8-byte aligned), as HF writes it. `source`
 * (the file it is for) is named in errors.
 */
export function serializeSafetensors(
  tensors: WritableTensors,
  metadata: Record<string, string> = {},
  source?: string,
): Uint8Array {
  const fail = failIn(source);
  const named = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const fields: string[] = []; // built by hand: JSON.stringify would move integer-like names first
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of named) {
    if (name === METADATA_KEY) fail(`the name ${METADATA_KEY} is reserved for the metadata`, name);
    const bytes = tensorBytes(t, (problem) => fail(problem, name));
    const entry = `{"dtype":"${t.dtype}","shape":${JSON.stringify([...t.shape])},"data_offsets":[${offset},${offset + bytes.byteLength}]}`;
    fields.push(`${JSON.stringify(name)}:${entry}`);
    payloads.push(bytes);
    offset += bytes.byteLength;
  }
  const checked = parseMetadata(metadata, fail);
  if (Object.keys(checked).length > 0) fields.push(`"${METADATA_KEY}":${JSON.stringify(checked)}`);

  const json = new TextEncoder().encode(`{${fields.join(",")}}`);
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength); // space padding
  let at = 8 + headerLength;
  for (const p of payloads) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** The tensor's bytes, little-endian; I64 from numbers only when every value is an int64 integer. */
function tensorBytes(t: WritableTensor, bad: (problem: string) => never): Uint8Array {
  if (!isPlainObject(t)) bad(`must be {dtype, shape, data}, got ${describe(t)}`);
  const dtype: unknown = t.dtype;
  if (dtype !== "F32" && dtype !== "I64") bad(`cannot write dtype ${describe(dtype)} (only F32 and I64)`);
  const numel = elementCount(t.shape, bad);
  const data: unknown = t.data;
  if (t.dtype === "F32" && !(data instanceof Float32Array))
    bad(`F32 data must be a Float32Array, got ${describe(data)}`);
  if (t.dtype === "I64" && !(data instanceof BigInt64Array || data instanceof Float32Array || Array.isArray(data))) {
    bad(`I64 data must be a BigInt64Array, Float32Array or number[], got ${describe(data)}`);
  }
  const values = data as Float32Array | BigInt64Array | unknown[];
  if (values.length !== numel) bad(`shape [${t.shape.join(", ")}] needs ${numel} elements, data has ${values.length}`);
  const typed = t.dtype === "F32" ? (values as Float32Array) : toBigInt64(values, bad);
  return swapToHost(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength), DTYPE_SIZE[t.dtype]);
}

function toBigInt64(values: BigInt64Array | Float32Array | unknown[], bad: (problem: string) => never): BigInt64Array {
  if (values instanceof BigInt64Array) return values;
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // 2^63 is exact as a double, so these bounds are the int64 range exactly.
    if (typeof v !== "number" || !Number.isInteger(v) || v < -(2 ** 63) || v >= 2 ** 63) {
      bad(`I64 element ${i} is ${describe(v)}, not an integer in the int64 range`);
    }
    out[i] = BigInt(v as number);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** safetensors is little-endian: on a big-endian host, a copy with each `size`-byte element reversed. */
function swapToHost(bytes: Uint8Array, size: number): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return bytes;
  const out = new Uint8Array(bytes); // never swap the caller's data
  for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
  return out;
}

function isCount(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A short description of a value for error messages: one level deep (no recursion on hostile nesting). */
function describe(v: unknown, nested = false): string {
  if (v === null) return "null";
  if (Array.isArray(v)) {
    return v.length <= 8 && !nested ? `[${v.map((x) => describe(x, true)).join(", ")}]` : `an array of ${v.length}`;
  }
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "bigint") return `${v}n`;
  return String(v);
}
