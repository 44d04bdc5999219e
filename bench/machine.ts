// What the numbers were measured on: CPU, cores, node, and whether (and how) PyTorch is there.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cpus } from "node:os";

export interface TorchInfo {
  python: string;
  version: string;
  threads: number;
  blasInfo: string;
  /** The BLAS/LAPACK shared objects the python process actually mapped. */
  blasLibraries: string[];
}

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  node: string;
  /** null when torch cannot be imported; `torchMissing` then says why. */
  torch: TorchInfo | null;
  torchMissing?: string;
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) return line.split(":")[1].trim();
  } catch {
    // not Linux: fall through to what node reports
  }
  return cpus()[0]?.model ?? "unknown";
}

/** The system python first (Debian's python3-torch is installed for it), then BENCH_PYTHON, then PATH. */
export function findPython(): string {
  if (process.env.BENCH_PYTHON) return process.env.BENCH_PYTHON;
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/** Asks torch_peer.py --probe; returns the reason when torch cannot be imported. */
export function probeTorch(python: string, peerScript: string): TorchInfo | string {
  try {
    const out = execFileSync(python, [peerScript, "--probe"], {
      encoding: "utf8",
      timeout: 120_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const info = JSON.parse(out.trim().split("\n").pop()!) as Omit<TorchInfo, "python">;
    return { python, ...info };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const last = (err.stderr ?? err.message).trim().split("\n").pop() ?? "";
    return `${python} cannot import torch (${last.slice(0, 200)}); see bench/README.md to install it`;
  }
}

export function describeMachine(torch: TorchInfo | string): Machine {
  return {
    date: new Date().toISOString(),
    cpu: cpuModel(),
    cores: cpus().length,
    node: process.version,
    torch: typeof torch === "string" ? null : torch,
    ...(typeof torch === "string" ? { torchMissing: torch } : {}),
  };
}

export function formatMachine(m: Machine): string {
  const lines = [`date: ${m.date}`, `cpu: ${m.cpu}, ${m.cores} cores; node ${m.node}`];
  if (m.torch) {
    const blas = m.torch.blasLibraries.length ? m.torch.blasLibraries.join(", ") : "none mapped";
    lines.push(
      `torch ${m.torch.version} (${m.torch.python}), ${m.torch.threads} threads; ${m.torch.blasInfo}; BLAS loaded: ${blas}`,
    );
  } else {
    lines.push(`pytorch: absent: ${m.torchMissing}`);
  }
  return lines.join("\n");
}
