// Where the webgpu backend's work goes: storage buffers (pooled, reclaimed by finalizers), compiled
// pipelines (cached by source), and one command encoder that every kernel launch appends a dispatch
// to. Nothing is submitted until a read or a flush (or a full parameter page): a compiled training
// step is one submission with no host round trip inside. Kernels that find bad input (an index out
// of range) cannot throw on the GPU: they record it in an error word, and the next read throws it.

import type { Backend, Storage } from "../../backend.ts";
import { GpuProfiler, type ProfileRow } from "./gpuProfiler.ts";
import type { GpuDevice } from "./webgpuDevice.ts";

// GPUBufferUsage / GPUMapMode values (fixed by the spec; the globals exist only where WebGPU does).
const MAP_READ = 0x0001;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const UNIFORM = 0x0040;
const STORAGE = 0x0080;

/** Storage on the GPU: `size` float32 elements in a buffer of the pool (null when size is 0). */
export class GpuStorage implements Storage {
  readonly dtype = "float32" as const;
  constructor(
    readonly backend: Backend,
    readonly size: number,
    /** null once freed (or for size 0). */
    public buffer: GPUBuffer | null,
  ) {}
}

/** A compiled kernel: its pipeline and how many words of parameters it reads. */
export interface Kernel {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly source: string;
  /** Set (asynchronously) when the source failed to compile: launching it again throws this. */
  error: string | null;
}

/** One storage binding of a dispatch: a byte range of a buffer. */
export interface BufferRange {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number;
}

/** What a kernel reported through the error word: its code and three numbers it chose to keep. */
export interface KernelError {
  readonly code: number;
  readonly words: readonly [number, number, number];
}

/** Parameter pages: each dispatch's parameters sit in a 256-byte aligned slot of one uniform buffer. */
const PARAM_PAGE_BYTES = 4 << 20;
const PARAM_ALIGN = 256;
/** Buffers are pooled by size class: 4 classes per power of two, so at most 25% is slack. */
const MIN_BUFFER_BYTES = 256;

function sizeClass(bytes: number): number {
  if (bytes <= MIN_BUFFER_BYTES) return MIN_BUFFER_BYTES;
  const top = 2 ** Math.floor(Math.log2(bytes - 1));
  const step = top / 4;
  return Math.ceil(bytes / step) * step;
}

export class GpuQueue {
  readonly device: GPUDevice;
  /** Buffers free for reuse, by byte size. */
  private readonly pool = new Map<number, GPUBuffer[]>();
  private pooledBytes = 0;
  /** Buffers given back since the last submit: recorded commands may still use them. */
  private retiring: GPUBuffer[] = [];
  private readonly reclaim = new FinalizationRegistry<GPUBuffer>((b) => this.retiring.push(b));
  private readonly kernels = new Map<string, Kernel>();

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly params: GPUBuffer;
  private readonly paramWords = new Uint32Array(PARAM_PAGE_BYTES / 4);
  private paramBytes = 0;
  /** Kernels write [code, a, b, c] here when they find bad input. */
  readonly errors: GPUBuffer;
  private readonly empty: GPUBuffer;
  /** What the error scopes of submitted batches found (awaited by the next read). */
  private scopes: Promise<string | null>[] = [];
  /** Dispatches recorded since the last submit, and submits so far (for tests and profiles). */
  dispatches = 0;
  submits = 0;

  constructor(readonly gpu: GpuDevice) {
    this.device = gpu.device;
    this.params = this.device.createBuffer({ size: PARAM_PAGE_BYTES, usage: UNIFORM | COPY_DST });
    this.errors = this.device.createBuffer({ size: 16, usage: STORAGE | COPY_SRC | COPY_DST });
    this.empty = this.device.createBuffer({ size: MIN_BUFFER_BYTES, usage: STORAGE | COPY_SRC | COPY_DST });
  }

  // ---- Storage ----

  /** New storage of n float32 elements (contents unspecified). */
  alloc(backend: Backend, n: number): GpuStorage {
    if (n === 0) return new GpuStorage(backend, 0, null);
    const bytes = sizeClass(4 * n);
    if (bytes > this.gpu.limits.maxBufferSize) {
      throw new RangeError(
        `webgpu backend: a tensor of ${n} float32 elements needs ${bytes} bytes; this device's largest buffer is ${this.gpu.limits.maxBufferSize} bytes`,
      );
    }
    const free = this.pool.get(bytes);
    let buffer = free?.pop();
    if (buffer) this.pooledBytes -= bytes;
    else buffer = this.device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
    const s = new GpuStorage(backend, n, buffer);
    this.reclaim.register(s, buffer, s);
    return s;
  }

  /** New storage holding `values` (written in queue order: before the commands that will read it). */
  upload(backend: Backend, values: ArrayLike<number>): GpuStorage {
    const s = this.alloc(backend, values.length);
    if (s.buffer) {
      const data = values instanceof Float32Array ? values : Float32Array.from(values);
      this.device.queue.writeBuffer(s.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    }
    return s;
  }

  /** Gives the buffer back (reused after the next submit, when no recorded command can still need it). */
  free(s: GpuStorage): void {
    if (!s.buffer) return;
    this.reclaim.unregister(s);
    this.retiring.push(s.buffer);
    s.buffer = null;
  }

  /** A buffer for this dispatch only (scratch space), given back after the next submit. */
  scratch(bytes: number): GPUBuffer {
    const s = this.alloc(this.backendless, Math.max(1, Math.ceil(bytes / 4)));
    const b = s.buffer!;
    this.reclaim.unregister(s);
    this.retiring.push(b);
    return b;
  }
  private readonly backendless = {} as Backend;

  /** A range to bind where a kernel reads nothing (an empty operand still needs a binding). */
  emptyRange(): BufferRange {
    return { buffer: this.empty, offset: 0, size: MIN_BUFFER_BYTES };
  }

  // ---- Kernels ----

  /**
   * The compiled pipeline for the WGSL source `sourceOf()` (called only on a miss of `key`, which
   * must determine it) whose binding 0 is a uniform and 1, 2, … storage buffers (`writable` says
   * which are read_write). A compile error is thrown by the next launch of the kernel and by reads.
   */
  kernel(key: string, writable: readonly boolean[], sourceOf: () => string): Kernel {
    let k = this.kernels.get(key);
    if (!k) {
      const source = sourceOf();
      this.commands(); // open the batch's error scopes first: they catch compile errors too
      const module = this.device.createShaderModule({ code: source });
      const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: 4, buffer: { type: "uniform" } }];
      writable.forEach((w, i) =>
        entries.push({ binding: i + 1, visibility: 4, buffer: { type: w ? "storage" : "read-only-storage" } }),
      );
      const groupLayout = this.device.createBindGroupLayout({ entries });
      const layout = this.device.createPipelineLayout({ bindGroupLayouts: [groupLayout] });
      const pipeline = this.device.createComputePipeline({ layout, compute: { module, entryPoint: "main" } });
      const kernel: Kernel = { pipeline, layout: groupLayout, source, error: null };
      k = kernel;
      this.kernels.set(key, kernel);
      this.scopes.push(
        module.getCompilationInfo().then((info) => {
          const errors = info.messages.filter((m) => m.type === "error");
          if (errors.length === 0) return null;
          const lines = source.split("\n");
          kernel.error = `a kernel failed to compile:\n${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message} in: ${lines[m.lineNum - 1]?.trim()}`).join("\n")}`;
          return kernel.error;
        }),
      );
    }
    return k;
  }

  /**
   * Appends one dispatch: `params` (32-bit words) go to binding 0 as a uniform, `ranges` to
   * bindings 1, 2, …; `groups` workgroups in x, y, z.
   */
  dispatch(
    kernel: Kernel,
    params: Uint32Array,
    ranges: readonly BufferRange[],
    groups: readonly number[],
    label: string,
  ): void {
    if (kernel.error) throw new Error(`webgpu backend: ${kernel.error}`);
    const bytes = Math.max(16, Math.ceil((params.length * 4) / 16) * 16);
    if (this.paramBytes + bytes > PARAM_PAGE_BYTES || this.profiler?.full) this.submit();
    const at = this.paramBytes;
    this.paramWords.set(params, at / 4);
    this.paramBytes = Math.ceil((at + bytes) / PARAM_ALIGN) * PARAM_ALIGN;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.params, offset: at, size: bytes } }];
    ranges.forEach((r, i) => entries.push({ binding: i + 1, resource: r }));
    const bindGroup = this.device.createBindGroup({ layout: kernel.layout, entries });
    if (this.profiler) this.endPass();
    const pass = this.profiler ? this.profiler.pass(this.commands(), label) : this.computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    if (this.profiler) pass.end();
    this.dispatches++;
  }

  // ---- Profiles ----

  private profiler: GpuProfiler | null = null;

  /** Starts timing every dispatch by label (needs the device's timestamp queries). */
  startProfile(): void {
    if (!this.gpu.timestamps)
      throw new Error("webgpu backend: this device has no timestamp queries (feature timestamp-query): no profile");
    this.submit();
    this.profiler = new GpuProfiler(this.device);
  }

  /** Stops timing; the GPU time per kind of kernel since startProfile, largest first. */
  async stopProfile(): Promise<ProfileRow[]> {
    const p = this.profiler;
    if (!p) throw new Error("webgpu backend: no profile was started");
    this.submit();
    this.profiler = null;
    return p.rows();
  }

  /** Appends a copy between buffers (ends the open compute pass). */
  copy(from: GPUBuffer, fromOffset: number, to: GPUBuffer, toOffset: number, bytes: number): void {
    this.endPass();
    this.commands().copyBufferToBuffer(from, fromOffset, to, toOffset, bytes);
  }

  private commands(): GPUCommandEncoder {
    if (!this.encoder) {
      // Errors of everything recorded until the submit (pipelines, bind groups, the commands)
      // land in these scopes; the next read throws the first one.
      this.device.pushErrorScope("out-of-memory");
      this.device.pushErrorScope("validation");
      this.encoder = this.device.createCommandEncoder();
    }
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commands().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Sends everything recorded so far to the GPU (no waiting). */
  submit(): void {
    this.endPass();
    if (this.encoder) {
      if (this.paramBytes > 0)
        this.device.queue.writeBuffer(this.params, 0, this.paramWords.buffer, 0, this.paramBytes);
      const stamped = this.profiler?.beforeSubmit(this.encoder);
      this.device.queue.submit([this.encoder.finish()]);
      stamped?.();
      this.submits++;
      for (let i = 0; i < 2; i++) this.scopes.push(this.device.popErrorScope().then((e) => (e ? e.message : null)));
    }
    this.encoder = null;
    this.paramBytes = 0;
    // Commands recorded before this point have been submitted: later uses of these buffers come after them.
    for (const b of this.retiring) this.giveBack(b);
    this.retiring = [];
  }

  private giveBack(b: GPUBuffer): void {
    // Keep at most as many pooled bytes as the device lets one buffer have (a step's worth, roughly).
    if (this.pooledBytes + b.size > Math.min(this.gpu.limits.maxBufferSize, 2 ** 32)) {
      b.destroy();
      return;
    }
    let list = this.pool.get(b.size);
    if (!list) this.pool.set(b.size, (list = []));
    list.push(b);
    this.pooledBytes += b.size;
  }

  // ---- Reading back ----

  /**
   * Copies `bytes` from each (buffer, offset) into host memory: submits everything recorded, waits
   * for it, and throws what a kernel recorded in the error word (which is then cleared).
   */
  async read(
    from: GPUBuffer,
    offset: number,
    bytes: number,
    describeError: (e: KernelError) => Error,
  ): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ size: bytes + 16, usage: MAP_READ | COPY_DST });
    if (bytes > 0) this.copy(from, offset, staging, 0, bytes);
    this.copy(this.errors, 0, staging, bytes, 16);
    this.submit();
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */);
      const data = staging.getMappedRange().slice(0);
      staging.unmap();
      const scopes = this.scopes;
      this.scopes = [];
      const found = (await Promise.all(scopes)).find((m) => m !== null);
      if (found) throw new Error(`webgpu backend: the device refused work: ${found}`);
      this.throwIfError(new Uint32Array(data, bytes, 4), describeError);
      return data.slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }

  /** Waits until every command recorded so far has run; throws a recorded kernel error. */
  async flush(describeError: (e: KernelError) => Error): Promise<void> {
    await this.read(this.empty, 0, 0, describeError);
  }

  private throwIfError(word: Uint32Array, describeError: (e: KernelError) => Error): void {
    if (word[0] === 0) return;
    const error = describeError({ code: word[0], words: [word[1], word[2], word[3]] });
    this.device.queue.writeBuffer(this.errors, 0, new Uint32Array(4));
    throw error;
  }
}
