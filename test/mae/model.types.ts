// Compile-time checks (tsc, never run): a config with literal dims fixes the pixel tensor's type.

import type * as T from "../../src/core/index.ts";
import { forward } from "../../src/mae/forward.ts";
import { tiny, mnist } from "../../src/mae/presets.ts";
import type { PreTrainingParams } from "../../src/mae/params.ts";

declare const params: PreTrainingParams;
declare const rgb32: T.Tensor<[2, 3, 32, 32]>;
declare const gray32: T.Tensor<[2, 1, 32, 32]>;
declare const rgb28: T.Tensor<[2, 3, 28, 28]>;
declare const gray28: T.Tensor<[4, 1, 28, 28]>;
declare const unknown: T.Tensor;

// The right pixels compile, and the batch and hidden dims flow into the outputs.
const out = forward(params, tiny, rgb32);
const latent: T.Tensor<[2, number, 64]> = out.lastHiddenState;
const mask: T.Tensor<[2, number]> = out.mask;
const digits: T.Tensor<[4, number, 64]> = forward(params, mnist, gray28).lastHiddenState;
// Shapes known only at run time are checked there.
forward(params, tiny, unknown);

// @ts-expect-error tiny takes 3 channels
forward(params, tiny, gray32);
// @ts-expect-error tiny takes 32x32 images
forward(params, tiny, rgb28);
// @ts-expect-error mnist takes 1 channel of 28x28
forward(params, mnist, rgb32);
// @ts-expect-error the batch dim is carried: 2 is not 4
const wrongBatch: T.Tensor<[4, number, 64]> = forward(params, tiny, rgb32).lastHiddenState;

export { latent, mask, digits, wrongBatch };
