// `npm run bench`: times vitmae-ts and its peers on the cases of issue 5, each (case, impl) in its own process.
//
// Per case: write the shared data once; run the impls, reference candidates first (vitmae-ts, pytorch,
// tfjs-cpu); the first whose check runs is the reference, and every later impl is timed only when its
// outputs agree with it (else FAILED-CHECK). Then print the machine and the table; --json also writes it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../src/node/atomicWrite.ts";
import { allCases, type CaseDef, CPU_IMPLS, type ImplName, OURS, REFERENCE_ORDER } from "./cases.ts";
import { type Options, parseOptions, USAGE } from "./cli.ts";
import { maeConfigFrom, type MaeConfig } from "./data.ts";
import { DataDir } from "./datasets.ts";
import { describeMachine, findPython, formatMachine, type Machine, probeTorch } from "./machine.ts";
import { compareOutputs, type Summary } from "./protocol.ts";
import { type Judge, type Outcome, runEntry } from "./runner.ts";
import { formatTable, type Row } from "./table.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const referenceDir = resolve(repoRoot, "test/fixtures/hf");
const torchPeer = join(repoRoot, "bench/peers/torch_peer.py");
const torchMae = join(repoRoot, "bench/peers/torch_mae.py");

/** The reference `tiny` config (issue 5: mae-tiny-step uses it); a copy of its sizes if the file is missing. */
function tinyConfig(): MaeConfig {
  const path = join(referenceDir, "tiny/config.json");
  if (existsSync(path)) return maeConfigFrom(JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>);
  console.error(`note: ${path} not found; mae-tiny-step uses a built-in copy of its sizes`);
  return maeConfigFrom({
    image_size: 32,
    patch_size: 8,
    num_channels: 3,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 128,
    decoder_hidden_size: 32,
    decoder_num_hidden_layers: 1,
    decoder_num_attention_heads: 4,
    decoder_intermediate_size: 64,
    mask_ratio: 0.75,
  });
}

/**
 * Runs torch_mae.py against the golden HF cases; null when it matches them, else what went wrong.
 * This is what makes the PyTorch MAE step a trustworthy reference: it does HF's exact work.
 */
function verifyTorchMae(python: string): string | null {
  const cases = ["tiny", "tiny_normpix", "odd"].map((c) => join(referenceDir, c)).filter((d) => existsSync(d));
  if (cases.length === 0) return `no golden cases under ${referenceDir}`;
  let out: string;
  try {
    out = execFileSync(python, [torchMae, "--verify", ...cases], { encoding: "utf8", timeout: 300_000 });
  } catch (e) {
    out = ((e as { stdout?: string }).stdout ?? "") || `torch_mae.py --verify failed: ${(e as Error).message}`;
  }
  const problems: string[] = [];
  for (const line of out.trim().split("\n")) {
    try {
      const r = JSON.parse(line) as {
        case: string;
        ok: boolean;
        failed: string[];
        errors: Record<string, number | string>;
      };
      const name = r.case.split("/").pop();
      console.log(
        `pytorch MAE peer vs HF golden "${name}": ${r.ok ? "ok" : "MISMATCH"} (loss ${Number(r.errors.loss).toExponential(1)}, ` +
          `logits ${Number(r.errors.logits).toExponential(1)}, worst grad ${Number(r.errors["grad (worst param)"]).toExponential(1)} rel.)`,
      );
      if (!r.ok) problems.push(`${name}: ${r.failed.join(", ")}`);
    } catch {
      problems.push(line.slice(0, 200));
    }
  }
  return problems.length ? `torch_mae.py disagrees with the HF golden cases: ${problems.join("; ")}` : null;
}

/** Reference candidates first, in REFERENCE_ORDER, then the other peers in the issue's order. */
function orderImpls(def: CaseDef, selected: readonly ImplName[]): ImplName[] {
  const wanted = def.impls.filter((i) => selected.length === 0 || selected.includes(i));
  return [...REFERENCE_ORDER.filter((i) => wanted.includes(i)), ...wanted.filter((i) => !REFERENCE_ORDER.includes(i))];
}

interface CaseRun {
  def: CaseDef;
  outcomes: Map<ImplName, { outcome: Outcome; check: string }>;
}

/** Where the PyTorch peer stands this run: its python, and why it cannot run (at all, or the MAE steps). */
interface TorchStatus {
  python: string;
  problem: string | null;
  maeProblem: string | null;
}

async function runCase(
  def: CaseDef,
  specPath: string,
  impls: ImplName[],
  opts: Options,
  torch: TorchStatus,
  progress: (s: string) => void,
): Promise<CaseRun> {
  const outcomes: CaseRun["outcomes"] = new Map();
  let reference: { impl: ImplName; outputs: Record<string, Summary> } | null = null;
  for (const impl of impls) {
    const isTorch = impl === "pytorch" || impl === "pytorch-cuda";
    if (isTorch && torch.problem !== null) {
      outcomes.set(impl, { outcome: { status: "absent", message: torch.problem }, check: "" });
      continue;
    }
    if (isTorch && def.kind === "mae-step" && torch.maeProblem !== null) {
      outcomes.set(impl, { outcome: { status: "failed-check", message: torch.maeProblem }, check: torch.maeProblem });
      continue;
    }
    let check = "";
    const judge: Judge = (outputs) => {
      if (reference === null) {
        if (REFERENCE_ORDER.includes(impl)) {
          reference = { impl, outputs };
          check = "reference";
        } else {
          check = "unchecked (no reference impl ran)";
        }
        return true;
      }
      const c = compareOutputs(reference.outputs, outputs, def.checks, def.rtol);
      if (c.ok) {
        check = `ok (max rel err ${c.worst.toExponential(1)} vs ${reference.impl})`;
        return true;
      }
      check = `FAILED-CHECK vs ${reference.impl}: ${c.problems.slice(0, 2).join("; ")}`;
      return check;
    };
    const command =
      impl === "pytorch"
        ? [torch.python, torchPeer]
        : impl === "pytorch-cuda"
          ? [torch.python, torchPeer, "--device", "cuda"]
          : [process.execPath, "--expose-gc", "--import", "tsx", join(repoRoot, "bench/child.ts"), "--impl", impl];
    progress(`${def.name} / ${impl} …`);
    const outcome = await runEntry(command, specPath, opts, judge, repoRoot);
    progress(`${def.name} / ${impl}: ${outcome.status === "ok" ? `${outcome.ms!.toFixed(1)} ms` : outcome.status}`);
    outcomes.set(impl, { outcome, check });
  }
  return { def, outcomes };
}

function toRows(run: CaseRun): Row[] {
  const ours = OURS.map((impl) => run.outcomes.get(impl)?.outcome).find((o) => o?.status === "ok");
  const oursMs = ours?.status === "ok" ? ours.ms! : null;
  return [...run.outcomes].map(([impl, { outcome, check }]) => ({
    name: run.def.name,
    impl,
    outcome,
    gflops: outcome.status === "ok" ? run.def.flops / outcome.ms! / 1e6 : null,
    perOurs: outcome.status === "ok" && oursMs !== null ? outcome.ms! / oursMs : null,
    check,
  }));
}

function writeJson(path: string, machine: Machine, rows: Row[]): void {
  const results = rows.map((r) => ({
    name: r.name,
    impl: r.impl,
    ms: r.outcome.status === "ok" ? r.outcome.ms! : null,
    gflops: r.gflops,
    peakRssMb: r.outcome.peakRssMb ?? null,
    status: r.outcome.status,
    threads: r.outcome.threads ?? null,
    version: r.outcome.version ?? null,
    perOurs: r.perOurs,
    timesMs: r.outcome.timesMs ?? null,
    check: r.check || r.outcome.message || null,
  }));
  writeFileAtomic(path, `${JSON.stringify({ machine, results }, null, 2)}\n`);
}

async function main(argv: string[]): Promise<number> {
  const cases = allCases(tinyConfig());
  let opts: Options;
  try {
    opts = parseOptions(
      argv,
      cases.map((c) => c.name),
    );
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const selected = cases.filter((c) => opts.only.length === 0 || opts.only.includes(c.name));
  const impls = opts.impls.length ? opts.impls : [...CPU_IMPLS];

  const python = findPython();
  const torchWanted = (["pytorch", "pytorch-cuda"] as const).some(
    (t) => impls.includes(t) && selected.some((c) => c.impls.includes(t)),
  );
  const torchInfo = torchWanted ? probeTorch(python, torchPeer) : `not requested (--impl ${impls.join(",")})`;
  const machine = describeMachine(torchInfo);
  console.log(formatMachine(machine));
  const torchProblem = typeof torchInfo === "string" ? torchInfo : null;
  const maeProblem =
    torchProblem === null && selected.some((c) => c.kind === "mae-step") ? verifyTorchMae(python) : null;

  const dir = mkdtempSync(join(tmpdir(), "vitmae-bench-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  const data = new DataDir(dir);
  const rows: Row[] = [];
  const progress = (s: string) => process.stderr.write(`  ${s}\n`);
  try {
    for (const def of selected) {
      const order = orderImpls(def, impls);
      if (order.length === 0) continue;
      progress(`${def.name}: writing its data`);
      const specPath = data.specFor(def);
      const run = await runCase(def, specPath, order, opts, { python, problem: torchProblem, maeProblem }, progress);
      rows.push(...toRows(run));
    }
  } finally {
    cleanup();
  }

  console.log("");
  console.log(formatTable(rows));
  console.log(
    `\nms: median of the timed repetitions after warm-up; GFLOP/s: matmul FLOPs of the case (backward = 2× forward).`,
  );
  if (!rows.some((r) => OURS.includes(r.impl) && r.outcome.status === "ok")) {
    console.log(`÷ ours is empty: neither ${OURS.join(" nor ")} was timed (see its row).`);
  }
  if (opts.json) {
    writeJson(opts.json, machine, rows);
    console.log(`wrote ${opts.json}`);
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
