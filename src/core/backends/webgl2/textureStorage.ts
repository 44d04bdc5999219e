// Storage of the WebGL2 backend: GPU textures that gpu.js kernels wrote, as segments. A gpu.js
// kernel writes a whole texture of its own, so storage is a sorted list of non-overlapping segments
// — elements [offset, offset + size) held by a texture from index `at` — and a kernel writing a
// range adds a segment, trimming the ones it covers (a compiled plan's arena gets one per block).
// Textures are counted by the segments that hold them and deleted when the last goes (or when the
// storage is collected). A view that spans several segments (or none) is first made one segment
// by reading them back (WebGL2 reads synchronously) and uploading the range.

import type { Backend, Storage } from "../../backend.ts";

/** What the storage needs of a gpu.js texture. */
export interface GlTexture {
  delete(): void;
}

export interface Segment {
  readonly offset: number;
  readonly size: number;
  readonly texture: GlTexture;
  /** The texture's flat index of element `offset`. */
  readonly at: number;
}

/** Textures by the number of segments holding them. */
const holders = new Map<GlTexture, number>();

function hold(t: GlTexture): void {
  holders.set(t, (holders.get(t) ?? 0) + 1);
}

function release(t: GlTexture): void {
  const n = (holders.get(t) ?? 1) - 1;
  if (n > 0) holders.set(t, n);
  else {
    holders.delete(t);
    t.delete();
  }
}

/** Releases a collected storage's textures (the segments list outlives the storage object). */
const reclaim = new FinalizationRegistry<Segment[]>((segments) => {
  for (const s of segments) release(s.texture);
  segments.length = 0;
});

export class TextureStorage implements Storage {
  readonly dtype = "float32" as const;
  readonly segments: Segment[] = [];
  constructor(
    readonly backend: Backend,
    readonly size: number,
  ) {
    reclaim.register(this, this.segments, this);
  }

  /** Elements [offset, offset + n) now live in `texture` from index `at` (the storage takes its own hold). */
  write(offset: number, n: number, texture: GlTexture, at = 0): void {
    if (n === 0) return;
    const end = offset + n;
    const kept: Segment[] = [];
    for (const s of this.segments) {
      const sEnd = s.offset + s.size;
      if (sEnd <= offset || s.offset >= end) {
        kept.push(s);
        continue;
      }
      // The parts of s outside [offset, end) survive as trimmed segments of the same texture.
      if (s.offset < offset) {
        hold(s.texture);
        kept.push({ offset: s.offset, size: offset - s.offset, texture: s.texture, at: s.at });
      }
      if (sEnd > end) {
        hold(s.texture);
        kept.push({ offset: end, size: sEnd - end, texture: s.texture, at: s.at + (end - s.offset) });
      }
      release(s.texture);
    }
    hold(texture);
    kept.push({ offset, size: n, texture, at });
    kept.sort((a, b) => a.offset - b.offset);
    this.segments.splice(0, this.segments.length, ...kept);
  }

  /** The one segment holding all of [lo, hi), if there is one. */
  covering(lo: number, hi: number): Segment | undefined {
    return this.segments.find((s) => s.offset <= lo && hi <= s.offset + s.size);
  }

  /** Gives every texture back (free). */
  clear(): void {
    for (const s of this.segments) release(s.texture);
    this.segments.length = 0;
    reclaim.unregister(this);
  }
}
