// `vitmae forward`: run a checkpoint on pixel_values (and noise) from a safetensors file and write
// HF's outputs (and, with --grads, every parameter's gradient) under the reference files' names.

import * as T from "../core/index.ts";
import type { Tensor } from "../core/index.ts";
import { valueAndGrad } from "../autodiff/index.ts";
import { loadNamedTensors, tryLoadPreTraining } from "../mae/checkpointFolder.ts";
import { forward } from "../mae/forward.ts";
import { namedParameters, type PreTrainingParams } from "../mae/params.ts";
import type { WritableTensor } from "../io/safetensors.ts";
import { writeSafetensorsFile } from "../node/safetensorsFile.ts";
import { BACKEND_OPTION, backendUsage, useBackend } from "./backendFlag.ts";
import { CliError, orFail, required, type Command } from "./command.ts";
import { checkOutputPath, checkpointDir } from "./paths.ts";

export const forwardCommand: Command = {
  name: "forward",
  summary: "run a checkpoint on inputs from a safetensors file; write outputs (and gradients)",
  usage: `vitmae forward --model DIR --inputs FILE.safetensors --out FILE.safetensors [flags]

Reads pixel_values [B,C,H,W] and optional noise [B,L] from --inputs and writes last_hidden_state,
mask, ids_restore (I64), logits, loss and, on request, hidden_states.N, attentions.N and
grad.<HF parameter name> for every parameter plus grad.pixel_values.

  --model DIR                   HF checkpoint folder (config.json + model.safetensors)
  --inputs FILE                 safetensors with pixel_values (and noise)
  --out FILE                    where to write the outputs (atomically; never inside a checkpoint folder)
  --overwrite                   replace --out if it exists
  --grads                       also write the gradient of the loss for every parameter and the pixels
  --hidden-states               also write hidden_states.0 … hidden_states.N
  --attentions                  also write attentions.0 … attentions.N-1
  --interpolate-pos-encoding    allow images of another size (bicubic position tables)
  --seed N                      draw the masking noise from this seed when the inputs have none
${backendUsage(32)}`,
  options: {
    ...BACKEND_OPTION,
    model: { type: "string" },
    inputs: { type: "string" },
    out: { type: "string" },
    grads: { type: "boolean" },
    "hidden-states": { type: "boolean" },
    attentions: { type: "boolean" },
    "interpolate-pos-encoding": { type: "boolean" },
    seed: { type: "string" },
    overwrite: { type: "boolean" },
  },
  async run(values) {
    const modelFlag = required(values, "model", "forward");
    const inputsPath = required(values, "inputs", "forward");
    const outPath = required(values, "out", "forward");
    checkOutputPath(outPath, "forward", values.overwrite === true);
    await useBackend(values, "forward");
    const { config, params } = orFail("forward", tryLoadPreTraining(checkpointDir(modelFlag, "forward")));
    const inputs = loadNamedTensors(inputsPath);
    const pixels = inputs.get("pixel_values");
    if (!pixels)
      throw new CliError(
        `vitmae forward: ${inputsPath} has no tensor named pixel_values ` +
          `(it has: ${[...inputs.keys()].join(", ") || "nothing"})`,
      );
    if (pixels.shape[0] === 0)
      throw new CliError(`vitmae forward: pixel_values in ${inputsPath} is an empty batch (shape [${pixels.shape}])`);
    for (const name of ["pixel_values", "noise"]) await warnNonFinite(inputs.get(name), name, inputsPath);
    const seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !Number.isSafeInteger(seed))
      throw new CliError(`vitmae forward: --seed must be an integer, got "${String(values.seed)}"`, 2);
    const [h, w] = pixels.shape.slice(2);
    if (
      values["interpolate-pos-encoding"] !== true &&
      pixels.shape.length === 4 &&
      (h !== config.imageSize[0] || w !== config.imageSize[1])
    ) {
      // The library's message names the API option; a CLI user needs the flag.
      throw new CliError(
        `vitmae forward: pixel_values are ${h}x${w} but the model takes ${config.imageSize[0]}x${config.imageSize[1]}; ` +
          "pass --interpolate-pos-encoding to run at another size",
      );
    }
    const noise = inputs.get("noise");
    const opts = {
      noise,
      key: noise ? undefined : T.key(seed ?? 0),
      outputHiddenStates: values["hidden-states"] === true,
      outputAttentions: values.attentions === true,
      interpolatePosEncoding: values["interpolate-pos-encoding"] === true,
    };
    // What to write, read back all at once at the end (a GPU backend reads only with await).
    const out = new Map<string, { t: Tensor; dtype: "F32" | "I64" }>();
    const put = (name: string, t: Tensor, dtype: "F32" | "I64" = "F32") => out.set(name, { t, dtype });
    let result: ReturnType<typeof forward>;
    if (values.grads) {
      const run = (p: PreTrainingParams, x: Tensor) => {
        const r = forward(p, config, x, opts);
        return [r.loss, r] as [Tensor, typeof r];
      };
      const [, [gParams, gPixels], aux] = valueAndGrad(run, { argnums: [0, 1], hasAux: true })(params, pixels);
      result = aux as ReturnType<typeof forward>;
      for (const [name, g] of namedParameters(gParams)) put(`grad.${name}`, g);
      put("grad.pixel_values", gPixels);
    } else {
      result = forward(params, config, pixels, opts);
    }
    put("last_hidden_state", result.lastHiddenState);
    put("mask", result.mask);
    put("ids_restore", result.idsRestore, "I64");
    put("logits", result.logits);
    put("loss", result.loss);
    result.hiddenStates?.forEach((h, i) => put(`hidden_states.${i}`, h));
    result.attentions?.forEach((a, i) => put(`attentions.${i}`, a));
    // Outputs first, gradients after, as in the reference files.
    const names = [...out.keys()].sort((a, b) => +a.startsWith("grad.") - +b.startsWith("grad."));
    const read = await Promise.all(names.map((n) => out.get(n)!.t.data()));
    const ordered = new Map<string, WritableTensor>(
      names.map((n, i) => {
        const { t, dtype } = out.get(n)!;
        return [n, { dtype, shape: [...t.shape], data: read[i] } as WritableTensor];
      }),
    );
    writeSafetensorsFile(outPath, ordered);
    console.log(`wrote ${ordered.size} tensors to ${outPath} (loss ${read[names.indexOf("loss")][0]})`);
  },
};

/** Non-finite inputs make non-finite outputs: said once, naming the tensor, rather than a silent `loss NaN`. */
async function warnNonFinite(t: Tensor | undefined, name: string, file: string): Promise<void> {
  if (t === undefined) return;
  const count = (await t.data()).reduce((c, v) => (Number.isFinite(v) ? c : c + 1), 0);
  if (count > 0)
    console.warn(
      `vitmae forward: warning: ${name} in ${file} holds ${count} non-finite value${count === 1 ? "" : "s"} ` +
        "(NaN or ±Infinity): the outputs will not be finite",
    );
}
