// Compiling pure tensor functions: trace once per signature, run from a plan.
export { jit, type Compiled, type JitOptions } from "./jit.ts";
export type { PlanMemory } from "./plan.ts";
