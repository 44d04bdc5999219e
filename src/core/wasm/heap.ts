// A heap allocator over a range of the WebAssembly memory: aligned blocks; freed blocks first go to
// exact-size quick lists (a later request of the same size takes one back at once: the steady
// state of a training step, as in dlmalloc's fastbins), and are coalesced into the free blocks
// when the quick lists are flushed; free blocks sit in size bins (four per power of two, best fit
// within the bin: segregated fit, Wilson et al. 1995); the range grows on demand up to a limit.

/** Grows the backing memory so that the heap may end at `end` (bytes); false if it could not. */
export type GrowFn = (end: number) => boolean;

export interface HeapOptions {
  /** First byte of the heap (a multiple of `alignment`). */
  start: number;
  /** End of the memory it may use now (exclusive). */
  end: number;
  /** The most it may ever end at. */
  maxEnd: number;
  grow: GrowFn;
  /** Block alignment in bytes: a power of two, at least 16 (one v128). */
  alignment?: number;
}

/** Four bins per power of two: [2^k, 1.25·2^k), [1.25·2^k, 1.5·2^k), … for sizes below 2^32. */
const BINS = 33 * 4;
function binOf(bytes: number): number {
  const k = 31 - Math.clz32(bytes);
  const sub = k >= 2 ? (bytes >>> (k - 2)) & 3 : 0;
  return 4 * k + sub;
}
/** Quick lists are flushed (coalesced) past this share of the heap's span. */
const QUICK_SHARE = 0.25;

export class Heap {
  readonly start: number;
  readonly alignment: number;
  private end: number;
  private readonly maxEnd: number;
  private readonly grow: GrowFn;
  private readonly used = new Map<number, number>(); //      address -> size of a live block
  private readonly freeAt = new Map<number, number>(); //    address -> size of a free block
  private readonly freeEnding = new Map<number, number>(); // end -> address of a free block
  private readonly bins: Set<number>[] = Array.from({ length: BINS }, () => new Set<number>());
  private readonly quick = new Map<number, number[]>(); //  size -> freed blocks of exactly that size
  private quickBytes = 0;
  private live = 0;
  private peak = 0;

  constructor(o: HeapOptions) {
    this.alignment = o.alignment ?? 64;
    if (this.alignment < 16 || (this.alignment & (this.alignment - 1)) !== 0)
      throw new RangeError(`Heap: alignment ${this.alignment} must be a power of two >= 16`);
    if (o.start % this.alignment !== 0) throw new RangeError(`Heap: start ${o.start} is not aligned`);
    this.start = o.start;
    this.end = this.floor(o.end);
    this.maxEnd = this.floor(o.maxEnd);
    this.grow = o.grow;
    if (this.end > this.start) this.insertFree(this.start, this.end - this.start);
  }

  /** Bytes in live blocks (sizes rounded up to the alignment). */
  get liveBytes(): number {
    return this.live;
  }
  /** The most bytes ever live at once since creation or the last resetPeak(). */
  get peakBytes(): number {
    return this.peak;
  }
  /** Bytes the heap spans now (live, free and fragmented). */
  get capacityBytes(): number {
    return this.end - this.start;
  }
  /** The most bytes the heap may ever span. */
  get limitBytes(): number {
    return this.maxEnd - this.start;
  }
  get liveBlocks(): number {
    return this.used.size;
  }
  resetPeak(): void {
    this.peak = this.live;
  }

  /** The size (rounded up) of a block of `bytes`. */
  blockSize(bytes: number): number {
    return Math.max(this.alignment, Math.ceil(bytes / this.alignment) * this.alignment);
  }

  /** A block of at least `bytes`, aligned; its address, or -1 when the limit (or growing) stops it. */
  alloc(bytes: number): number {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new RangeError(`Heap.alloc: bad size ${bytes}`);
    const size = this.blockSize(bytes);
    const same = this.quick.get(size);
    if (same !== undefined && same.length > 0) {
      const at = same.pop()!;
      this.quickBytes -= size;
      this.used.set(at, size);
      this.live += size;
      if (this.live > this.peak) this.peak = this.live;
      return at;
    }
    let at = this.findFree(size);
    if (at < 0 && this.quickBytes > 0) {
      this.flush();
      at = this.findFree(size);
    }
    if (at < 0) {
      if (!this.extend(size)) return -1;
      at = this.findFree(size);
    }
    const have = this.freeAt.get(at)!;
    this.removeFree(at, have);
    if (have > size) this.insertFree(at + size, have - size);
    this.used.set(at, size);
    this.live += size;
    if (this.live > this.peak) this.peak = this.live;
    return at;
  }

  /** Gives a block back (to its quick list). Throws on an address that is not a live block. */
  free(at: number): void {
    const size = this.used.get(at);
    if (size === undefined) throw new Error(`Heap.free: ${at} is not a live block (freed twice?)`);
    this.used.delete(at);
    this.live -= size;
    let same = this.quick.get(size);
    if (same === undefined) this.quick.set(size, (same = []));
    same.push(at);
    this.quickBytes += size;
    if (this.quickBytes > QUICK_SHARE * (this.end - this.start)) this.flush();
  }

  /** Coalesces every quick-listed block with its free neighbours. */
  flush(): void {
    for (const [size, blocks] of this.quick) for (const at of blocks) this.release(at, size);
    this.quick.clear();
    this.quickBytes = 0;
  }

  /** Puts a block among the free blocks, merged with free neighbours. */
  private release(at: number, size: number): void {
    let start = at;
    let bytes = size;
    const before = this.freeEnding.get(start);
    if (before !== undefined) {
      const b = this.freeAt.get(before)!;
      this.removeFree(before, b);
      start = before;
      bytes += b;
    }
    const after = this.freeAt.get(at + size);
    if (after !== undefined) {
      this.removeFree(at + size, after);
      bytes += after;
    }
    this.insertFree(start, bytes);
  }

  /** Live blocks as [address, size] pairs, in address order (for tests and diagnostics). */
  blocks(): [number, number][] {
    return [...this.used].sort((a, b) => a[0] - b[0]);
  }
  /** Free blocks as [address, size] pairs, in address order (quick-listed ones included, unmerged). */
  freeBlocks(): [number, number][] {
    const quick = [...this.quick].flatMap(([size, blocks]) => blocks.map((at): [number, number] => [at, size]));
    return [...this.freeAt, ...quick].sort((a, b) => a[0] - b[0]);
  }

  private floor(bytes: number): number {
    return Math.floor(bytes / this.alignment) * this.alignment;
  }

  /** Best fit in the bin of `size`, else any block of a larger bin (all of whose blocks fit). */
  private findFree(size: number): number {
    const first = binOf(size);
    let best = -1;
    let bestSize = Infinity;
    for (const at of this.bins[first]) {
      const s = this.freeAt.get(at)!;
      if (s >= size && s < bestSize) {
        best = at;
        bestSize = s;
        if (s === size) break;
      }
    }
    if (best >= 0) return best;
    for (let b = first + 1; b < BINS; b++) for (const at of this.bins[b]) return at;
    return -1;
  }

  /** Grows the heap so that its top free block can hold `size`: by at least an eighth of its span. */
  private extend(size: number): boolean {
    const topStart = this.freeEnding.get(this.end);
    const topFree = topStart === undefined ? 0 : this.end - topStart;
    const need = size - topFree;
    if (this.end + need > this.maxEnd) return false;
    const want = Math.min(this.maxEnd, this.end + Math.max(need, this.floor((this.end - this.start) / 8)));
    const target = this.grow(want) ? want : this.grow(this.end + need) ? this.end + need : -1;
    if (target < 0) return false;
    const oldEnd = this.end;
    this.end = target;
    if (topStart !== undefined) {
      this.removeFree(topStart, topFree);
      this.insertFree(topStart, target - topStart);
    } else this.insertFree(oldEnd, target - oldEnd);
    return true;
  }

  private insertFree(at: number, size: number): void {
    this.freeAt.set(at, size);
    this.freeEnding.set(at + size, at);
    this.bins[binOf(size)].add(at);
  }

  private removeFree(at: number, size: number): void {
    this.freeAt.delete(at);
    this.freeEnding.delete(at + size);
    this.bins[binOf(size)].delete(at);
  }
}
