// The `vitmae` command line: dispatches to a subcommand; every failure is one clear line.

import "../node/nodeFileSystem.ts"; // checkpoint folders are read and written through Node's file system
import { CliError, parse, type Command } from "./command.ts";
import { forwardCommand } from "./forwardCommand.ts";
import { initCommand } from "./initCommand.ts";
import { moreCommands } from "./moreCommands.ts";

const commands: Command[] = [forwardCommand, initCommand, ...moreCommands];

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `vitmae — ViTMAE (masked autoencoders) in TypeScript

usage: vitmae <command> [flags]     (vitmae <command> --help for its flags)

${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}`;
}

/** How many items of a multi-line problem list (config fields, parameters) one line shows. */
const SHOWN_PROBLEMS = 5;

/** A message as one line: its first line, then at most SHOWN_PROBLEMS of the listed problems and the count of the rest. */
function oneLine(message: string): string {
  const [head, ...items] = message.split("\n").map((l) => l.trim());
  if (items.length === 0) return head;
  const shown =
    items.length <= SHOWN_PROBLEMS
      ? items
      : [...items.slice(0, SHOWN_PROBLEMS), `… and ${items.length - SHOWN_PROBLEMS} more`];
  return `${head}${head.endsWith(":") ? " " : "; "}${shown.join("; ")}`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(overview());
    return name === undefined ? 2 : 0;
  }
  const cmd = commands.find((c) => c.name === name);
  try {
    if (!cmd)
      throw new CliError(`vitmae: unknown command "${name}" (commands: ${commands.map((c) => c.name).join(", ")})`, 2);
    const { values, positionals } = parse(cmd, rest);
    if (values.help) {
      console.log(cmd.usage);
      return 0;
    }
    await cmd.run(values, positionals);
    return 0;
  } catch (e) {
    const err = e as Error;
    const msg = oneLine(err instanceof CliError ? err.message : `vitmae ${name}: ${err.message}`);
    console.error(msg);
    if (process.env.VITMAE_DEBUG) console.error(err.stack);
    return err instanceof CliError ? err.exitCode : 1;
  }
}
