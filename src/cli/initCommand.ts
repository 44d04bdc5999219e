// `vitmae init`: a freshly initialised ViTMAEForPreTraining checkpoint in HF format.

import { existsSync } from "node:fs";
import { isLeft } from "fp-ts/lib/Either.js";
import * as T from "../core/index.ts";
import { configFromFile, type ViTMAEConfig } from "../mae/config.ts";
import { preset, presetNames } from "../mae/presets.ts";
import { ViTMAEForPreTraining } from "../mae/models.ts";
import { CliError, intFlag, required, type Command } from "./command.ts";

/** A preset name or a config.json path (or a folder holding one). */
export function configFromSpec(spec: string, cmd: string): ViTMAEConfig {
  const isPreset = (presetNames as readonly string[]).includes(spec);
  if (!isPreset && !existsSync(spec))
    throw new CliError(
      `vitmae ${cmd}: --config "${spec}" is neither a preset (${presetNames.join(", ")}) nor an existing file`,
      2,
    );
  const cfg = isPreset ? preset(spec) : configFromFile(spec);
  if (isLeft(cfg)) throw new CliError(`vitmae ${cmd}: ${cfg.left.message}`);
  return cfg.right;
}

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
