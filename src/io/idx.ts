// IDX arrays (MNIST, Fashion-MNIST): decode and validate (untrusted input), encode; follows LeCun's format
// note. Bytes in, bytes out: files, gzipped or not, are src/node/idxFile.ts.
//
// Layout: 2 zero bytes, a type byte (0x08 = unsigned byte), a byte with the number of dims, then each
// dim as a big-endian uint32, then the data, row-major. Images are [n, rows, cols] (magic 0x00000803),
// labels [n] (magic 0x00000801).

/** A malformed or unreadable IDX file; names the file and the problem. */
export class IdxError extends Error {
  readonly source: string;
  constructor(source: string, problem: string, cause?: unknown) {
    super(`IDX file ${JSON.stringify(source)}: ${problem}`, cause === undefined ? undefined : { cause });
    this.name = "IdxError";
    this.source = source;
  }
}

/** An unsigned-byte IDX array. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;
const TYPE_NAMES: Record<number, string> = { 9: "int8", 11: "int16", 12: "int32", 13: "float32", 14: "float64" };

/** Whether bytes start with the gzip magic 1f 8b (a .gz IDX file, as LeCun's site serves them). */
export const isGzip = (bytes: Uint8Array): boolean => bytes[0] === 0x1f && bytes[1] === 0x8b;

/** Parses uncompressed IDX bytes (gzipped ones are refused: src/node/idxFile.ts gunzips files first). */
export function decodeIdx(raw: Uint8Array, source: string): IdxArray {
  if (isGzip(raw)) throw new IdxError(source, "is gzip-compressed: gunzip the bytes first (readIdxFile does)");
  if (raw.length < 4) throw new IdxError(source, `${raw.length} bytes, too short for the 4-byte magic number`);
  const [zero0, zero1, type, ndim] = raw;
  const magic = `0x${Array.from(raw.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (zero0 !== 0 || zero1 !== 0 || ndim === 0) {
    throw new IdxError(source, `bad magic number ${magic} (expected 0x00000803 for images or 0x00000801 for labels)`);
  }
  if (type !== UBYTE) {
    const name = TYPE_NAMES[type] ?? `unknown type 0x${type.toString(16)}`;
    throw new IdxError(source, `magic ${magic}: element type ${name} is not supported (only unsigned bytes, 0x08)`);
  }
  const headerBytes = 4 + 4 * ndim;
  if (raw.length < headerBytes) {
    throw new IdxError(source, `truncated: ${raw.length} bytes, the ${ndim} dims need ${headerBytes}`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (raw.length !== headerBytes + count) {
    throw new IdxError(
      source,
      `dims [${dims.join(", ")}] need ${count} data bytes after the ${headerBytes}-byte header, ` +
        `but the file has ${raw.length - headerBytes}`,
    );
  }
  return { dims, data: new Uint8Array(raw.subarray(headerBytes)) }; // a plain copy, never a Buffer view
}

/** Images [n, rows, cols] from a decoded IDX array; anything but 3 dims is an error. */
export function idxImages(
  { dims, data }: IdxArray,
  source: string,
): { count: number; rows: number; cols: number; data: Uint8Array } {
  if (dims.length !== 3) {
    throw new IdxError(
      source,
      `expected images [n, rows, cols] (magic 0x00000803), got ${dims.length} dims [${dims.join(", ")}]`,
    );
  }
  const [count, rows, cols] = dims;
  if (rows === 0 || cols === 0) throw new IdxError(source, `images of ${rows}x${cols} pixels are empty`);
  return { count, rows, cols, data };
}

/** Labels [n] from a decoded IDX array; anything but 1 dim is an error. */
export function idxLabels({ dims, data }: IdxArray, source: string): Uint8Array {
  if (dims.length !== 1) {
    throw new IdxError(source, `expected labels [n] (magic 0x00000801), got ${dims.length} dims [${dims.join(", ")}]`);
  }
  return data;
}

/** The IDX bytes (unsigned byte elements, uncompressed) of an array with `dims`. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > 255 || !dims.every((d) => Number.isInteger(d) && d >= 0 && d < 2 ** 32)) {
    throw new RangeError(`encodeIdx: dims must be 1 to 255 uint32s, got [${dims.join(", ")}]`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new RangeError(`encodeIdx: dims [${dims.join(", ")}] hold ${count} bytes, got ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + count);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
