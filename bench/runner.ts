// Runs one (case, impl) in its own child process (node or python) and follows the protocol of bench/protocol.ts.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Options } from "./cli.ts";
import { type ChildMessage, LINE_PREFIX, type ParentVerdict, type Summary } from "./protocol.ts";

export type Status = "ok" | "failed-check" | "unsupported" | "absent" | "error" | "timeout";

export interface Outcome {
  status: Status;
  version?: string;
  threads?: string;
  check?: Record<string, Summary>;
  checkMs?: number;
  timesMs?: number[];
  ms?: number;
  peakRssMb?: number;
  /** Why it was not timed, or what went wrong. */
  message?: string;
}

/** Decides, from an impl's check outputs, whether it is timed; a string is the reason it is not. */
export type Judge = (outputs: Record<string, Summary>) => true | string;

/** No single entry may hold the machine longer than this, whatever happens inside it. */
const HARD_LIMIT_MS = 20 * 60 * 1000;

/**
 * Spawns `command` (+ the timing flags) with the case spec, passes its check outputs to `judge`, and answers
 * "time" or "skip". Resolves with what happened; never rejects.
 */
export function runEntry(
  command: string[],
  specPath: string,
  opts: Options,
  judge: Judge,
  cwd: string,
): Promise<Outcome> {
  const args = [
    ...command.slice(1),
    "--spec",
    specPath,
    "--reps",
    String(opts.reps),
    "--warmup",
    String(opts.warmup),
    "--min-reps",
    String(opts.minReps),
    "--budget-s",
    String(opts.budgetS),
  ];
  return new Promise((resolve) => {
    const child = spawn(command[0], args, { cwd, stdio: ["pipe", "pipe", "pipe"] });
    const outcome: Outcome = { status: "error" };
    let stderr = "";
    let settled = false;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({ ...outcome, status: "timeout", message: `killed after ${HARD_LIMIT_MS / 60000} min` });
    }, HARD_LIMIT_MS);

    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000); // keep the tail: that is where the error is
    });
    child.stdin.on("error", () => {}); // the child may exit before reading its verdict
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (!line.startsWith(LINE_PREFIX)) return;
      let msg: ChildMessage;
      try {
        msg = JSON.parse(line.slice(LINE_PREFIX.length)) as ChildMessage;
      } catch {
        return;
      }
      switch (msg.type) {
        case "hello":
          outcome.version = msg.version;
          outcome.threads = msg.threads;
          break;
        case "unsupported":
          outcome.status = "unsupported";
          outcome.message = msg.reason;
          break;
        case "check": {
          outcome.check = msg.outputs;
          outcome.checkMs = msg.checkMs;
          const verdict = judge(msg.outputs);
          const answer: ParentVerdict = verdict === true ? "time" : "skip";
          if (verdict !== true) {
            outcome.status = "failed-check";
            outcome.message = verdict;
          }
          child.stdin.end(`${answer}\n`);
          break;
        }
        case "result":
          Object.assign(outcome, { status: "ok", timesMs: msg.timesMs, ms: msg.ms, peakRssMb: msg.peakRssMb });
          break;
        case "error":
          outcome.status = "error";
          outcome.message = msg.message;
          break;
      }
    });
    child.on("error", (e) => finish({ status: "error", message: `could not start ${command[0]}: ${e.message}` }));
    child.on("close", (code, signal) => {
      if (outcome.status === "error" && !outcome.message) {
        const tail = stderr.trim().split("\n").slice(-3).join(" | ").slice(-400);
        outcome.message = `exited with ${signal ?? `code ${code}`}${tail ? `: ${tail}` : ""}`;
      }
      finish(outcome);
    });
  });
}
