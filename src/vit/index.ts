// ViTForImageClassification as Hugging Face defines it, with MAE's mean-pool head: config, forward, checkpoints.
export * from "./config.ts";
export * from "./params.ts";
export { classify, type ClassifyOptions, type ClassifierOutput } from "./forward.ts";
export { initClassifier, initHead, classifierOnEncoder } from "./init.ts";
export * from "./checkpoint.ts";
export { isClassifierFolder, loadClassifier, saveClassifier } from "./checkpointFolder.ts";
export { ViTForImageClassification, type ClassifierInput } from "./models.ts";
