// The webgpu backend ("gpujs:webgpu"): tensors resident in GPU buffers, every kernel a WGSL compute
// shader generated here and appended to one command encoder (gpuQueue.ts); reads are the only
// waits. Held to backends/reference.ts by the conformance checks in the browser
// (test/core/webgpu.test.ts, headless Chromium on SwiftShader).
//
// Why not gpu.js's own webgpu kernels: a gpu.js kernel writes a whole output buffer of its own (our
// kernels write into views and arena offsets of storage the backend owns, so every op would add a
// copy), submits a command encoder per call (no batching of a step), builds asynchronously on its
// first call (so a later launch could reach the GPU before an earlier one), has no workgroup memory
// (no tiled GEMM or row reductions) and no kernel with several outputs. The kernels here follow the
// reference backend's semantics directly; the device is acquired with the adapter's limits
// (gpu.js's asks for the default eight storage buffers per stage, too few for fused kernels).

import {
  registerBackend,
  type Backend,
  type Distribution,
  type DType,
  type KeyWords,
  type Program,
  type ReduceOp,
  type Storage,
  type Target,
  type View,
} from "../../backend.ts";
import { contiguousStrides } from "../../shape.ts";
import { isContiguous } from "../../shape.ts";
import { launch } from "./bindings.ts";
import { elementwiseLaunch } from "./elementwiseShader.ts";
import { GpuQueue, GpuStorage, type KernelError } from "./gpuQueue.ts";
import { acquireGpuDevice, type GpuDevice } from "./webgpuDevice.ts";
import { WGSL_MATH } from "./wgslMath.ts";
import { describeKernelError } from "./kernelErrors.ts";
import { reduce } from "./reduceShader.ts";
import { matmul } from "./gemmShader.ts";
import { argmax, argsort, gather, scatterAdd } from "./indexShaders.ts";
import { random } from "./randomShader.ts";
import { layerNorm, layerNormBackward, softmax, softmaxBackward } from "./rowShaders.ts";

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const COPY: Program = {
  code: [
    { op: "input", index: 0 },
    { op: "identity", x: 0 },
  ],
  outputs: [1],
};

export class WebGpuBackend implements Backend {
  readonly name = "gpujs:webgpu";
  readonly dtypes = ["float32"] as const;
  readonly canReadSync = false;
  readonly queue: GpuQueue;
  /** Data bindings a kernel may use (the device's storage-buffer limit). */
  readonly maxBindings: number;

  readonly description: string;

  constructor(readonly gpu: GpuDevice) {
    this.description = `WebGPU: ${gpu.description}`;
    this.queue = new GpuQueue(gpu);
    this.maxBindings = gpu.limits.maxStorageBuffersPerShaderStage;
  }

  private checkDtype(dtype: DType, what: string): void {
    if (dtype !== "float32")
      throw new TypeError(`${this.name}: cannot ${what} a ${dtype} tensor; the GPU stores float32 only`);
  }

  alloc(n: number, dtype: DType): Storage {
    this.checkDtype(dtype, "allocate");
    return this.queue.alloc(this, n);
  }
  upload(values: ArrayLike<number>, dtype: DType): Storage {
    this.checkDtype(dtype, "upload");
    return this.queue.upload(this, values);
  }
  readSync(): Float32Array {
    throw new TypeError(`${this.name} reads asynchronously: use \`await tensor.data()\``);
  }
  async read(x: View): Promise<Float32Array> {
    const n = size(x.shape);
    if (n === 0) return new Float32Array(0);
    if (isContiguous(x)) {
      const s = x.storage as GpuStorage;
      if (!s.buffer) throw new TypeError(`${this.name}: read of freed storage`);
      return new Float32Array(await this.queue.read(s.buffer, x.offset * 4, n * 4, describeKernelError));
    }
    const tmp = this.queue.alloc(this, n);
    this.elementwise(COPY, [x], x.shape, [
      { storage: tmp, shape: x.shape, strides: contiguousStrides(x.shape), offset: 0 },
    ]);
    try {
      return new Float32Array(await this.queue.read(tmp.buffer!, 0, n * 4, describeKernelError));
    } finally {
      this.queue.free(tmp);
    }
  }
  free(s: Storage): void {
    if (s instanceof GpuStorage) this.queue.free(s);
  }
  flush(): Promise<void> {
    return this.queue.flush(describeKernelError);
  }

  elementwise(program: Program, inputs: readonly View[], shape: readonly number[], outputs: readonly View[]): void {
    if (size(shape) === 0) return;
    const l = elementwiseLaunch(this.queue, program, inputs, shape, outputs, this.maxBindings);
    if (l) {
      launch(this.queue, l, WGSL_MATH);
      return;
    }
    // More buffers than the device binds at once: copy inputs into one scratch buffer first.
    this.packedElementwise(program, inputs, shape, outputs);
  }

  /** Copies every input into consecutive blocks of one buffer, then runs the program on those copies. */
  private packedElementwise(
    program: Program,
    inputs: readonly View[],
    shape: readonly number[],
    outputs: readonly View[],
  ): void {
    const n = size(shape);
    const block = Math.ceil(n / 64) * 64;
    const packed = this.queue.alloc(this, block * inputs.length);
    const strides = contiguousStrides(shape);
    const copies = inputs.map((v, k) => {
      const copy: View = { storage: packed, shape, strides, offset: k * block };
      this.elementwise(COPY, [v], shape, [copy]);
      return copy;
    });
    const l = elementwiseLaunch(this.queue, program, copies, shape, outputs, this.maxBindings);
    if (!l) throw new RangeError(`${this.name}: an elementwise kernel writes more buffers than the device binds`);
    launch(this.queue, l, WGSL_MATH);
    this.queue.free(packed);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[], out: Target): void {
    reduce(this.queue, op, x, axes, out);
  }
  matmul(a: View, b: View, out: Target): void {
    matmul(this.queue, a, b, out);
  }
  gather(x: View, index: View, axis: number, out: Target): void {
    gather(this.queue, x, index, axis, out);
  }
  scatterAdd(base: View, index: View, src: View, axis: number, out: Target): void {
    scatterAdd(this.queue, base, index, src, axis, out);
  }
  argsort(x: View, axis: number, descending: boolean, out: Target): void {
    argsort(this.queue, x, axis, descending, out);
  }
  argmax(x: View, axis: number, out: Target): void {
    argmax(this.queue, x, axis, out);
  }
  softmax(x: View, out: Target): void {
    softmax(this.queue, x, out);
  }
  softmaxBackward(y: View, dy: View, out: Target): void {
    softmaxBackward(this.queue, y, dy, out);
  }
  layerNorm(x: View, weight: View, bias: View, eps: number, out: Target, mean: Target, rstd: Target): void {
    layerNorm(this.queue, x, weight, bias, eps, out, mean, rstd);
  }
  layerNormBackward(
    dy: View,
    x: View,
    weight: View,
    mean: View,
    rstd: View,
    dx: Target | null,
    dweight: Target | null,
    dbias: Target | null,
  ): void {
    layerNormBackward(this.queue, dy, x, weight, mean, rstd, dx, dweight, dbias);
  }
  random(dist: Distribution, key: KeyWords, n: number, out: Target): void {
    random(this.queue, dist, key, n, out);
  }
}

let instance: WebGpuBackend | undefined;

/** Acquires the device (once) and makes the backend; rejects saying why WebGPU is unavailable. */
export async function webgpuReady(): Promise<WebGpuBackend> {
  instance ??= new WebGpuBackend(await acquireGpuDevice());
  return instance;
}

registerBackend(
  "gpujs:webgpu",
  () => {
    if (!instance)
      throw new Error(
        'the gpujs:webgpu backend acquires its device asynchronously: `await T.loadBackend("gpujs:webgpu")` first',
      );
    return instance;
  },
  async () => void (await webgpuReady()),
);

export type { KernelError };
