// What the user dropped on the page (or chose): one image (PNG, JPEG, … whatever this browser
// decodes) to look at, or a checkpoint (config.json + model.safetensors) to load; anything else is
// refused with a message that says what the playground takes.

import type { Picture } from "./protocol.ts";

export type Dropped =
  | { kind: "image"; name: string; picture: Picture }
  | { kind: "checkpoint"; config: Uint8Array; weights: Uint8Array; names: [string, string] };

const WHAT_IT_TAKES = "drop a PNG or JPEG of a digit, or a checkpoint (config.json and model.safetensors together)";
const MAX_SIDE = 8192;
const MAX_WEIGHTS = 512 * 1024 * 1024;

/** Reads the dropped files; throws an Error whose message is meant for the page. */
export async function readDropped(files: readonly File[]): Promise<Dropped> {
  if (files.length === 0) throw new Error(`nothing was dropped: ${WHAT_IT_TAKES}`);
  const json = files.filter((f) => f.name.toLowerCase().endsWith(".json"));
  const weights = files.filter((f) => f.name.toLowerCase().endsWith(".safetensors"));
  if (json.length > 0 || weights.length > 0) {
    if (json.length !== 1 || weights.length !== 1 || files.length !== 2)
      throw new Error(
        `a checkpoint is two files, config.json and model.safetensors, dropped together; got ${names(files)}`,
      );
    if (weights[0].size > MAX_WEIGHTS)
      throw new Error(`${weights[0].name} is ${(weights[0].size / 2 ** 20).toFixed(0)} MB: too big for the playground`);
    const [config, bytes] = await Promise.all(
      [json[0], weights[0]].map(async (f) => new Uint8Array(await f.arrayBuffer())),
    );
    return { kind: "checkpoint", config, weights: bytes, names: [json[0].name, weights[0].name] };
  }
  if (files.length > 1) throw new Error(`one image at a time; got ${names(files)}: ${WHAT_IT_TAKES}`);
  const file = files[0];
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(
      `"${file.name}" (${file.type || "unknown type"}) is not an image this browser can decode: ${WHAT_IT_TAKES}`,
    );
  }
  if (bitmap.width > MAX_SIDE || bitmap.height > MAX_SIDE)
    throw new Error(`"${file.name}" is ${bitmap.width}x${bitmap.height}: at most ${MAX_SIDE} pixels a side, please`);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d")!;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const data = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let p = 0; p < bitmap.width * bitmap.height; p++) for (let k = 0; k < 3; k++) data[3 * p + k] = rgba[4 * p + k];
  return { kind: "image", name: file.name, picture: { width: bitmap.width, height: bitmap.height, channels: 3, data } };
}

const names = (files: readonly File[]) => files.map((f) => `"${f.name}"`).join(", ");
