// Reads a checkpoint folder's preprocessor_config.json (Node only; the parsing, which runs anywhere,
// is src/data/preprocessorConfig.ts).

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CHECKPOINT_FILE } from "../mae/checkpointNames.ts";
import {
  DEFAULT_PREPROCESSOR_CONFIG,
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  parsePreprocessorConfig,
  PreprocessorConfigError,
  type PreprocessorConfig,
} from "../data/preprocessorConfig.ts";

/** Reads `dir/preprocessor_config.json`; returns the defaults when the folder has none. */
export function readPreprocessorConfig(dir: string): PreprocessorConfig {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir)
    throw new PreprocessorConfigError(`checkpoint folder ${JSON.stringify(dir)} does not exist or is not a folder`);
  const path = join(dir, CHECKPOINT_FILE.preprocessor);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
      return {
        ...DEFAULT_PREPROCESSOR_CONFIG,
        imageMean: [...IMAGENET_DEFAULT_MEAN],
        imageStd: [...IMAGENET_DEFAULT_STD],
      };
    }
    throw new PreprocessorConfigError(`cannot read ${JSON.stringify(path)}: ${String(cause)}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new PreprocessorConfigError(`${JSON.stringify(path)} is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  return parsePreprocessorConfig(json, path);
}
