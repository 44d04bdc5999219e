// Pure layers of (params, input), initialisers, AdamW and schedules.
export * from "./linear.ts";
export * from "./layerNorm.ts";
export * from "./activation.ts";
export * from "./dropout.ts";
export * from "./dropPath.ts";
export * from "./crossEntropy.ts";
export * from "./layerDecay.ts";
export * from "./attention.ts";
export * from "./block.ts";
export * from "./init.ts";
export * from "./adamw.ts";
export * from "./schedule.ts";
