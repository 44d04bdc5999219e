// The examples `vitmae finetune` trains and evaluates on: --data (a seeded --limit of it), and the held-out
// part (--val-data, or a seeded --val-fraction of --data), their image files checked before step 1. A
// resumed run defaults each of these flags to the saved run's, and the saved values are what it must match.

import * as T from "../core/index.ts";
import { subsetDataset, type Dataset } from "../data/dataset.ts";
import { tryParseDataSpec } from "../data/parseDataSpec.ts";
import { splitDataset } from "../data/splitDataset.ts";
import { CliError, intFlag, numberFlag, orFail } from "./command.ts";
import { checkImages, withoutUnreadable, type ReadableOptions } from "./readableData.ts";
import { normalizeDataSpec, type RunInput } from "./trainingRun.ts";

const CMD = "finetune";

/** Which examples a run uses, as trainer_state.json's `inputs` records them (by flag). */
export interface Selection {
  "--val-data": string | null;
  "--val-fraction": number;
  "--limit": number | null;
}

/** The selection the flags give, each defaulting to the saved run's (`saved`: its trainer_state.json inputs). */
export function selectionOf(values: Record<string, unknown>, saved: Record<string, unknown> = {}): Selection {
  const savedValData = saved["--val-data"];
  const savedLimit = saved["--limit"];
  return {
    "--val-data":
      typeof values["val-data"] === "string"
        ? values["val-data"]
        : typeof savedValData === "string"
          ? savedValData
          : null,
    "--val-fraction":
      numberFlag(values, "val-fraction", CMD, 0, 0.9) ??
      (typeof saved["--val-fraction"] === "number" ? saved["--val-fraction"] : 0.1),
    "--limit":
      values.limit !== undefined
        ? intFlag(values, "limit", CMD, 0, 2)
        : typeof savedLimit === "number"
          ? savedLimit
          : null,
  };
}

/** The inputs a resumed run must match, saved against now (data specs compared as absolute paths). */
export function inputDiffs(saved: Record<string, unknown>, now: Record<string, unknown>): RunInput[] {
  const norm = (flag: string, v: unknown) =>
    flag === "--val-data" && typeof v === "string" ? normalizeDataSpec(v) : v;
  return Object.keys(saved).map((flag) => ({ flag, saved: norm(flag, saved[flag]), given: norm(flag, now[flag]) }));
}

/** A labelled dataset of at least two classes from a spec, or the one line saying why not. */
function labelled(spec: string): Dataset {
  const d = orFail(CMD, tryParseDataSpec(spec));
  if (d.numClasses === undefined)
    throw new CliError(
      `vitmae ${CMD}: dataset ${JSON.stringify(spec)} has no labels; fine-tuning needs classes ` +
        "(a folder with one subfolder per class, IDX files with labels, or mnist)",
    );
  if (d.numClasses < 2)
    throw new CliError(
      `vitmae ${CMD}: dataset ${JSON.stringify(spec)} has ${d.numClasses} class; fine-tuning needs at least 2`,
    );
  return d;
}

/**
 * The training split and the held-out one. The split is made before unreadable images are left out
 * (--skip-bad-images), so that which images are held out never depends on which files can be read.
 */
export function finetuneData(
  dataSpec: string,
  selection: Selection,
  seed: number,
  skipBad: boolean,
): { train: Dataset; val?: Dataset } {
  const [subsetKey, splitKey] = T.random.split(T.random.foldIn(T.key(seed), 0x73706c74), 2);
  const opts = (flag: string, spec: string): ReadableOptions => ({ cmd: CMD, flag, spec, skipBad });
  let data = labelled(dataSpec);
  const limit = selection["--limit"];
  if (limit !== null && limit < data.size) {
    // Drawn on the reference backend and read there: the same subset on every backend (as `vitmae eval`'s).
    const order = Array.from(T.random.permutation(subsetKey, data.size, { backend: "reference" }).toArray()).slice(
      0,
      limit,
    );
    data = subsetDataset(
      data,
      order.sort((a, b) => a - b),
      `${data.name}[${limit}]`,
    );
  }
  data = checkImages(data, opts("--data", dataSpec));
  const training = (d: Dataset) => withoutUnreadable(d, { ...opts("--data", dataSpec), training: true });
  const valSpec = selection["--val-data"];
  if (valSpec !== null) {
    const val = checkImages(labelled(valSpec), opts("--val-data", valSpec));
    if (val.numClasses !== data.numClasses)
      throw new CliError(`vitmae ${CMD}: --val-data has ${val.numClasses} classes, --data ${data.numClasses}`, 2);
    return { train: training(data), val: withoutUnreadable(val, { ...opts("--val-data", valSpec), training: false }) };
  }
  const fraction = selection["--val-fraction"];
  if (fraction === 0) return { train: training(data) };
  const { train, test } = splitDataset(data, fraction, splitKey);
  return { train: training(train), val: withoutUnreadable(test, { ...opts("--data", dataSpec), training: false }) };
}
