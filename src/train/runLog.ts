// The run's JSONL log: one line per optimizer step. On resume, lines past the checkpoint's step
// (written after the last save, before an interruption) are dropped so the log replays cleanly.

import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../node/atomicWrite.ts";
import type { StepInfo } from "./pretrain.ts";

/** A JSONL log of entries that carry the optimizer step they were written at (StepInfo by default). */
export class RunLog<E extends { step: number } = StepInfo> {
  constructor(readonly path: string) {}

  /** Keeps only the entries up to `step` (all of them when starting fresh at 0: none). */
  truncateTo(step: number): void {
    const kept = this.read().filter((e) => e.step <= step);
    writeFileAtomic(this.path, kept.map((e) => `${JSON.stringify(e)}\n`).join(""));
  }

  /** Adds one entry's line; a failed write (a full disk, a read-only folder) names the log file. */
  append(info: E): void {
    try {
      appendFileSync(this.path, `${JSON.stringify({ ...info, time: new Date().toISOString() })}\n`);
    } catch (e) {
      throw new Error(`cannot append to the run log ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  read(): E[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as E];
        } catch {
          return []; // a line cut short by a crash
        }
      });
  }
}
