// Hugging Face checkpoint folders (config.json + model.safetensors), read and written through the
// file-system seam (src/io/fileSystem.ts): Node's where the Node entry registered it, and a clear
// "no file system here" error elsewhere.

import { type Either, left } from "fp-ts/lib/Either.js";
import type { Tensor } from "../core/index.ts";
import { attempt } from "../io/attempt.ts";
import { fileSystem, NoFileSystemError, type FileSystem } from "../io/fileSystem.ts";
import { SafetensorsError } from "../io/safetensors.ts";
import {
  CHECKPOINT_LOAD_ERRORS,
  CheckpointError,
  type CheckpointLoadError,
  checkpointToBytes,
  encoderFromBytes,
  MAX_CONFIG_BYTES,
  namedTensorsFromBytes,
  preTrainingFromBytes,
} from "./checkpoint.ts";
import { CHECKPOINT_FILE, RUN_FOLDER } from "./checkpointNames.ts";
import { ConfigError, configFromText, fileIssue, getOrThrow, type ViTMAEConfig } from "./config.ts";
import type { EncoderParams, PreTrainingParams } from "./params.ts";

/**
 * The folder holding the model: `dir` itself, or — for a `vitmae pretrain` output folder — its
 * `checkpoint/` (or `checkpoint.previous/` if a save was interrupted between its two renames).
 */
export function resolveModelDir(dir: string): string {
  const fs = fileSystem(`checkpoint folder ${dir}`);
  const kind = fs.kind(dir);
  if (kind === "missing") throw new CheckpointError(`checkpoint folder ${dir} does not exist`);
  if (kind !== "folder" || fs.kind(fs.join(dir, CHECKPOINT_FILE.config)) !== "missing") return dir;
  for (const sub of [RUN_FOLDER.checkpoint, RUN_FOLDER.previous])
    if (fs.kind(fs.join(dir, sub, CHECKPOINT_FILE.config)) !== "missing") return fs.join(dir, sub);
  return dir;
}

/** A config from a config.json file, or from a folder holding one (as HF's from_pretrained takes). */
export function configFromFile(path: string): Either<ConfigError, ViTMAEConfig> {
  const fs = fileSystem(`config ${path}`);
  const file = fs.kind(path) === "folder" ? fs.join(path, CHECKPOINT_FILE.config) : path;
  const text = readText(fs, file, (problem) => {
    throw fileIssue(file, problem);
  });
  return typeof text === "string" ? configFromText(text, file) : left(text);
}

/** The config of a checkpoint folder (or a config.json path). */
export function loadConfig(dirIn: string): ViTMAEConfig {
  const dir = resolveModelDir(dirIn);
  return getOrThrow(configFromFile(dir));
}

/** All tensors of a safetensors file as float32 tensors, by name. */
export function loadNamedTensors(path: string): Map<string, Tensor> {
  return namedTensorsFromBytes(readWeights(fileSystem(`safetensors file ${path}`), path), path);
}

/** A ViTMAEForPreTraining checkpoint folder: config and parameters, every tensor checked by name and shape. */
export function loadPreTraining(dir: string): { config: ViTMAEConfig; params: PreTrainingParams } {
  const { fs, configText, configPath, weightsPath } = readFolder(dir);
  return preTrainingFromBytes(configText, readWeights(fs, weightsPath), { config: configPath, weights: weightsPath });
}

/** A ViTMAEModel (encoder) checkpoint folder, or the `vit.` part of a pre-training one (see encoderFromBytes). */
export function loadEncoder(dir: string): { config: ViTMAEConfig; params: EncoderParams } {
  const { fs, configText, configPath, weightsPath } = readFolder(dir);
  return encoderFromBytes(configText, readWeights(fs, weightsPath), { config: configPath, weights: weightsPath });
}

/** Writes config.json and model.safetensors (HF names, float32) into dir, each atomically. */
export function saveCheckpoint(
  dir: string,
  config: ViTMAEConfig,
  params: PreTrainingParams | EncoderParams,
  opts: { encoderOnly?: boolean } = {},
): void {
  writeCheckpointFolder(dir, checkpointToBytes(config, params, opts));
}

/** Writes a checkpoint's two files into dir (created if need be), each atomically: the weights, then the config. */
export function writeCheckpointFolder(dir: string, files: { configJson: string; weights: Uint8Array }): void {
  const fs = fileSystem(`checkpoint folder ${dir}`);
  try {
    fs.makeFolder(dir);
  } catch (e) {
    throw new CheckpointError(`cannot create checkpoint folder ${dir}: ${(e as Error).message}`);
  }
  fs.writeFile(fs.join(dir, CHECKPOINT_FILE.weights), files.weights);
  fs.writeFile(fs.join(dir, CHECKPOINT_FILE.config), files.configJson);
}

/** The config text and the weights' path of a ViTMAE checkpoint folder (config first: it names the model). */
function readFolder(dirIn: string) {
  return readCheckpointFolder(dirIn, (text, path) => void getOrThrow(configFromText(text, path)));
}

/**
 * The config text and the weights' path of a checkpoint folder, after `checkConfig` (which throws for a bad
 * config, so that it is reported before the weights are read); `readWeights` gives the weights' bytes.
 */
export function readCheckpointFolder(dirIn: string, checkConfig: (text: string, path: string) => void) {
  const fs = fileSystem(`checkpoint folder ${dirIn}`);
  const dir = resolveModelDir(dirIn);
  const configPath = fs.kind(dir) === "folder" ? fs.join(dir, CHECKPOINT_FILE.config) : dir;
  const configText = readText(fs, configPath, (problem) => {
    throw fileIssue(configPath, problem);
  });
  if (typeof configText !== "string") throw configText;
  checkConfig(configText, configPath);
  const weightsPath = fs.join(dir, CHECKPOINT_FILE.weights);
  if (fs.kind(weightsPath) === "missing") {
    const hint =
      fs.kind(fs.join(dir, "pytorch_model.bin")) === "missing"
        ? ""
        : " (only pytorch_model.bin is there: convert it to safetensors first)";
    throw new CheckpointError(`no ${CHECKPOINT_FILE.weights} in ${dir}${hint}`);
  }
  return { fs, configText, configPath, weightsPath, readWeights: () => readWeights(fs, weightsPath) };
}

/** config.json's text, or the ConfigError that `fail` raised for the file. */
function readText(fs: FileSystem, path: string, fail: (problem: string) => never): string | ConfigError {
  try {
    const bytes = fs.readFile(path, fail, { bytes: MAX_CONFIG_BYTES, what: "a config.json" });
    return new TextDecoder().decode(bytes);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}

function readWeights(fs: FileSystem, path: string): Uint8Array {
  return fs.readFile(path, (problem, cause) => {
    throw new SafetensorsError(problem, { source: path }, cause);
  });
}

/** `loadPreTraining` without throwing: the model, or why the folder does not hold one (or no file system). */
export function tryLoadPreTraining(
  dir: string,
): Either<CheckpointLoadError | NoFileSystemError, { config: ViTMAEConfig; params: PreTrainingParams }> {
  return attempt(() => loadPreTraining(dir), [...CHECKPOINT_LOAD_ERRORS, NoFileSystemError]);
}

/** `loadEncoder` without throwing. */
export function tryLoadEncoder(
  dir: string,
): Either<CheckpointLoadError | NoFileSystemError, { config: ViTMAEConfig; params: EncoderParams }> {
  return attempt(() => loadEncoder(dir), [...CHECKPOINT_LOAD_ERRORS, NoFileSystemError]);
}
