// The seam every node-side impl plugs into: prepare a case from the shared tensors, check it once, time its steps.
import type { CaseKind, CaseSpec, ImplName } from "../cases.ts";
import type { Tensors } from "../safetensors.ts";

/** One case, ready to run on one impl. */
export interface Workload {
  /**
   * Runs the case once from the initial weights and returns the outputs named in `spec.checks`, with HF
   * shapes and layouts (e.g. "grad.attention.attention.query.weight" is [out, in]). Not timed.
   */
  check(): Promise<Tensors>;
  /** One timed repetition: resolves when its results are computed (not merely queued). */
  step(): Promise<void>;
}

export interface BenchImpl {
  readonly name: ImplName;
  /** Library version, for the table. */
  readonly version: string;
  /** How many threads it computes on, for the table (e.g. "1", "2"). */
  readonly threads: string;
  /** Null when the impl runs this kind of case, else the reason it does not (printed in the table). */
  unsupported(kind: CaseKind): string | null;
  /** Loads the case's weights and inputs (`tensors`, HF names) into the impl. Not timed. */
  prepare(spec: CaseSpec, tensors: Tensors): Promise<Workload>;
}
