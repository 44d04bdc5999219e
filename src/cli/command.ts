// What every `vitmae` subcommand is: a name, its help text, its flags and a run function.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { type Either, isLeft } from "fp-ts/lib/Either.js";

/** A problem the user can fix: printed as one line, exit code 2 (usage) or 1 (anything else). */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<void> | void;
}

/** Parses argv for a command; unknown flags and missing values are usage errors naming the flag. */
export function parse(cmd: Command, argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new CliError(`vitmae ${cmd.name}: ${(e as Error).message.split("\n")[0]} (see vitmae ${cmd.name} --help)`, 2);
  }
}

/** The value of a loader's Either (config, checkpoint, data), or its error as the command's one line (exit 1). */
export function orFail<A>(cmd: string, result: Either<Error, A>): A {
  if (isLeft(result)) throw new CliError(`vitmae ${cmd}: ${result.left.message}`);
  return result.right;
}

/** A required string flag, or a usage error naming it. */
export function required(values: Record<string, unknown>, flag: string, cmd: string): string {
  const v = values[flag];
  if (typeof v !== "string" || v === "")
    throw new CliError(`vitmae ${cmd}: --${flag} is required (see vitmae ${cmd} --help)`, 2);
  return v;
}

/** An integer flag within bounds, or a usage error naming it and the value. */
export function intFlag(values: Record<string, unknown>, flag: string, cmd: string, fallback: number, min = 0): number {
  const v = values[flag];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isInteger(n) || n < min)
    throw new CliError(`vitmae ${cmd}: --${flag} must be an integer >= ${min}, got "${String(v)}"`, 2);
  return n;
}

/** A number flag within [min, max], or a usage error. */
export function numberFlag(
  values: Record<string, unknown>,
  flag: string,
  cmd: string,
  min: number,
  max: number,
): number | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new CliError(`vitmae ${cmd}: --${flag} must be a number in [${min}, ${max}], got "${String(v)}"`, 2);
  }
  return n;
}
