// The researcher's workflow commands (pretrain, reconstruct, probe) register here.
import type { Command } from "./command.ts";
import { pretrainCommand } from "./pretrainCommand.ts";
export const moreCommands: Command[] = [pretrainCommand];
