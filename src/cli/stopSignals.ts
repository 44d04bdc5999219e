// Ctrl-C (SIGINT) and SIGTERM (what schedulers and `docker stop` send) during a training run: the first one
// asks the run to save a checkpoint and stop between steps, a second one gives up at once; the command then
// exits as a shell reports a process that the signal ended (128 + its number: 130, 143).

import { join } from "node:path";
import { RUN_FOLDER } from "../mae/checkpointNames.ts";
import { CliError } from "./command.ts";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
export type StopSignal = (typeof SIGNALS)[number];

/** 128 + the signal number. */
export const SIGNAL_EXIT_CODE: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

/** Listens for SIGINT and SIGTERM until `dispose()`; `received()` is the first one, once it came. */
export function listenForStop(): { received: () => StopSignal | undefined; dispose: () => void } {
  let first: StopSignal | undefined;
  const listeners = SIGNALS.map((signal) => {
    const listener = () => {
      if (first !== undefined) process.exit(SIGNAL_EXIT_CODE[signal]);
      first = signal;
    };
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return {
    received: () => first,
    dispose: () => {
      for (const [signal, listener] of listeners) process.off(signal, listener);
    },
  };
}

/**
 * The error a run stopped by `signal` at `step` ends its command with: where the checkpoint is and how to
 * continue, and the signal's exit code (it travels as main's return value: the bin sets process.exitCode).
 */
export function interrupted(cmd: string, signal: StopSignal, step: number, totalSteps: number, outDir: string) {
  return new CliError(
    `vitmae ${cmd}: interrupted (${signal}) at step ${step}/${totalSteps}: checkpoint saved in ` +
      `${join(outDir, RUN_FOLDER.checkpoint)}; continue with --resume ${outDir}`,
    SIGNAL_EXIT_CODE[signal],
  );
}
