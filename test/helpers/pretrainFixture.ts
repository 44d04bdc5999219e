// Shared fixtures for the training tests: a very small ViTMAE config, tiny image datasets (in memory and as
// PNG folders, flat or labelled), byte snapshots of output folders, and the CLI run in-process with its
// output captured.

import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { main } from "../../src/cli/main.ts";
import type { Dataset } from "../../src/data/index.ts";
import { encodePng, type Image } from "../../src/io/image.ts";
import { toHFJson, unsafeConfig } from "../../src/mae/config.ts";

/** 16x16 RGB, 4px patches (16 patches, 4 kept), one 16-wide block each side: a step takes milliseconds. */
export const smallConfig = unsafeConfig({
  imageSize: 16,
  patchSize: 4,
  numChannels: 3,
  hiddenSize: 16,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  intermediateSize: 32,
  decoderHiddenSize: 16,
  decoderNumHiddenLayers: 1,
  decoderNumAttentionHeads: 2,
  decoderIntermediateSize: 32,
  maskRatio: 0.75,
});

/** Writes `smallConfig` as an HF config.json (what `--config FILE` takes) and returns its path. */
export function writeSmallConfig(path: string): string {
  writeFileSync(path, JSON.stringify(toHFJson(smallConfig), null, 2));
  return path;
}

/** A deterministic 16x16 RGB picture: stripes and a gradient that differ per `seed`. */
export function pictureOf(seed: number, size = 16): Image {
  const data = new Uint8Array(size * size * 3).map((_, i) => (i * 31 + seed * 57 + ((i * i) >> 3)) % 256);
  return { width: size, height: size, channels: 3, data };
}

/** `n` pictures in memory, unlabelled. */
export function memoryDataset(n: number): Dataset {
  const images = Array.from({ length: n }, (_, i) => pictureOf(i));
  return { name: "memory", size: n, get: (i) => ({ image: images[i] }) };
}

/** A flat folder of `n` PNGs (img00.png ...); returns the folder. */
export function writeImageFolder(dir: string, n: number): string {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const { data, width, height } = pictureOf(i);
    writeFileSync(join(dir, `img${String(i).padStart(2, "0")}.png`), encodePng(data, width, height, 3));
  }
  return dir;
}

/** Two classes of 12 pictures each, "bright" and "dark" (something to learn), as class subfolders; returns the folder. */
export function writeLabelledFolder(dir: string): string {
  for (const [c, shift] of [
    ["bright", 0],
    ["dark", 1],
  ] as const) {
    mkdirSync(join(dir, c), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const p = pictureOf(i + 20 * shift);
      const data = p.data.map((v) => (shift ? v >> 2 : 192 + (v >> 2)));
      writeFileSync(join(dir, c, `${i}.png`), encodePng(data, p.width, p.height, 3));
    }
  }
  return dir;
}

/** Every file under `dir` (relative path → bytes), to check later that nothing changed. */
export function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return files;
}

export interface CliRun {
  code: number;
  stdout: string[];
  stderr: string[];
}

/**
 * Runs `main(argv)` in-process, capturing console.log/console.error. `onLine` sees each stdout line as
 * it is printed (the progress lines come one per step on a non-TTY), e.g. to raise SIGINT mid-run.
 */
export async function runCli(argv: string[], onLine?: (line: string) => void): Promise<CliRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => {
    const line = a.join(" ");
    stdout.push(line);
    onLine?.(line);
  };
  console.error = (...a: unknown[]) => void stderr.push(a.join(" "));
  const tty = Object.getOwnPropertyDescriptor(process.stderr, "isTTY");
  Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true }); // plain progress lines, even in a terminal
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    [console.log, console.error] = [log, error];
    if (tty) Object.defineProperty(process.stderr, "isTTY", tty);
    else delete (process.stderr as { isTTY?: boolean }).isTTY;
  }
}

/** The losses of a run's log.jsonl, in step order (asserting the steps are 1, 2, ... without gaps). */
export function logLosses(outDir: string): number[] {
  const entries = readFileSync(join(outDir, "log.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { step: number; loss: number });
  entries.forEach((e, i) => {
    if (e.step !== i + 1) throw new Error(`log.jsonl of ${outDir}: line ${i + 1} is step ${e.step}`);
  });
  return entries.map((e) => e.loss);
}
