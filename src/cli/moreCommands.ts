// The researcher's workflow commands (pretrain, reconstruct, probe) register here.
import type { Command } from "./command.ts";
import { pretrainCommand } from "./pretrainCommand.ts";
import { probeCommand } from "./probeCommand.ts";
import { reconstructCommand } from "./reconstructCommand.ts";
export const moreCommands: Command[] = [pretrainCommand, reconstructCommand, probeCommand];
