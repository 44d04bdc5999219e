// The names of a checkpoint's files and of the folders a training run keeps them in: written once,
// here, for src/mae, src/train, src/data and the CLI.

/** The files of a checkpoint folder: HF's three, then the two a training run adds to resume exactly. */
export const CHECKPOINT_FILE = {
  config: "config.json",
  weights: "model.safetensors",
  preprocessor: "preprocessor_config.json",
  optimizer: "optimizer.safetensors",
  trainerState: "trainer_state.json",
} as const;

/**
 * The checkpoint folders inside a `vitmae pretrain` output folder: the newest complete one, the one
 * being written, and the one moved aside while the new one takes its place (see src/train/trainCheckpoint.ts).
 */
export const RUN_FOLDER = {
  checkpoint: "checkpoint",
  partial: "checkpoint.partial",
  previous: "checkpoint.previous",
} as const;
