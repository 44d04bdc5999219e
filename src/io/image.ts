// Images: PNG (pngjs) and JPEG (jpeg-js) bytes decoded to 8-bit HWC as PIL's Image.open(f).convert("RGB"/"L")
// sees them, and PNG encoding. Bytes in, bytes out: files are src/node/imageFile.ts.

import jpeg from "jpeg-js";
import pngjs from "pngjs";

/** An 8-bit image, row-major HWC: pixel (y, x), channel c is `data[(y * width + x) * channels + c]`. */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
  /** Where it came from (a file path), for error messages. */
  source?: string;
}

/** A corrupt, truncated, oversized or unsupported image file; names the file and the problem. */
export class ImageError extends Error {
  readonly source: string;
  readonly problem: string;
  constructor(source: string, problem: string, cause?: unknown) {
    super(`image ${JSON.stringify(source)}: ${problem}`, cause === undefined ? undefined : { cause });
    this.name = "ImageError";
    this.source = source;
    this.problem = problem;
  }
}

/** The largest image we decode; PIL warns at 89 MP and refuses at 179 MP. Checked from the header, before decoding. */
export const MAX_IMAGE_PIXELS = 100_000_000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** What a file's first bytes say it is (its extension is never trusted). */
export function sniffImageFormat(bytes: Uint8Array): "png" | "jpeg" | "gif" | "bmp" | "webp" | "tiff" | "unknown" {
  const starts = (sig: number[], at = 0) => sig.every((b, i) => bytes[at + i] === b);
  if (starts(PNG_SIGNATURE)) return "png";
  if (starts([0xff, 0xd8, 0xff])) return "jpeg";
  if (starts([0x47, 0x49, 0x46, 0x38])) return "gif";
  if (starts([0x42, 0x4d])) return "bmp";
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return "webp";
  if (starts([0x49, 0x49, 0x2a, 0x00]) || starts([0x4d, 0x4d, 0x00, 0x2a])) return "tiff";
  return "unknown";
}

/**
 * Decodes a PNG or JPEG (told apart by their magic bytes) to 8-bit gray or RGB. Alpha is dropped, not
 * composited (as PIL's convert("RGB") does); palettes are expanded to RGB; 16-bit samples become
 * round(v·255/65535). Gray stays 1 channel. Never throws anything but an ImageError.
 */
export function decodeImage(bytes: Uint8Array, source: string): Image {
  const format = sniffImageFormat(bytes);
  if (format === "png") return decodePng(bytes, source);
  if (format === "jpeg") return decodeJpeg(bytes, source);
  return notPngOrJpeg(bytes, format, source);
}

/** The error for a file that is neither PNG nor JPEG: empty, another format, or unknown bytes. */
export function notPngOrJpeg(head: Uint8Array, format: ReturnType<typeof sniffImageFormat>, source: string): never {
  if (head.length === 0) throw new ImageError(source, "the file is empty");
  if (format !== "unknown") {
    throw new ImageError(source, `${format.toUpperCase()} images are not supported (only PNG and JPEG)`);
  }
  const first = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new ImageError(source, `not a PNG or JPEG file (first bytes: ${first})`);
}

/** Bytes read on demand: a whole file in memory, or positional reads of an open file (see src/io/imageScan.ts). */
export interface ByteReader {
  readonly size: number;
  /** Up to `length` bytes from `at` (fewer at the end of the file). */
  read(at: number, length: number): Uint8Array;
}

export const bytesReader = (bytes: Uint8Array): ByteReader => ({
  size: bytes.length,
  read: (at, length) => bytes.subarray(at, at + length),
});

// ---- PNG ----

const PNG_GRAY = 0;
const PNG_PALETTE = 3;
const PNG_GRAY_ALPHA = 4;

function decodePng(bytes: Uint8Array, source: string): Image {
  const { width, height, colorType } = readPngHeader(bytesReader(bytes), source);
  const chunks = pngChunks(bytes);
  // pngjs zeroes tRNS-keyed pixels (a composite on black); without that chunk the colours stay, as in PIL.
  const dropTrns = colorType !== PNG_PALETTE && chunks.some((c) => c.type === "tRNS");
  const kept = chunks.filter((c) => c.type !== "tRNS").map((c) => c.bytes);
  const input = dropTrns ? Buffer.concat([bytes.subarray(0, 8), ...kept]) : bytes;
  let png: { data: Uint8Array };
  try {
    png = pngjs.PNG.sync.read(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  } catch (cause) {
    const complete = chunks.some((c) => c.type === "IEND");
    const problem = complete
      ? "corrupt PNG"
      : `truncated or corrupt PNG (no IEND chunk in the file's ${bytes.length} bytes)`;
    throw new ImageError(source, `${problem}: ${messageOf(cause)}`, cause);
  }
  // pngjs always hands back RGBA; keep what the file really holds.
  const channels = colorType === PNG_GRAY || colorType === PNG_GRAY_ALPHA ? 1 : 3;
  const n = width * height;
  if (png.data.length !== 4 * n)
    throw new ImageError(source, `corrupt PNG: decoded ${png.data.length} bytes, expected ${4 * n}`);
  const data = new Uint8Array(n * channels);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < channels; c++) data[p * channels + c] = png.data[4 * p + c];
  }
  return { width, height, channels, data, source };
}

/** Width, height and colour type from IHDR, checked before any pixel is allocated. */
export function readPngHeader(
  reader: ByteReader,
  source: string,
): { width: number; height: number; colorType: number } {
  if (reader.size < 33) throw new ImageError(source, `truncated PNG: ${reader.size} bytes, too short for a header`);
  const bytes = reader.read(0, 33);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (chunkType(bytes, 12) !== "IHDR") throw new ImageError(source, "corrupt PNG: the first chunk is not IHDR");
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  checkSize(width, height, source);
  return { width, height, colorType: bytes[25] };
}

/** The whole chunks after the signature (length, type, data, CRC); the walk stops at the first that overruns the file. */
function pngChunks(bytes: Uint8Array): { type: string; bytes: Uint8Array }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const list: { type: string; bytes: Uint8Array }[] = [];
  let at = 8;
  while (at + 12 <= bytes.length) {
    const end = at + 12 + view.getUint32(at);
    if (end > bytes.length) break;
    list.push({ type: chunkType(bytes, at + 4), bytes: bytes.subarray(at, end) });
    at = end;
  }
  return list;
}

function chunkType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

// ---- JPEG ----

function decodeJpeg(bytes: Uint8Array, source: string): Image {
  const { width, height, components } = readJpegFrame(bytesReader(bytes), source);
  if (components !== 1 && components !== 3 && components !== 4) {
    throw new ImageError(source, `JPEG with ${components} colour components is not supported`);
  }
  let rgb: Uint8Array;
  try {
    // Not tolerant: a truncated scan is an error, as in PIL (without LOAD_TRUNCATED_IMAGES).
    rgb = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 2048, // our own size check came first
    }).data;
  } catch (cause) {
    // A JPEG ends with the EOI marker FF D9; a file without one was cut short.
    const truncated = !hasEoi(bytes.subarray(Math.max(2, bytes.length - 64)));
    const problem = truncated ? "truncated JPEG (no end-of-image marker)" : "corrupt or unsupported JPEG";
    throw new ImageError(source, `${problem}: ${messageOf(cause)}`, cause);
  }
  if (rgb.length !== width * height * 3)
    throw new ImageError(source, "corrupt JPEG: decoded size does not match the header");
  if (components !== 1) return { width, height, channels: 3, data: rgb, source };
  const gray = new Uint8Array(width * height); // jpeg-js replicates gray into R, G and B
  for (let p = 0; p < gray.length; p++) gray[p] = rgb[3 * p];
  return { width, height, channels: 1, data: gray, source };
}

/** Whether an EOI marker ends the file: `tail` is its last bytes (up to 64, for a writer's trailing padding). */
export function hasEoi(tail: Uint8Array): boolean {
  for (let i = tail.length - 2; i >= 0; i--) {
    if (tail[i] === 0xff && tail[i + 1] === 0xd9) return true;
  }
  return false;
}

/** Size and component count from the first SOF marker, walking the marker segments. */
export function readJpegFrame(
  reader: ByteReader,
  source: string,
): { width: number; height: number; components: number } {
  let at = 2;
  while (at + 4 <= reader.size) {
    const bytes = reader.read(at, 10); // a marker, its length and, for a frame, its size fields
    if (bytes[0] !== 0xff) {
      at++;
      continue;
    } // stray bytes before a marker: libjpeg skips them with a warning
    const marker = bytes[1];
    if (marker === 0xff) {
      at++;
      continue;
    } // fill byte
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    } // no length
    const length = (bytes[2] << 8) | bytes[3];
    if (length < 2) throw new ImageError(source, `corrupt JPEG: marker segment of length ${length} at byte ${at}`);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (at + 10 > reader.size) break;
      const height = (bytes[5] << 8) | bytes[6];
      const width = (bytes[7] << 8) | bytes[8];
      if (height === 0) throw new ImageError(source, "JPEG whose height is given by a DNL marker is not supported");
      checkSize(width, height, source);
      return { width, height, components: bytes[9] };
    }
    if (marker === 0xda || marker === 0xd9)
      throw new ImageError(source, "corrupt JPEG: no frame header before the image data");
    at += 2 + length;
  }
  throw new ImageError(source, `truncated JPEG: ended after ${reader.size} bytes, before the frame header`);
}

function checkSize(width: number, height: number, source: string): void {
  if (width === 0 || height === 0) throw new ImageError(source, `the header says ${width}x${height}: an empty image`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new ImageError(
      source,
      `the header says ${width}x${height} = ${((width * height) / 1e6).toFixed(1)} megapixels, ` +
        `over the ${MAX_IMAGE_PIXELS / 1e6}-megapixel limit`,
    );
  }
}

// ---- Writing ----

/** Encodes 8-bit gray (channels 1) or RGB (channels 3) HWC pixels as an 8-bit PNG. */
export function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng: width and height must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new RangeError(`encodePng: channels must be 1 or 3, got ${channels}`);
  if (data.length !== width * height * channels) {
    const needed = width * height * channels;
    throw new RangeError(`encodePng: ${width}x${height}x${channels} needs ${needed} bytes, got ${data.length}`);
  }
  const colorType = channels === 1 ? PNG_GRAY : 2;
  const png = { width, height, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  // The @types say PNG.sync.write takes a PNG instance; it only reads width, height and data.
  const bytes = pngjs.PNG.sync.write(png as unknown as pngjs.PNG, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: false,
    bitDepth: 8,
  });
  return new Uint8Array(bytes); // a plain copy: a Buffer's slice() would share memory
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
