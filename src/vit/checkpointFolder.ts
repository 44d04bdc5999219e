// ViTForImageClassification checkpoint folders, read and written through the file-system seam
// (src/io/fileSystem.ts), as src/mae/checkpointFolder.ts does for ViTMAE.

import type { Either } from "fp-ts/lib/Either.js";
import { attempt } from "../io/attempt.ts";
import { NoFileSystemError } from "../io/fileSystem.ts";
import { CHECKPOINT_LOAD_ERRORS, type CheckpointLoadError } from "../mae/checkpoint.ts";
import { readCheckpointFolder, writeCheckpointFolder } from "../mae/checkpointFolder.ts";
import {
  checkClassifierConfig,
  isClassifierConfig,
  classifierFromBytes,
  classifierToBytes,
  type LoadClassifierOptions,
  type LoadedClassifier,
} from "./checkpoint.ts";
import type { ViTConfig } from "./config.ts";
import type { ClassifierParams } from "./params.ts";

/**
 * A classifier from a checkpoint folder (or a `vitmae pretrain` / `vitmae finetune` output folder): a
 * classifier checkpoint as it is, or a ViTMAE one's encoder with a new head (see classifierFromBytes).
 */
export function loadClassifier(dir: string, opts: LoadClassifierOptions = {}): LoadedClassifier {
  const folder = readCheckpointFolder(dir, checkClassifierConfig);
  return classifierFromBytes(
    folder.configText,
    folder.readWeights(),
    { config: folder.configPath, weights: folder.weightsPath },
    opts,
  );
}

/** Whether the checkpoint folder holds a classifier (config.json's model_type "vit") rather than a ViTMAE model. */
export function isClassifierFolder(dir: string): boolean {
  const { configText, configPath } = readCheckpointFolder(dir, checkClassifierConfig);
  return isClassifierConfig(configText, configPath);
}

/** Writes config.json (model_type "vit") and model.safetensors into dir, each atomically. */
export function saveClassifier(dir: string, config: ViTConfig, params: ClassifierParams): void {
  writeCheckpointFolder(dir, classifierToBytes(config, params));
}

/** `loadClassifier` without throwing: the classifier, or why the folder does not hold one (or no file system). */
export function tryLoadClassifier(
  dir: string,
  opts: LoadClassifierOptions = {},
): Either<CheckpointLoadError | NoFileSystemError, LoadedClassifier> {
  return attempt(() => loadClassifier(dir, opts), [...CHECKPOINT_LOAD_ERRORS, NoFileSystemError]);
}
