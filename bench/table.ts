// The printed table: one row per (case, impl), each peer's time divided by ours, and how its check went.
import type { ImplName } from "./cases.ts";
import type { Outcome } from "./runner.ts";

export interface Row {
  name: string;
  impl: ImplName;
  outcome: Outcome;
  gflops: number | null;
  /** This row's median time ÷ vitmae-ts's on the same case; null when either was not timed. */
  perOurs: number | null;
  /** "reference", "ok (max rel err 1e-6 vs pytorch)" or why the check failed. */
  check: string;
}

const fmt = (x: number | null | undefined, digits: number) => (x === null || x === undefined ? "" : x.toFixed(digits));

function msCell(o: Outcome): string {
  if (o.status === "ok") return o.ms! >= 100 ? o.ms!.toFixed(0) : o.ms!.toPrecision(3);
  return o.status === "failed-check" ? "FAILED-CHECK" : o.status;
}

export function formatTable(rows: Row[]): string {
  const header = ["case", "impl", "thr", "ms (median)", "GFLOP/s", "peak RSS MB", "÷ ours", "check / note"];
  const body = rows.map((r) => [
    r.name,
    r.impl,
    r.outcome.threads ?? "",
    msCell(r.outcome),
    fmt(r.gflops, 1),
    fmt(r.outcome.peakRssMb, 0),
    r.perOurs === null ? "" : `${r.perOurs.toFixed(2)}×`,
    r.outcome.status === "ok" || r.outcome.status === "failed-check" ? r.check : (r.outcome.message ?? ""),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (i === 7 ? 0 : row[i].length))));
  const numeric = new Set([3, 4, 5, 6]);
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 7 ? c : numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  const out = [line(header), line(widths.map((w) => "-".repeat(w)))];
  let previous = "";
  for (let i = 0; i < rows.length; i++) {
    if (previous !== "" && rows[i].name !== previous) out.push("");
    previous = rows[i].name;
    out.push(line(body[i]));
  }
  return out.join("\n");
}
