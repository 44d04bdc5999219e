// A run's image files checked before its first batch (issue 13): an image folder is scanned (headers and
// structure, not pixels) and every unreadable file named — or, with --skip-bad-images, left out and counted.
// Data not read from files (mnist, IDX) has nothing to scan. Used by pretrain, finetune and eval.

import { scanOnce, skippingUnreadable, withoutBad } from "../data/badImages.ts";
import type { BadExample, Dataset } from "../data/dataset.ts";
import { listed } from "../mae/checkpoint.ts";
import { CliError } from "./command.ts";

export interface ReadableOptions {
  cmd: string;
  /** The flag and value that named the data, for messages: "--data", "DIR". */
  flag: string;
  spec: string;
  /** --skip-bad-images: leave unreadable files out (counted) instead of refusing the data. */
  skipBad: boolean;
  /** Where the counts and skipped files are reported (the run's stdout). */
  log?: (line: string) => void;
}

const describe = (bad: readonly BadExample[]) =>
  listed(
    bad.map((b) => `${b.source}: ${b.problem}`),
    3,
  );

/**
 * Scans every example a run will read, once (its parts reuse the scan). Unreadable files are a one-line
 * error naming them (the first three and the count), unless `skipBad`, when they are counted in the log.
 */
export function checkImages(dataset: Dataset, opts: ReadableOptions): Dataset {
  const scanned = scanOnce(dataset);
  const bad = scanned.scan?.() ?? [];
  if (bad.length === 0) return scanned;
  if (!opts.skipBad)
    throw new CliError(
      `vitmae ${opts.cmd}: ${opts.flag} ${opts.spec}: ${bad.length} of ${dataset.size} images cannot be read ` +
        `(${describe(bad)}); fix or remove them, or pass --skip-bad-images to leave them out`,
    );
  (opts.log ?? console.log)(`skipping ${bad.length} of ${dataset.size} images that cannot be read: ${describe(bad)}`);
  return scanned;
}

/**
 * A checked dataset (or a part of one: a subset, a split) without its unreadable examples, when skipping.
 * Training data also skips a file that fails only when decoded, replacing it by the next readable one (and
 * reporting it); held-out data does not, since a repeated image would skew its accuracy: such a file stops
 * the run, naming it.
 */
export function withoutUnreadable(part: Dataset, opts: ReadableOptions & { training: boolean }): Dataset {
  if (!opts.skipBad) return part;
  const bad = part.scan?.() ?? [];
  const kept = bad.length > 0 ? withoutBad(part, bad) : part;
  if (!opts.training) return kept;
  const log = opts.log ?? console.log;
  return skippingUnreadable(kept, (b) => log(`skipping an image that cannot be read: ${b.source}: ${b.problem}`));
}

/** `checkImages` then `withoutUnreadable` on the whole dataset. */
export function readableData(dataset: Dataset, opts: ReadableOptions & { training: boolean }): Dataset {
  return withoutUnreadable(checkImages(dataset, opts), opts);
}
