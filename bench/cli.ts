// `npm run bench` flags: --only CASE[,CASE] --impl IMPL[,IMPL] --reps N --json FILE --quick --help.
import { parseArgs } from "node:util";
import { IMPL_NAMES, type ImplName } from "./cases.ts";

export interface Options {
  /** Case names to run; empty = all. */
  only: string[];
  /** Impls to run; empty = all. */
  impls: ImplName[];
  /** Timed repetitions per entry (the median is reported). */
  reps: number;
  /** Fewer repetitions are allowed when an entry would take longer than its budget, but never below this. */
  minReps: number;
  warmup: number;
  /** Seconds the timed part of one entry may take before reps are cut down to minReps. */
  budgetS: number;
  json: string | null;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]
  --only CASE[,CASE]   run only these cases (e.g. matmul-400x768x768,block-fwd)
  --impl IMPL[,IMPL]   run only these impls (${IMPL_NAMES.join(", ")})
  --reps N             timed repetitions per entry (default 10, --quick 5); exactly N when given
  --quick              fewer repetitions and a shorter time budget per entry
  --json FILE          also write {"machine", "results": [{name, impl, ms, gflops, peakRssMb, ...}]} to FILE
  --help               this text`;

const list = (s: string | undefined) =>
  s
    ? s
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x !== "")
    : [];

/** Parses the flags; throws an Error naming the bad flag or value. `caseNames` are the known cases. */
export function parseOptions(argv: string[], caseNames: readonly string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: "string" },
      impl: { type: "string" },
      reps: { type: "string" },
      json: { type: "string" },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  const only = list(values.only);
  for (const name of only) {
    if (!caseNames.includes(name)) throw new Error(`--only: unknown case "${name}" (known: ${caseNames.join(", ")})`);
  }
  const impls = list(values.impl);
  for (const name of impls) {
    if (!(IMPL_NAMES as readonly string[]).includes(name)) {
      throw new Error(`--impl: unknown impl "${name}" (known: ${IMPL_NAMES.join(", ")})`);
    }
  }
  const quick = values.quick === true;
  let reps = quick ? 5 : 10;
  let minReps = 5;
  if (values.reps !== undefined) {
    reps = Number(values.reps);
    if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: "${values.reps}" is not a positive integer`);
    minReps = reps;
  }
  return {
    only,
    impls: impls as ImplName[],
    reps,
    minReps,
    warmup: 1,
    budgetS: quick ? 30 : 60,
    json: values.json ?? null,
    help: values.help === true,
  };
}
