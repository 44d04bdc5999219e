// ViTMAE exactly as Hugging Face defines it: config, functional core, HF-style classes, checkpoints.
export * from "./config.ts";
export * from "./presets.ts";
export { patchify, unpatchify } from "./patches.ts";
export { randomMasking, lenKeepOf, type Masked } from "./masking.ts";
export { sinCosTable, bicubicMatrix, interpolateEncoderTable, interpolateDecoderTable } from "./posEmbed.ts";
export { embed, type EmbedOptions } from "./embeddings.ts";
export { encode, type EncodeOptions, type EncoderOutput } from "./encoder.ts";
export { decode, type DecodeOptions, type DecoderOutput } from "./decoder.ts";
export { maeLoss, target } from "./loss.ts";
export { forward, type ForwardOptions, type PreTrainingOutput } from "./forward.ts";
export { initPreTraining, initEncoder, initDecoder } from "./init.ts";
export * from "./params.ts";
export * from "./checkpoint.ts";
export * from "./checkpointFolder.ts";
export { footprint, whyTooLarge, MAX_TENSOR_ELEMENTS, type Footprint } from "./footprint.ts";
export { fetchCheckpoint } from "./fetchCheckpoint.ts";
export { ViTMAEForPreTraining, ViTMAEModel, type ForwardInput } from "./models.ts";
