// The researcher's workflow commands (pretrain, reconstruct, probe, finetune, eval) register here.
import type { Command } from "./command.ts";
import { evalCommand } from "./evalCommand.ts";
import { finetuneCommand } from "./finetuneCommand.ts";
import { pretrainCommand } from "./pretrainCommand.ts";
import { probeCommand } from "./probeCommand.ts";
import { reconstructCommand } from "./reconstructCommand.ts";
export const moreCommands: Command[] = [
  pretrainCommand,
  reconstructCommand,
  probeCommand,
  finetuneCommand,
  evalCommand,
];
