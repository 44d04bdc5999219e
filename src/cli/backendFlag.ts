// `--backend NAME` for the commands that compute (pretrain, finetune, eval, probe, reconstruct, forward): where
// tensors live and kernels run. The backend is started before use (a WebGPU device is acquired
// asynchronously) and named on the first line of output, so a log says what computed it.

import * as T from "../core/index.ts";
import { CliError, type Options } from "./command.ts";

export const BACKEND_OPTION: Options = { backend: { type: "string" } };

/** The flag's help lines, its description starting at `column` like the command's other flags. */
export function backendUsage(column: number): string {
  return (
    `${"  --backend NAME".padEnd(column)}where tensors live and kernels run: cpu (default), reference,\n` +
    `${" ".repeat(column)}gpujs:webgpu or gpujs:webgl2 (a GPU: see the README's "On a GPU"), gpujs:MODE`
  );
}

/** Starts the backend the flag names (default: the current one), makes it current, and prints it. */
export async function useBackend(values: Record<string, unknown>, cmd: string): Promise<T.Backend> {
  const name = typeof values.backend === "string" ? values.backend : T.backend().name;
  let be: T.Backend;
  try {
    be = await T.loadBackend(name);
  } catch (e) {
    throw new CliError(`vitmae ${cmd}: --backend ${name}: ${(e as Error).message}`, 2);
  }
  T.setBackend(name);
  console.log(`backend: ${be.name}${be.description ? ` (${be.description})` : ""}`);
  return be;
}
