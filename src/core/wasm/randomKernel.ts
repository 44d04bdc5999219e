import type { ModuleBuilder } from "./assembler.ts";
export function addRandomKernel(_module: ModuleBuilder): void {}
