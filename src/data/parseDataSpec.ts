// The `--data` argument: "mnist", "idx:PATH" or a folder, turned into a Dataset with a clear error when it cannot be.

import type { Either } from "fp-ts/lib/Either.js";
import { attempt } from "../io/attempt.ts";
import { IdxError } from "../io/idx.ts";
import { ImageError } from "../io/image.ts";
import { DatasetError, type Dataset } from "./dataset.ts";
import { idxDataset, isIdxFolder } from "./idxDataset.ts";
import { checkFolder, imageFolderDataset } from "./imageFolderDataset.ts";
import { mnistDataset } from "./mnistDataset.ts";

/** What `parseDataSpec` accepts, for help texts. */
export const DATA_SPEC_HELP =
  '"mnist" (the 10,000 digits in the mnist package), "idx:PATH" (an IDX images file, or a folder with ' +
  "train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz); idx:PATH:t10k for the test files), or a folder " +
  "of PNG/JPEG images (one subfolder per class, or flat and unlabelled)";

/**
 * A dataset from its spec: "mnist"; "idx:PATH" or "idx:PATH:t10k"; or a folder, read as IDX when it
 * holds the standard IDX names and as an image folder otherwise.
 */
export function parseDataSpec(spec: string): Dataset {
  if (typeof spec !== "string" || spec.trim() === "")
    throw new DatasetError(`empty data spec; expected ${DATA_SPEC_HELP}`);
  if (spec === "mnist") return mnistDataset();
  if (spec.startsWith("idx:")) {
    let path = spec.slice(4);
    let split: "train" | "t10k" | undefined;
    for (const s of ["train", "t10k"] as const) {
      if (path.endsWith(`:${s}`)) {
        split = s;
        path = path.slice(0, -s.length - 1);
      }
    }
    if (path === "") throw new DatasetError(`data spec ${JSON.stringify(spec)} has no path after "idx:"`);
    return idxDataset(path, undefined, { split });
  }
  try {
    checkFolder(spec);
  } catch (e) {
    const why = (e as Error).message;
    throw new DatasetError(`data spec ${JSON.stringify(spec)}: ${why}; expected ${DATA_SPEC_HELP}`, { cause: e });
  }
  return isIdxFolder(spec) ? idxDataset(spec) : imageFolderDataset(spec);
}

/** What making a dataset from a spec can fail with: the spec or folder, an IDX file, an image. */
export type DataLoadError = DatasetError | IdxError | ImageError;

/** `parseDataSpec` without throwing: the dataset, or why the spec does not give one. */
export function tryParseDataSpec(spec: string): Either<DataLoadError, Dataset> {
  return attempt(() => parseDataSpec(spec), [DatasetError, IdxError, ImageError]);
}
