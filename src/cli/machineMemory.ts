// The memory a command may plan for: the machine's, or the container's limit where one is set.

import { totalmem } from "node:os";

/** Bytes of memory this process can hope to use (a cgroup limit wins over the machine's total). */
export function machineMemory(): number {
  const limit = process.constrainedMemory?.() ?? 0; // 0, undefined or 2^64: no limit known
  const total = totalmem();
  return limit > 0 && limit < total ? limit : total;
}
