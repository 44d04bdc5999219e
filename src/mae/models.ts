// Thin Hugging Face-style classes over the functional core, for users coming from transformers:
// ViTMAEForPreTraining / ViTMAEModel with fromPretrained / savePretrained (folders, where a file system
// is registered), fromBytes / toBytes and fromUrl (anywhere), and forward.

import * as T from "../core/index.ts";
import type { Key, Tensor } from "../core/index.ts";
import { checkpointToBytes, encoderFromBytes, preTrainingFromBytes, type ConfigJson } from "./checkpoint.ts";
import { loadEncoder, loadPreTraining, saveCheckpoint } from "./checkpointFolder.ts";
import type { ViTMAEConfig } from "./config.ts";
import { checkPixels } from "./embeddings.ts";
import { encode, type EncoderOutput } from "./encoder.ts";
import { fetchCheckpoint } from "./fetchCheckpoint.ts";
import { whyTooLarge } from "./footprint.ts";
import { forward, type PreTrainingOutput } from "./forward.ts";
import { initEncoder, initPreTraining } from "./init.ts";
import type { EncoderParams, PreTrainingParams } from "./params.ts";

export interface ForwardInput {
  pixelValues: Tensor; // [B, C, H, W]
  /** HF's noise [B, L]: argsort decides which patches are kept (smallest kept). */
  noise?: Tensor;
  /** Draw the masking noise from this key instead. */
  key?: Key;
  /** Overrides the config's mask_ratio for this call; 0 keeps every patch in order. */
  maskRatio?: number;
  /** [heads] or [layers, heads]: multiplies the encoder's attention probabilities. */
  headMask?: Tensor;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
  interpolatePosEncoding?: boolean;
  /** Turns on hidden and attention dropout (needs dropoutKey). */
  training?: boolean;
  dropoutKey?: Key;
}

/** Fills in HF's behaviour: deterministic order when nothing is masked, a clear error when no noise source. */
function resolve(cfg: ViTMAEConfig, input: Tensor | ForwardInput) {
  const x: ForwardInput = input instanceof T.Tensor ? { pixelValues: input } : input;
  if (!(x.pixelValues instanceof T.Tensor))
    throw new TypeError("forward: pixelValues must be a Tensor [batch, channels, height, width]");
  if (x.pixelValues.shape[0] === 0)
    throw new RangeError(
      `forward: pixelValues is an empty batch (shape [${x.pixelValues.shape}]): the loss would be 0/0`,
    );
  const maskRatio = x.maskRatio ?? cfg.maskRatio;
  let noise = x.noise;
  if (!noise && !x.key) {
    if (maskRatio !== 0)
      throw new Error("forward: masking needs `noise` [B, L] or a PRNG `key` (or maskRatio: 0 to keep every patch)");
    const [gh, gw] = checkPixels(cfg, x.pixelValues, x.interpolatePosEncoding ?? false); // named errors before any reshape
    const b = x.pixelValues.shape[0];
    const l = gh * gw;
    noise = T.broadcastTo(T.reshape(T.arange(l), [1, l]), [b, l]); // identity order
  }
  if (x.training && !x.dropoutKey) throw new Error("forward: training: true needs a dropoutKey");
  return { ...x, maskRatio, noise, dropoutKey: x.training ? x.dropoutKey : undefined };
}

/** A RangeError naming the fields when the config's model has a tensor no typed array can hold. */
function checkAllocatable(config: ViTMAEConfig): void {
  const why = whyTooLarge(config, { training: false, batchSize: 0 });
  if (why !== undefined) throw new RangeError(`init: cannot make this model: ${why}`);
}

export class ViTMAEForPreTraining {
  constructor(
    readonly config: ViTMAEConfig,
    readonly params: PreTrainingParams,
  ) {}

  /** Loads a HF checkpoint folder (config.json + model.safetensors); needs a file system (Node). */
  static fromPretrained(dir: string): ViTMAEForPreTraining {
    const { config, params } = loadPreTraining(dir);
    return new ViTMAEForPreTraining(config, params);
  }

  /** A checkpoint from memory: config.json (text, bytes or object) and model.safetensors' bytes. */
  static fromBytes(configJson: ConfigJson, weights: Uint8Array): ViTMAEForPreTraining {
    const { config, params } = preTrainingFromBytes(configJson, weights);
    return new ViTMAEForPreTraining(config, params);
  }

  /** A checkpoint folder at a URL (its config.json and model.safetensors are fetched). */
  static async fromUrl(url: string | URL): Promise<ViTMAEForPreTraining> {
    const { configJson, weights, sources } = await fetchCheckpoint(url);
    const { config, params } = preTrainingFromBytes(configJson, weights, sources);
    return new ViTMAEForPreTraining(config, params);
  }

  /** A freshly initialised model (refused, naming the fields, when one of its tensors cannot be allocated). */
  static init(config: ViTMAEConfig, key: Key): ViTMAEForPreTraining {
    checkAllocatable(config);
    return new ViTMAEForPreTraining(config, initPreTraining(key, config));
  }

  forward(input: Tensor | ForwardInput): PreTrainingOutput {
    return forward(
      this.params,
      this.config,
      input instanceof T.Tensor ? input : input.pixelValues,
      resolve(this.config, input),
    );
  }

  /** Writes config.json and model.safetensors into dir (atomically); needs a file system (Node). */
  savePretrained(dir: string): void {
    saveCheckpoint(dir, this.config, this.params);
  }

  /** What savePretrained writes, in memory: config.json's text and model.safetensors' bytes. */
  toBytes(): { configJson: string; weights: Uint8Array } {
    return checkpointToBytes(this.config, this.params);
  }
}

export class ViTMAEModel {
  constructor(
    readonly config: ViTMAEConfig,
    readonly params: EncoderParams,
  ) {}

  /** Loads an encoder checkpoint folder, or the `vit.` part of a pre-training one; needs a file system (Node). */
  static fromPretrained(dir: string): ViTMAEModel {
    const { config, params } = loadEncoder(dir);
    return new ViTMAEModel(config, params);
  }

  /** An encoder from memory (the `vit.` part of a pre-training checkpoint, or a bare encoder). */
  static fromBytes(configJson: ConfigJson, weights: Uint8Array): ViTMAEModel {
    const { config, params } = encoderFromBytes(configJson, weights);
    return new ViTMAEModel(config, params);
  }

  /** An encoder from a checkpoint folder at a URL. */
  static async fromUrl(url: string | URL): Promise<ViTMAEModel> {
    const { configJson, weights, sources } = await fetchCheckpoint(url);
    const { config, params } = encoderFromBytes(configJson, weights, sources);
    return new ViTMAEModel(config, params);
  }

  static init(config: ViTMAEConfig, key: Key): ViTMAEModel {
    checkAllocatable(config);
    return new ViTMAEModel(config, initEncoder(key, config));
  }

  forward(input: Tensor | ForwardInput): EncoderOutput {
    return encode(
      this.params,
      this.config,
      input instanceof T.Tensor ? input : input.pixelValues,
      resolve(this.config, input),
    );
  }

  /** Writes an encoder checkpoint (HF's unprefixed names) into dir; needs a file system (Node). */
  savePretrained(dir: string): void {
    saveCheckpoint(dir, this.config, this.params, { encoderOnly: true });
  }

  /** What savePretrained writes, in memory. */
  toBytes(): { configJson: string; weights: Uint8Array } {
    return checkpointToBytes(this.config, this.params, { encoderOnly: true });
  }
}
