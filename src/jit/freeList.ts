// The arena's allocator at plan time: blocks at offsets, first fit, neighbours coalesced on release.

/** First-fit allocation of blocks in one arena; `high` is the arena size needed so far. */
export class FreeList {
  high = 0;
  private free: { offset: number; size: number }[] = [];

  allocate(size: number): number {
    const i = this.free.findIndex((b) => b.size >= size);
    if (i < 0) {
      // Grow: use a free block at the end if there is one.
      const last = this.free[this.free.length - 1];
      if (last && last.offset + last.size === this.high) {
        this.free.pop();
        this.high = last.offset + size;
        return last.offset;
      }
      const offset = this.high;
      this.high += size;
      return offset;
    }
    const b = this.free[i];
    if (b.size === size) this.free.splice(i, 1);
    else this.free[i] = { offset: b.offset + size, size: b.size - size };
    return b.offset;
  }

  release(offset: number, size: number): void {
    this.free.push({ offset, size });
    this.free.sort((a, b) => a.offset - b.offset);
    // Coalesce neighbours.
    const merged: { offset: number; size: number }[] = [];
    for (const b of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.offset + last.size === b.offset) last.size += b.size;
      else merged.push({ ...b });
    }
    this.free = merged;
  }
}
