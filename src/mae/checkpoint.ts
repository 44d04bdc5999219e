// Hugging Face checkpoint folders: config.json + model.safetensors, read and written (atomically).

import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { isLeft } from "fp-ts/lib/Either.js";
import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { writeJsonAtomic } from "../io/atomicWrite.ts";
import { readSafetensorsFile, toFloat32, writeSafetensorsFile, type WritableTensor } from "../io/safetensors.ts";
import { CHECKPOINT_FILE, RUN_FOLDER } from "./checkpointNames.ts";
import { configFromFile, toHFJson, type ViTMAEConfig } from "./config.ts";
import {
  namedParameters,
  parameterShapes,
  parametersFromNamed,
  type EncoderParams,
  type PreTrainingParams,
} from "./params.ts";

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/**
 * The folder holding the model: `dir` itself, or — for a `vitmae pretrain` output folder — its
 * `checkpoint/` (or `checkpoint.previous/` if a save was interrupted between its two renames).
 */
export function resolveModelDir(dir: string): string {
  if (!existsSync(dir)) throw new CheckpointError(`checkpoint folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory() || existsSync(join(dir, CHECKPOINT_FILE.config))) return dir;
  for (const sub of [RUN_FOLDER.checkpoint, RUN_FOLDER.previous])
    if (existsSync(join(dir, sub, CHECKPOINT_FILE.config))) return join(dir, sub);
  return dir;
}

/** The config of a checkpoint folder (or a config.json path). */
export function loadConfig(dirIn: string): ViTMAEConfig {
  const dir = resolveModelDir(dirIn);
  const path = statSync(dir).isDirectory() ? join(dir, CHECKPOINT_FILE.config) : dir;
  const cfg = configFromFile(path);
  if (isLeft(cfg)) throw cfg.left;
  return cfg.right;
}

/** All tensors of a safetensors file as float32 tensors, by name. */
export function loadNamedTensors(path: string): Map<string, Tensor> {
  const file = readSafetensorsFile(path);
  return new Map([...file.tensors].map(([name, t]) => [name, T.fromArray(toFloat32(t, name), t.shape)]));
}

function weightsPath(dirIn: string): string {
  const dir = resolveModelDir(dirIn);
  const path = join(dir, CHECKPOINT_FILE.weights);
  if (!existsSync(path)) {
    const hint = existsSync(join(dir, "pytorch_model.bin"))
      ? " (only pytorch_model.bin is there: convert it to safetensors first)"
      : "";
    throw new CheckpointError(`no ${CHECKPOINT_FILE.weights} in ${dir}${hint}`);
  }
  return path;
}

/** A ViTMAEForPreTraining checkpoint: config and parameters, every tensor checked by name and shape. */
export function loadPreTraining(dir: string): { config: ViTMAEConfig; params: PreTrainingParams } {
  const config = loadConfig(dir);
  const path = weightsPath(dir);
  return { config, params: parametersFromNamed<PreTrainingParams>(config, loadNamedTensors(path), { source: path }) };
}

/**
 * A ViTMAEModel (encoder) checkpoint. From a pre-training checkpoint it takes the `vit.` part and
 * ignores the decoder, as HF's from_pretrained does; a bare encoder checkpoint has no prefix.
 */
export function loadEncoder(dir: string): { config: ViTMAEConfig; params: EncoderParams } {
  const config = loadConfig(dir);
  const path = weightsPath(dir);
  const named = loadNamedTensors(path);
  const prefixed = [...named.keys()].some((n) => n.startsWith("vit."));
  const encoderOnly = new Map(
    [...named]
      .filter(([n]) => (prefixed ? n.startsWith("vit.") : !n.startsWith("decoder.")))
      .map(([n, t]) => [prefixed ? n.slice(4) : n, t]),
  );
  return { config, params: parametersFromNamed<EncoderParams>(config, encoderOnly, { prefix: "", source: path }) };
}

/** Writes config.json and model.safetensors (HF names, float32) into dir, each atomically. */
export function saveCheckpoint(
  dir: string,
  config: ViTMAEConfig,
  params: PreTrainingParams | EncoderParams,
  opts: { encoderOnly?: boolean } = {},
): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new CheckpointError(`cannot create checkpoint folder ${dir}: ${(e as Error).message}`);
  }
  const named = namedParameters(params);
  // HF's state-dict order, so the file lists tensors as transformers' save_pretrained does.
  const order = parameterShapes(config, opts.encoderOnly ? "" : "vit.").map(([n]) => n);
  const names = [...order.filter((n) => named.has(n)), ...[...named.keys()].filter((n) => !order.includes(n))];
  const tensors = new Map<string, WritableTensor>(
    names.map((n) => {
      const t = named.get(n)!;
      return [n, { dtype: "F32", shape: [...t.shape], data: t.toArray() }];
    }),
  );
  writeSafetensorsFile(join(dir, CHECKPOINT_FILE.weights), tensors, { format: "pt" });
  const json = toHFJson(config);
  if (opts.encoderOnly) json.architectures = ["ViTMAEModel"];
  writeJsonAtomic(join(dir, CHECKPOINT_FILE.config), json);
}
