// A Hugging Face checkpoint fetched from a URL (a folder of config.json + model.safetensors: the Hub's
// `resolve/main/`, a static server, a page's own assets): runs wherever `fetch` does.

import { CheckpointError } from "./checkpoint.ts";
import { CHECKPOINT_FILE } from "./checkpointNames.ts";

/** The two files of the checkpoint at `url`, as bytes, with the URLs they came from. */
export async function fetchCheckpoint(
  url: string | URL,
): Promise<{ configJson: Uint8Array; weights: Uint8Array; sources: { config: string; weights: string } }> {
  const folder = folderUrl(url);
  const config = new URL(CHECKPOINT_FILE.config, folder).href;
  const weights = new URL(CHECKPOINT_FILE.weights, folder).href;
  const [configBytes, weightBytes] = await Promise.all([fetchBytes(config), fetchBytes(weights)]);
  return { configJson: configBytes, weights: weightBytes, sources: { config, weights } };
}

/** The folder URL with a trailing slash, so that file names resolve inside it (relative to the page if relative). */
function folderUrl(url: string | URL): URL {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let u: URL;
  try {
    u = new URL(url, base);
  } catch {
    throw new CheckpointError(`checkpoint URL ${JSON.stringify(String(url))} is not a valid URL`);
  }
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return u;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new CheckpointError(`cannot fetch ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (!response.ok) throw new CheckpointError(`cannot fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}
