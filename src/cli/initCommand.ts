// `vitmae init`: a freshly initialised ViTMAEForPreTraining checkpoint in HF format.

import * as T from "../core/index.ts";
import { ViTMAEForPreTraining } from "../mae/models.ts";
import { intFlag, required, type Command } from "./command.ts";
import { configFromSpec } from "./configFromSpec.ts";

export const initCommand: Command = {
  name: "init",
  summary: "write a freshly initialised checkpoint in HF format",
  usage: `vitmae init --config PRESET|FILE [--seed N] --out DIR

  --config PRESET|FILE   a preset (base, large, huge, tiny, mnist) or an HF config.json
  --seed N               initialisation seed (default 0)
  --out DIR              the checkpoint folder to write (config.json + model.safetensors)`,
  options: { config: { type: "string" }, seed: { type: "string" }, out: { type: "string" } },
  run(values) {
    const config = configFromSpec(required(values, "config", "init"), "init");
    const seed = intFlag(values, "seed", "init", 0);
    const out = required(values, "out", "init");
    ViTMAEForPreTraining.init(config, T.key(seed)).savePretrained(out);
    console.log(`wrote a fresh checkpoint (seed ${seed}) to ${out}`);
  },
};
