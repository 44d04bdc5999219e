// The WebGPU device the webgpu backend computes on: acquired once, asynchronously, with the
// adapter's own limits (the defaults cap storage bindings at 128 MiB and eight per shader stage,
// too few for fused kernels and MAE-Base activations).

/** What the backend needs to know about its device. */
export interface GpuDevice {
  readonly device: GPUDevice;
  /** Adapter description, for "backend in use" lines (vendor, architecture). */
  readonly description: string;
  /** A software rasterizer (SwiftShader: CI's WebGPU): correct, slow, and slow to compile. */
  readonly software: boolean;
  /** Whether the device stamps time (timestamp queries, for profiles). */
  readonly timestamps: boolean;
  readonly limits: {
    readonly maxStorageBuffersPerShaderStage: number;
    readonly maxStorageBufferBindingSize: number;
    readonly maxBufferSize: number;
    readonly maxComputeWorkgroupsPerDimension: number;
    readonly maxComputeWorkgroupStorageSize: number;
  };
}

let acquiring: Promise<GpuDevice> | undefined;

/** Why WebGPU cannot run here, as a sentence (no navigator.gpu), or null when it may. */
export function webgpuMissing(): string | null {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav?.gpu) return null;
  return typeof window === "undefined"
    ? "Node has no navigator.gpu; start it with `node --import ./bin/webgpu.mjs` (Dawn, which needs glibc >= 2.38)"
    : "this browser has no navigator.gpu (Chromium: WebGPU needs a GPU, or --enable-unsafe-webgpu for SwiftShader)";
}

/** The device (the same one on every call); rejects with a sentence saying why there is none. */
export function acquireGpuDevice(): Promise<GpuDevice> {
  acquiring ??= open().catch((e) => {
    acquiring = undefined; // a later call may try again
    throw e;
  });
  return acquiring;
}

async function open(): Promise<GpuDevice> {
  const missing = webgpuMissing();
  if (missing) throw new Error(`WebGPU is unavailable: ${missing}`);
  const gpu = (navigator as Navigator & { gpu: GPU }).gpu;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("WebGPU is unavailable: navigator.gpu gave no adapter");
  const a = adapter.limits;
  const timestamps = adapter.features.has("timestamp-query");
  const device = await adapter.requestDevice({
    requiredFeatures: timestamps ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxBufferSize: a.maxBufferSize,
      maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: Math.min(256, a.maxComputeInvocationsPerWorkgroup),
    },
  });
  void device.lost.then((info) => {
    if (info.reason !== "destroyed") console.error(`webgpu backend: the device was lost: ${info.message}`);
  });
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const description = info
    ? [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(" ")
    : "unknown adapter";
  const l = device.limits;
  return {
    device,
    description,
    software: /swiftshader/i.test(description),
    timestamps,
    limits: {
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
  };
}
