// The `--config` argument of init and pretrain: a preset name or a config.json path, as a validated config.

import { existsSync } from "node:fs";
import type { ViTMAEConfig } from "../mae/config.ts";
import { configFromFile } from "../mae/checkpointFolder.ts";
import { preset, presetNames } from "../mae/presets.ts";
import { CliError, orFail } from "./command.ts";

/** A preset name or a config.json path (or a folder holding one). */
export function configFromSpec(spec: string, cmd: string): ViTMAEConfig {
  const isPreset = (presetNames as readonly string[]).includes(spec);
  if (!isPreset && !existsSync(spec))
    throw new CliError(
      `vitmae ${cmd}: --config "${spec}" is neither a preset (${presetNames.join(", ")}) nor an existing file`,
      2,
    );
  return orFail(cmd, isPreset ? preset(spec) : configFromFile(spec));
}
