// `vitmae init`: a freshly initialised ViTMAEForPreTraining checkpoint in HF format.

import * as T from "../core/index.ts";
import { ViTMAEForPreTraining } from "../mae/models.ts";
import { CliError, intFlag, required, type Command } from "./command.ts";
import { configFromSpec } from "./configFromSpec.ts";
import { machineMemory } from "./machineMemory.ts";
import { checkOutputCheckpoint } from "./paths.ts";
import { whyTooLarge } from "../mae/footprint.ts";

export const initCommand: Command = {
  name: "init",
  summary: "write a freshly initialised checkpoint in HF format",
  usage: `vitmae init --config PRESET|FILE [--seed N] --out DIR

  --config PRESET|FILE   a preset (base, large, huge, tiny, mnist) or an HF config.json
  --seed N               initialisation seed (default 0)
  --out DIR              the checkpoint folder to write (config.json + model.safetensors); never a
                         training checkpoint (its optimizer state would be left with other weights)
  --overwrite            replace the config.json and model.safetensors already in --out`,
  options: {
    config: { type: "string" },
    seed: { type: "string" },
    out: { type: "string" },
    overwrite: { type: "boolean" },
  },
  run(values) {
    const config = configFromSpec(required(values, "config", "init"), "init");
    const seed = intFlag(values, "seed", "init", 0);
    const out = required(values, "out", "init");
    checkOutputCheckpoint(out, "init", values.overwrite === true);
    const tooLarge = whyTooLarge(config, { training: false, batchSize: 0, budgetBytes: machineMemory() });
    if (tooLarge !== undefined) throw new CliError(`vitmae init: cannot make this model: ${tooLarge}`);
    ViTMAEForPreTraining.init(config, T.key(seed)).savePretrained(out);
    console.log(`wrote a fresh checkpoint (seed ${seed}) to ${out}`);
  },
};
