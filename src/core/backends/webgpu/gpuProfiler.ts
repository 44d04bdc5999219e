// Where a GPU's time goes, by kind of kernel: while profiling, every dispatch runs in a compute pass
// of its own whose start and end the GPU stamps (WebGPU timestamp queries); each submit resolves its
// stamps into a buffer that is read back later, and the durations add up per label. Browsers may
// round stamps (Chromium: to 100 µs unless its WebGPU developer features are on), so figures for
// short kernels are only meaningful summed over many; Dawn in Node stamps at full resolution.

const QUERY_RESOLVE = 0x0200;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const MAP_READ = 0x0001;

/** Dispatches one submit can time (two stamps each). */
export const PROFILE_SLOTS = 2048; // a query set holds at most 4096 stamps

export interface ProfileRow {
  readonly label: string;
  readonly count: number;
  readonly ms: number;
}

export class GpuProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private labels: string[] = [];
  private readonly totals = new Map<string, { count: number; ns: number }>();
  private pending: Promise<void>[] = [];

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: "timestamp", count: 2 * PROFILE_SLOTS });
    this.resolve = device.createBuffer({ size: 16 * PROFILE_SLOTS, usage: QUERY_RESOLVE | COPY_SRC });
  }

  /** Whether this submit can time another dispatch. */
  get full(): boolean {
    return this.labels.length >= PROFILE_SLOTS;
  }

  /** A pass for one dispatch, its start and end stamped. */
  pass(encoder: GPUCommandEncoder, label: string): GPUComputePassEncoder {
    const i = this.labels.length;
    this.labels.push(label);
    return encoder.beginComputePass({
      timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
  }

  /** Appends the resolve and the copy out of this submit's stamps; call `submitted` after the submit. */
  beforeSubmit(encoder: GPUCommandEncoder): (() => void) | undefined {
    const n = this.labels.length;
    if (n === 0) return undefined;
    const labels = this.labels;
    this.labels = [];
    const staging = this.device.createBuffer({ size: 16 * n, usage: MAP_READ | COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, staging, 0, 16 * n);
    return () =>
      this.pending.push(
        staging.mapAsync(1).then(() => {
          const stamps = new BigUint64Array(staging.getMappedRange());
          labels.forEach((label, i) => {
            const t = this.totals.get(label) ?? { count: 0, ns: 0 };
            t.count++;
            t.ns += Number(stamps[2 * i + 1] - stamps[2 * i]);
            this.totals.set(label, t);
          });
          staging.destroy();
        }),
      );
  }

  /** The totals so far, largest first (waits for the stamps of every submit). */
  async rows(): Promise<ProfileRow[]> {
    await Promise.all(this.pending);
    this.pending = [];
    return [...this.totals]
      .map(([label, t]) => ({ label, count: t.count, ms: t.ns / 1e6 }))
      .sort((a, b) => b.ms - a.ms);
  }
}
