// The Math functions the wasm module imports (float64 in, float64 out): per-lane fallbacks for the
// rare elementwise ops where exactness beats vector speed (sin, cos, a general pow). Workers import
// the same names from their own Math, so a parked worker needs nothing sent to it.
import { F64, type ValType } from "./assembler.ts";

export interface MathImport {
  readonly name: "sin" | "cos" | "pow";
  readonly params: ValType[];
  readonly results: ValType[];
}

/** Function indices follow this order (imports come first in the module). */
export const MATH_IMPORTS: readonly MathImport[] = [
  { name: "sin", params: [F64], results: [F64] },
  { name: "cos", params: [F64], results: [F64] },
  { name: "pow", params: [F64, F64], results: [F64] },
];

export const mathImportIndex = (name: MathImport["name"]): number => MATH_IMPORTS.findIndex((m) => m.name === name);
