// Training checkpoints: an HF checkpoint folder plus the optimizer moments and the trainer state,
// written so that no checkpoint is ever half-written. Everything goes to `checkpoint.partial/`;
// then the old `checkpoint/` moves aside to `checkpoint.previous/`, the new one takes its place and
// the previous one is removed. A reader that finds no `checkpoint/` uses `checkpoint.previous/`.
// What is read back is checked (types, ranges, finite moments) before a run continues from it.

import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Either } from "fp-ts/lib/Either.js";
import * as T from "../core/index.ts";
import { attempt } from "../io/attempt.ts";
import { CHECKPOINT_LOAD_ERRORS, type CheckpointLoadError } from "../mae/checkpoint.ts";
import { toFloat32, type SafetensorsFile, type WritableTensor } from "../io/safetensors.ts";
import { loadPreTraining, saveCheckpoint } from "../mae/checkpointFolder.ts";
import { CHECKPOINT_FILE, RUN_FOLDER } from "../mae/checkpointNames.ts";
import type { ViTMAEConfig } from "../mae/config.ts";
import { namedParameters, type PreTrainingParams } from "../mae/params.ts";
import { writeJsonAtomic } from "../node/atomicWrite.ts";
import "../node/nodeFileSystem.ts"; // saveCheckpoint / loadPreTraining go through the file-system seam
import { readFileText } from "../node/readFileBytes.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../node/safetensorsFile.ts";
import type { AdamWState } from "../nn/adamw.ts";
import { fromSaved } from "./hyper.ts";

/** Everything besides the tensors that a resumed run needs to continue exactly. */
export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  totalSteps: number;
  seed: number;
  /** The run's hyperparameters, as given (a resumed run must use the same); each trainer checks its own. */
  hyper: Record<string, number | string | boolean | null>;
  /** The data source spec (a resumed run must read the same). */
  data: string;
  /** The run's other inputs a resume must match, by the flag that gave them (fine-tuning's --val-data, --model, …). */
  inputs?: Record<string, string | number | boolean | null>;
  lastLoss: number | null;
  /** The running mean of the losses that the divergence rule compares against (absent in older checkpoints). */
  runningLoss?: number | null;
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
  fsStep(`clear ${staging}`, () => rmSync(staging, { recursive: true, force: true }));
  fsStep(`create ${staging}`, () => mkdirSync(staging, { recursive: true }));
  if ("writeModel" in parts) parts.writeModel(staging);
  else saveCheckpoint(staging, parts.config, parts.params);
  writeSafetensorsFile(join(staging, CHECKPOINT_FILE.optimizer), momentTensors(parts.opt), {
    step: String(parts.opt.step.item()),
  });
  writeJsonAtomic(join(staging, CHECKPOINT_FILE.preprocessor), parts.preprocessor);
  writeJsonAtomic(join(staging, CHECKPOINT_FILE.trainerState), parts.state);
  if (existsSync(final)) {
    fsStep(`remove ${previous}`, () => rmSync(previous, { recursive: true, force: true }));
    fsStep(`move ${final} aside to ${previous}`, () => renameSync(final, previous));
  }
  fsStep(`move ${staging} to ${final}`, () => renameSync(staging, final));
  fsStep(`remove ${previous}`, () => rmSync(previous, { recursive: true, force: true }));
  return final;
}

/** A file operation of the save, whose failure names the operation, the paths and the cause (not a raw errno). */
function fsStep(what: string, f: () => void): void {
  try {
    f();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      EACCES: "permission denied",
      EPERM: "operation not permitted",
      ENOSPC: "no space left on device",
      EROFS: "read-only file system",
      EBUSY: "the folder is in use",
    };
    const reason = code !== undefined && Object.hasOwn(why, code) ? why[code] : (e as Error).message;
    throw new TrainCheckpointError(`cannot ${what}: ${reason}`, { cause: e });
  }
}

/**
 * The AdamW moments as safetensors tensors, `exp_avg.<name>` and `exp_avg_sq.<name>` (torch's names),
 * flat. With `momentsFrom`, the one place that knows how the optimizer state is held in memory.
 */
function momentTensors(opt: AdamWState): Map<string, WritableTensor> {
  const out = new Map<string, WritableTensor>();
  for (const [name, m] of opt.m) out.set(`exp_avg.${name}`, { dtype: "F32", shape: [m.size], data: m.toArray() });
  for (const [name, v] of opt.v) out.set(`exp_avg_sq.${name}`, { dtype: "F32", shape: [v.size], data: v.toArray() });
  return out;
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

/** A pre-training run's checkpoint: its model, optimizer state and trainer state (hyperparameters checked by pretrain's rules). */
export function loadTrainingCheckpoint(dir: string): {
  config: ViTMAEConfig;
  params: PreTrainingParams;
  opt: AdamWState;
  state: TrainerState;
  path: string;
} {
  const path = findTrainingCheckpoint(dir);
  const state = readTrainerState(join(path, CHECKPOINT_FILE.trainerState), pretrainHyperProblems);
  const { config, params } = loadPreTraining(path);
  return { config, params, opt: readMoments(path, namedParameters(params), state), state, path };
}

/** `loadTrainingCheckpoint` without throwing: the run's saved state, or why it cannot be continued. */
export function tryLoadTrainingCheckpoint(
  dir: string,
): Either<TrainCheckpointError | CheckpointLoadError, ReturnType<typeof loadTrainingCheckpoint>> {
  return attempt(() => loadTrainingCheckpoint(dir), [TrainCheckpointError, ...CHECKPOINT_LOAD_ERRORS]);
}

/**
 * The trainer state and AdamW moments saved beside a checkpoint's model in `path`: the state checked
 * field by field (`hyperProblems` checks the trainer's own hyperparameters), each moment against the
 * model's parameters (`named`) by name, size and value.
 */
export function readTrainingState(
  path: string,
  named: ReadonlyMap<string, { size: number; shape: readonly number[] }>,
  hyperProblems: (hyper: unknown) => string[] = objectProblems,
): { opt: AdamWState; state: TrainerState } {
  const state = readTrainerState(join(path, CHECKPOINT_FILE.trainerState), hyperProblems);
  return { opt: readMoments(path, named, state), state };
}

function readMoments(
  path: string,
  named: ReadonlyMap<string, { size: number; shape: readonly number[] }>,
  state: TrainerState,
): AdamWState {
  const optimizerPath = join(path, CHECKPOINT_FILE.optimizer);
  const file = readSafetensorsFile(optimizerPath);
  const step = Number(file.metadata.step ?? state.step);
  if (step !== state.step)
    throw new TrainCheckpointError(`${path}: optimizer step ${step} differs from trainer step ${state.step}`);
  return { step: T.scalar(step), ...momentsFrom(file, named, optimizerPath) };
}

/** Pre-training's hyperparameters as saved (betas as "β1,β2"), with the totals they must agree with. */
function pretrainHyperProblems(hyper: unknown): string[] {
  return fromSaved(hyper).problems;
}

const objectProblems = (hyper: unknown): string[] =>
  typeof hyper === "object" && hyper !== null && !Array.isArray(hyper)
    ? []
    : [`hyper: ${hyper === undefined ? "missing" : JSON.stringify(hyper)} (must be an object)`];

/**
 * The optimizer state back from its file. Every parameter needs both moments, of its size, finite, and
 * exp_avg_sq >= 0: a missing one would silently restart that parameter, a bad one poison its updates.
 */
function momentsFrom(
  file: SafetensorsFile,
  named: ReadonlyMap<string, { size: number; shape: readonly number[] }>,
  path: string,
): Pick<AdamWState, "m" | "v"> {
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (name.startsWith("exp_avg_sq.")) v.set(name.slice(11), toFloat32(t, name));
    else if (name.startsWith("exp_avg.")) m.set(name.slice(8), toFloat32(t, name));
  }
  for (const [name, t] of named) {
    for (const [key, moments] of [
      ["exp_avg", m],
      ["exp_avg_sq", v],
    ] as const) {
      const got = moments.get(name);
      if (got?.length !== t.size) {
        const problem = got ? `has ${got.length} values, expected ${t.size}` : "is missing";
        throw new TrainCheckpointError(`${path}: ${key}.${name} ${problem}`);
      }
      const bad = got.findIndex((x) => !Number.isFinite(x) || (key === "exp_avg_sq" && x < 0));
      if (bad >= 0) {
        throw new TrainCheckpointError(
          `${path}: ${key}.${name}[${bad}] is ${got[bad]}` +
            `${key === "exp_avg_sq" ? " (a second moment must be finite and >= 0)" : " (must be finite)"}: ` +
            "the saved optimizer state is damaged",
        );
      }
    }
  }
  // In the file's order, as saved (a resumed run writes its moments back in the same order).
  const asTensors = (moments: Map<string, Float32Array>) =>
    new Map(
      [...moments].map(([name, values]) => [name, T.fromArray(values, named.get(name)?.shape ?? [values.length])]),
    );
  return { m: asTensors(m), v: asTensors(v) };
}

/** trainer_state.json, every field checked (a hand-edited or damaged file names each problem). */
export function readTrainerState(
  path: string,
  hyperProblems: (hyper: unknown) => string[] = objectProblems,
): TrainerState {
  const text = readFileText(
    path,
    (problem) => {
      throw new TrainCheckpointError(`${path}: ${problem}`);
    },
    { bytes: 1 << 20, what: "a trainer_state.json" },
  );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TrainCheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const problems = trainerStateProblems(json, hyperProblems);
  if (problems.length > 0)
    throw new TrainCheckpointError(`${path}: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  return json as TrainerState;
}

function trainerStateProblems(json: unknown, hyperProblems: (hyper: unknown) => string[]): string[] {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return ["must be a JSON object"];
  const s = json as Record<string, unknown>;
  const problems: string[] = [];
  const need = (key: string, ok: boolean, rule: string) => {
    if (!ok) problems.push(`${key}: ${s[key] === undefined ? "missing" : JSON.stringify(s[key])} (must be ${rule})`);
  };
  const isCount = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  need("step", isCount(s.step), "an integer >= 0");
  need("totalSteps", isCount(s.totalSteps) && (s.totalSteps as number) >= 1, "an integer >= 1");
  need("seed", typeof s.seed === "number" && Number.isSafeInteger(s.seed), "an integer");
  need("data", typeof s.data === "string" && s.data !== "", "the data spec, a string");
  need(
    "lastLoss",
    s.lastLoss === null || (typeof s.lastLoss === "number" && Number.isFinite(s.lastLoss)),
    "a finite number or null",
  );
  const r = s.runningLoss;
  need(
    "runningLoss",
    r === undefined || r === null || (typeof r === "number" && Number.isFinite(r) && r >= 0),
    "a number >= 0 or null",
  );
  const inputs = s.inputs;
  need(
    "inputs",
    inputs === undefined ||
      (typeof inputs === "object" &&
        inputs !== null &&
        !Array.isArray(inputs) &&
        Object.values(inputs).every((v) => v === null || ["string", "number", "boolean"].includes(typeof v))),
    "an object of strings, numbers, booleans and nulls",
  );
  const hyperIssues = hyperProblems(s.hyper);
  problems.push(...hyperIssues);
  const hyperTotal = (s.hyper as { totalSteps?: unknown } | undefined)?.totalSteps;
  if (hyperIssues.length === 0 && hyperTotal !== undefined && hyperTotal !== s.totalSteps)
    problems.push(
      `hyper.totalSteps ${JSON.stringify(hyperTotal)} differs from totalSteps ${JSON.stringify(s.totalSteps)}`,
    );
  if (isCount(s.step) && isCount(s.totalSteps) && (s.step as number) > (s.totalSteps as number))
    problems.push(`step ${s.step} is past totalSteps ${s.totalSteps}`);
  return problems;
}
