// Training checkpoints: an HF checkpoint folder plus the optimizer moments and the trainer state,
// written so that no checkpoint is ever half-written. Everything goes to `checkpoint.partial/`;
// then the old `checkpoint/` moves aside to `checkpoint.previous/`, the new one takes its place and
// the previous one is removed. A reader that finds no `checkpoint/` uses `checkpoint.previous/`.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as T from "../core/index.ts";
import { writeJsonAtomic } from "../node/atomicWrite.ts";
import "../node/nodeFileSystem.ts"; // saveCheckpoint / loadPreTraining go through the file-system seam
import { toFloat32, type WritableTensor } from "../io/safetensors.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../node/safetensorsFile.ts";
import { loadPreTraining, saveCheckpoint } from "../mae/checkpointFolder.ts";
import { CHECKPOINT_FILE, RUN_FOLDER } from "../mae/checkpointNames.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { namedParameters, type PreTrainingParams } from "../mae/params.ts";
import type { AdamWState } from "../nn/adamw.ts";

/** Everything besides the tensors that a resumed run needs to continue exactly. */
export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  totalSteps: number;
  seed: number;
  /** The run's hyperparameters, as given (a resumed run must use the same). */
  hyper: Record<string, number | string | boolean | null>;
  /** The data source spec, for the record. */
  data: string;
  lastLoss: number | null;
}

export class TrainCheckpointError extends Error {
  override name = "TrainCheckpointError";
}

/** The model part of a training checkpoint: a ViTMAE pre-training model, or any model that writes its own folder. */
export type CheckpointModel =
  | { config: ViTMAEConfig; params: PreTrainingParams }
  | { writeModel: (dir: string) => void };

export function saveTrainingCheckpoint(
  outDir: string,
  parts: CheckpointModel & {
    opt: AdamWState;
    state: TrainerState;
    preprocessor: Record<string, unknown>;
  },
): string {
  const staging = join(outDir, RUN_FOLDER.partial);
  const final = join(outDir, RUN_FOLDER.checkpoint);
  const previous = join(outDir, RUN_FOLDER.previous);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  if ("writeModel" in parts) parts.writeModel(staging);
  else saveCheckpoint(staging, parts.config, parts.params);
  const moments = new Map<string, WritableTensor>();
  for (const [name, m] of parts.opt.m)
    moments.set(`exp_avg.${name}`, { dtype: "F32", shape: [m.size], data: m.toArray() });
  for (const [name, v] of parts.opt.v)
    moments.set(`exp_avg_sq.${name}`, { dtype: "F32", shape: [v.size], data: v.toArray() });
  writeSafetensorsFile(join(staging, CHECKPOINT_FILE.optimizer), moments, { step: String(parts.opt.step.item()) });
  writeJsonAtomic(join(staging, CHECKPOINT_FILE.preprocessor), parts.preprocessor);
  writeJsonAtomic(join(staging, CHECKPOINT_FILE.trainerState), parts.state);
  if (existsSync(final)) {
    rmSync(previous, { recursive: true, force: true });
    renameSync(final, previous);
  }
  renameSync(staging, final);
  rmSync(previous, { recursive: true, force: true });
  return final;
}

/** The newest complete checkpoint folder under a run's output folder (or the folder itself). */
export function findTrainingCheckpoint(dir: string): string {
  for (const candidate of [join(dir, RUN_FOLDER.checkpoint), join(dir, RUN_FOLDER.previous), dir]) {
    if (existsSync(join(candidate, CHECKPOINT_FILE.trainerState))) return candidate;
  }
  throw new TrainCheckpointError(
    `no training checkpoint in ${dir} (expected ${join(dir, RUN_FOLDER.checkpoint, CHECKPOINT_FILE.trainerState)})`,
  );
}

export function loadTrainingCheckpoint(dir: string): {
  config: ViTMAEConfig;
  params: PreTrainingParams;
  opt: AdamWState;
  state: TrainerState;
  path: string;
} {
  const path = findTrainingCheckpoint(dir);
  const { config, params } = loadPreTraining(path);
  return { config, params, ...readTrainingState(path, namedParameters(params)), path };
}

/**
 * The trainer state and AdamW moments saved beside a checkpoint's model in `path`, each moment checked
 * against the model's parameters (`named`) by name and size.
 */
export function readTrainingState(
  path: string,
  named: ReadonlyMap<string, { size: number; shape: readonly number[] }>,
): { opt: AdamWState; state: TrainerState } {
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(join(path, CHECKPOINT_FILE.trainerState), "utf8")) as TrainerState;
  } catch (e) {
    throw new TrainCheckpointError(`${join(path, CHECKPOINT_FILE.trainerState)}: ${(e as Error).message}`);
  }
  if (!Number.isInteger(state.step) || state.step < 0 || !Number.isInteger(state.seed)) {
    throw new TrainCheckpointError(`${join(path, CHECKPOINT_FILE.trainerState)}: step and seed must be integers`);
  }
  const optimizerPath = join(path, CHECKPOINT_FILE.optimizer);
  const file = readSafetensorsFile(optimizerPath);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (name.startsWith("exp_avg_sq.")) v.set(name.slice(11), toFloat32(t, name));
    else if (name.startsWith("exp_avg.")) m.set(name.slice(8), toFloat32(t, name));
  }
  // A missing or mis-sized moment would silently restart (zeros) or poison (NaN) that parameter's updates.
  for (const [name, t] of named) {
    for (const [key, moments] of [
      ["exp_avg", m],
      ["exp_avg_sq", v],
    ] as const) {
      const got = moments.get(name);
      if (got?.length !== t.size) {
        throw new TrainCheckpointError(
          `${optimizerPath}: ${key}.${name} ${got ? `has ${got.length} values, expected ${t.size}` : "is missing"}`,
        );
      }
    }
  }
  const step = Number(file.metadata.step ?? state.step);
  if (step !== state.step)
    throw new TrainCheckpointError(`${path}: optimizer step ${step} differs from trainer step ${state.step}`);
  // In the file's order, as saved (a resumed run writes its moments back in the same order).
  const asTensors = (moments: Map<string, Float32Array>) =>
    new Map(
      [...moments].map(([name, values]) => [name, T.fromArray(values, named.get(name)?.shape ?? [values.length])]),
    );
  return { opt: { step: T.scalar(step), m: asTensors(m), v: asTensors(v) }, state };
}
