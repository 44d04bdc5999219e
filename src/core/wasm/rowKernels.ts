import type { ModuleBuilder } from "./assembler.ts";
export function addRowKernels(_module: ModuleBuilder): void {}
