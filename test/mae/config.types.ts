// Compile-time checks of ViTMAEConfig's shape typing (checked by `tsc --noEmit`, never run): literal dims flow into the type.

import type { Either } from "fp-ts/lib/Either.js";
import {
  type ConfigError,
  type ViTMAEConfig,
  type DefaultConfig,
  makeConfig,
  type parseConfig,
  unsafeConfig,
} from "../../src/mae/config.ts";
import { type huge, mnist, type preset, type tiny } from "../../src/mae/presets.ts";

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(): T | undefined => undefined;

// A stand-in for the DSL's tensor type and for a model signature written against the config.
// NoInfer makes the config alone fix C, H, W (else TS infers C = 1 | 3 from a mismatched pair and accepts it).
interface Tensor<S extends readonly number[]> {
  readonly shape: S;
}
declare function encode<B extends number, C extends number, H extends number, W extends number, D extends number>(
  cfg: ViTMAEConfig<C, H, W, D>,
  pixels: Tensor<[B, NoInfer<C>, NoInfer<H>, NoInfer<W>]>,
): Tensor<[B, number, D]>;
declare function encodeLoose<B extends number, C extends number, H extends number, W extends number, D extends number>(
  cfg: ViTMAEConfig<C, H, W, D>,
  pixels: Tensor<[B, C, H, W]>,
): Tensor<[B, number, D]>;

// Literal dims are inferred from the literal (no `as const` needed: the parameter is `const`).
const rgb = unsafeConfig({
  numChannels: 3,
  imageSize: 32,
  patchSize: 8,
  hiddenSize: 64,
  numAttentionHeads: 4,
  decoderHiddenSize: 32,
  decoderNumAttentionHeads: 4,
});
expectType<Equals<typeof rgb, ViTMAEConfig<3, 32, 32, 64, 32>>>();
expectType<Equals<typeof tiny, ViTMAEConfig<3, 32, 32, 64, 32>>>();
expectType<Equals<typeof mnist, ViTMAEConfig<1, 28, 28, 64, 64>>>();
expectType<Equals<typeof huge, ViTMAEConfig<3, 224, 224, 1280, 512>>>();

// [height, width] gives H and W; dims not given come from HF's defaults ...
const wide = makeConfig({ imageSize: [32, 48], patchSize: 8 });
expectType<Equals<typeof wide, Either<ConfigError, ViTMAEConfig<3, 32, 48, 768, 512>>>>();
expectType<Equals<ReturnType<typeof makeConfig<Record<never, never>>>, Either<ConfigError, DefaultConfig>>>();
// ... or from the base config.
const gray = unsafeConfig({ maskRatio: 0.5 }, mnist);
expectType<Equals<typeof gray, ViTMAEConfig<1, 28, 28, 64, 64>>>();
const grayWider = unsafeConfig({ hiddenSize: 128 }, mnist);
expectType<Equals<typeof grayWider, ViTMAEConfig<1, 28, 28, 128, 64>>>();

// Configs parsed at run time (JSON, presets by name) have `number` dims.
expectType<Equals<ReturnType<typeof parseConfig>, Either<ConfigError, ViTMAEConfig>>>();
expectType<Equals<ReturnType<typeof preset>, Either<ConfigError, ViTMAEConfig>>>();
const loose: ViTMAEConfig = rgb; // a typed config widens to the plain one

// @ts-expect-error a 3-channel config is not a 1-channel config
const oneChannel: ViTMAEConfig<1, 32, 32, 64, 32> = rgb;
// @ts-expect-error nor one of another image size
const bigger: ViTMAEConfig<3, 64, 64, 64, 32> = rgb;
// @ts-expect-error nor one of another hidden size
const wider: ViTMAEConfig<3, 32, 32, 128, 32> = rgb;

// The model signature infers C, H, W, D from the config and checks the pixels against them.
declare const rgbBatch: Tensor<[2, 3, 32, 32]>;
declare const grayBatch: Tensor<[2, 1, 32, 32]>;
const tokens = encode(rgb, rgbBatch);
expectType<Equals<typeof tokens, Tensor<[2, number, 64]>>>();
// @ts-expect-error 1-channel pixels for a 3-channel config
encode(rgb, grayBatch);
const unchecked = encodeLoose(rgb, grayBatch); // without NoInfer this compiles: the pitfall NoInfer avoids
// Configs from JSON have number dims, so any pixels pass at compile time (run-time checks take over).
declare const fromJson: ViTMAEConfig;
encode(fromJson, grayBatch);

// A value with every field but not from a parser cannot pose as a validated config (the brand is a unique symbol).
type Unbranded = { [K in keyof ViTMAEConfig as K extends symbol ? never : K]: ViTMAEConfig[K] };
declare const lookalike: Unbranded;
// @ts-expect-error not branded
const forged: ViTMAEConfig = lookalike;
const fields: Unbranded = rgb; // while a real config has all those fields
// @ts-expect-error unknown field names are compile errors in makeConfig
makeConfig({ hiddenSzie: 64 });
// @ts-expect-error hidden_act must be one of the supported names
makeConfig({ hiddenAct: "gelu_exact" });

export type Unused = [
  typeof loose,
  typeof oneChannel,
  typeof bigger,
  typeof wider,
  typeof forged,
  typeof fields,
  typeof unchecked,
];
