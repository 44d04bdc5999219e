// One (case, impl) pair in its own node process, so its peak RSS is its own: load, check, wait for the verdict, time.
//
// Usage (the parent runs it): node --import tsx bench/child.ts --impl NAME --spec FILE
//   --reps N --warmup W --min-reps M --budget-s S
// It prints protocol lines (bench/protocol.ts) on stdout and reads one verdict line ("time" | "skip") on stdin.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { CaseSpec, ImplName } from "./cases.ts";
import { NODE_IMPLS } from "./impls/index.ts";
import { type ChildMessage, LINE_PREFIX, median, type Summary, summarize } from "./protocol.ts";
import { readSafetensors } from "./safetensors.ts";

function send(msg: ChildMessage): void {
  process.stdout.write(`${LINE_PREFIX + JSON.stringify(msg)}\n`);
}

function flag(args: string[], name: string): string {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length)
    throw new Error(`child.ts: missing ${name} (usage in the header of bench/child.ts)`);
  return args[i + 1];
}

/**
 * This process's peak resident set, in MB. On Linux, getrusage's maxRSS (process.resourceUsage) also counts the
 * parent's resident pages at fork time (measured: a 40 MB child of a 600 MB parent reports 576 MB), so the
 * high-water mark of this process's own memory image, VmHWM, is read instead; maxRSS elsewhere.
 */
function peakRssMb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch {
    // no procfs: fall back below
  }
  return process.resourceUsage().maxRSS / 1024; // kilobytes
}

async function readVerdict(): Promise<string> {
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  return "skip"; // the parent went away
}

/** A check that ran this long already warmed everything a warm-up run would (the same code, once). */
const CHECK_IS_WARMUP_MS = 5000;

/**
 * Warm-up runs, then timed runs; fewer (but at least minReps) when the whole would exceed the budget.
 * `checkMs` is how long the untimed check run took.
 */
async function timeSteps(
  step: () => Promise<void>,
  checkMs: number,
  reps: number,
  warmup: number,
  minReps: number,
  budgetS: number,
): Promise<number[]> {
  let estimateMs = checkMs;
  if (checkMs > CHECK_IS_WARMUP_MS) warmup = 0;
  for (let i = 0; i < warmup; i++) {
    const t0 = performance.now();
    await step();
    estimateMs = performance.now() - t0;
  }
  reps = Math.max(minReps, Math.min(reps, Math.floor((budgetS * 1000) / Math.max(estimateMs, 1e-3))));
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  return times;
}

async function main(args: string[]): Promise<void> {
  const implName = flag(args, "--impl") as ImplName;
  const load = NODE_IMPLS[implName];
  if (!load)
    throw new Error(`child.ts: "${implName}" is not a node impl (known: ${Object.keys(NODE_IMPLS).join(", ")})`);
  const impl = await load();
  const hello = () => send({ type: "hello", impl: impl.name, version: impl.version, threads: impl.threads });

  const spec = JSON.parse(readFileSync(flag(args, "--spec"), "utf8")) as CaseSpec;
  const reason = impl.unsupported(spec.kind);
  if (reason !== null) {
    hello();
    send({ type: "unsupported", reason });
    return;
  }
  const workload = await impl.prepare(spec, readSafetensors(spec.data));
  // The case's host arrays are garbage once the impl holds its own copies (in wasm memory, or on a
  // GPU): collect them now (the parent runs node with --expose-gc), as a training script's loader
  // would have long been collected, rather than leave them in the peak RSS of a step that allocates
  // little JavaScript (a compiled plan) and so may never trigger a collection.
  (globalThis as { gc?: () => void }).gc?.();
  hello(); // after prepare: some impls learn their thread count when their backend starts

  const t0 = performance.now();
  const outputs = await workload.check();
  const checkMs = performance.now() - t0;
  const summaries: Record<string, Summary> = {};
  for (const name of spec.checks) {
    const t = outputs.get(name);
    if (!t) throw new Error(`${impl.name} returned no check output "${name}" for ${spec.name}`);
    summaries[name] = summarize(t);
  }
  send({ type: "check", outputs: summaries, checkMs });

  if ((await readVerdict()) !== "time") return;
  const times = await timeSteps(
    () => workload.step(),
    checkMs,
    Number(flag(args, "--reps")),
    Number(flag(args, "--warmup")),
    Number(flag(args, "--min-reps")),
    Number(flag(args, "--budget-s")),
  );
  send({ type: "result", timesMs: times, ms: median(times), peakRssMb: peakRssMb() });
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: unknown) => {
    // Print a short message: tfjs-wasm's emscripten glue would otherwise dump its whole minified source.
    const err = e as Error;
    const where = err?.stack?.split("\n").slice(1, 4).join(" | ") ?? "";
    send({ type: "error", message: `${err?.message ?? String(e)}${where ? ` (${where.trim()})` : ""}` });
    process.exit(1);
  },
);
