// The heap allocator (src/core/wasm/heap.ts) on its own — no overlap among live blocks, alignment,
// reuse, coalescing, growth up to the limit — and the cpu backend's storage on it: free() and
// finalization give memory back, the soft limit sends new tensors to host memory (said once on
// the console), and kernels stay correct on a mix of heap and host storage.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import type { Program, Storage, View } from "../../src/core/backend.ts";
import { cpuBackend as cpu } from "../../src/core/backends/cpu/cpuBackend.ts";
import { cpuHeapStats, setCpuHeapSoftLimit, WasmStorage } from "../../src/core/backends/cpu/storage.ts";
import { HostStorage, referenceBackend as ref } from "../../src/core/backends/reference.ts";
import { Heap } from "../../src/core/wasm/heap.ts";
import { assertClose, values } from "./cpuHelpers.ts";

/** A heap over [1024, end) that may grow to `max` (a stand-in for the wasm memory). */
function heap(end: number, max: number, alignment = 64) {
  const grown: number[] = [];
  const h = new Heap({
    start: 1024,
    end,
    maxEnd: max,
    alignment,
    grow: (to) => {
      grown.push(to);
      return true;
    },
  });
  return { h, grown };
}

/**
 * Checks the heap's invariants: live and free blocks tile [start, capacity) without overlap,
 * aligned; once the quick lists are flushed, no two free blocks are neighbours.
 */
function checkInvariants(h: Heap, flushed = false): void {
  const all = [...h.blocks().map(([a, s]) => [a, s, 1]), ...h.freeBlocks().map(([a, s]) => [a, s, 0])].sort(
    (x, y) => x[0] - y[0],
  );
  let at = h.start;
  let live = 0;
  let prevFree = false;
  for (const [a, s, used] of all) {
    assert.equal(a, at, `blocks tile the heap: expected a block at ${at}, found ${a}`);
    assert.equal(a % h.alignment, 0, `block ${a} is aligned`);
    assert.ok(s > 0 && s % h.alignment === 0, `block size ${s}`);
    if (!used && flushed) assert.ok(!prevFree, `free neighbours at ${a} were coalesced`);
    prevFree = !used;
    if (used) live += s;
    at = a + s;
  }
  assert.equal(at, h.start + h.capacityBytes, "blocks end at the capacity");
  assert.equal(h.liveBytes, live, "liveBytes is the sum of live blocks");
}

describe("heap allocator", () => {
  it("random alloc/free sequences keep blocks disjoint, aligned and coalesced, within the limit", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(-1)), { maxLength: 200 }),
        fc.integer(),
        (ops, seed) => {
          const { h } = heap(1024 + 4096, 1024 + 200_000);
          const live: number[] = [];
          let rand = seed >>> 0;
          for (const op of ops) {
            if (op < 0) {
              if (live.length === 0) continue;
              rand = (rand * 1103515245 + 12345) >>> 0;
              const [at] = live.splice(rand % live.length, 1);
              h.free(at);
            } else {
              const at = h.alloc(op);
              if (at < 0) assert.ok(h.liveBytes + h.blockSize(op) > h.limitBytes - 4096, "fails only near the limit");
              else live.push(at);
            }
            checkInvariants(h);
          }
          h.flush();
          checkInvariants(h, true);
          for (const at of live) h.free(at);
          h.flush();
          checkInvariants(h, true);
          assert.equal(h.freeBlocks().length, 1, "everything freed coalesces into one block");
          assert.ok(h.peakBytes >= h.liveBytes);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("reuses a freed block of the same size, and grows only when nothing free fits", () => {
    const { h, grown } = heap(1024 + 1024, (1024 + 1) << 20);
    const a = h.alloc(256);
    const b = h.alloc(256);
    h.free(a);
    assert.equal(h.alloc(200), a, "a block of the same size class comes back");
    assert.equal(grown.length, 0);
    h.alloc(4000); // more than is free
    assert.ok(grown.length > 0, "grew");
    assert.ok(b > a);
  });

  it("refuses (returns -1) past its limit, and when the memory cannot grow", () => {
    const { h } = heap(2048, 4096);
    assert.ok(h.alloc(2000) > 0);
    assert.equal(h.alloc(2000), -1);
    const stuck = new Heap({ start: 64, end: 1024, maxEnd: 1 << 20, grow: () => false });
    assert.ok(stuck.alloc(512) > 0);
    assert.equal(stuck.alloc(4096), -1);
    assert.throws(() => stuck.free(12345), /not a live block/);
  });
});

describe("cpu storage in the heap", () => {
  it("free() gives the block back at once; an unreachable handle is reclaimed by the garbage collector", async () => {
    const before = cpuHeapStats().liveBytes;
    const s = cpu.alloc(100_000, "float32");
    assert.ok(s instanceof WasmStorage);
    assert.equal(cpuHeapStats().liveBytes, before + 400_000);
    cpu.free(s);
    assert.equal(cpuHeapStats().liveBytes, before);

    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    (() => {
      for (let i = 0; i < 10; i++) cpu.alloc(100_000, "float32"); // dropped at once
    })();
    assert.ok(cpuHeapStats().liveBytes >= before + 4_000_000);
    for (let i = 0; i < 10 && cpuHeapStats().liveBytes > before; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10)); // finalizers run when the event loop turns
    }
    assert.equal(cpuHeapStats().liveBytes, before, "all ten blocks came back");
  });

  it("past the soft limit, new tensors go to host memory (said once), and kernels mix both kinds correctly", () => {
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => warnings.push(m);
    try {
      const a = cpu.upload(values(1000, 1), "float32");
      assert.ok(a instanceof WasmStorage);
      setCpuHeapSoftLimit(cpuHeapStats().liveBytes + 1000);
      const b = cpu.upload(values(1000, 2), "float32");
      const c = cpu.upload(values(1000, 3), "float32");
      assert.ok(b instanceof HostStorage && c instanceof HostStorage, "host storage past the limit");
      assert.equal(warnings.length, 1, `one notice: ${warnings.join(" | ")}`);
      assert.match(warnings[0], /host memory .* soft limit .* await between steps .* jit/);
      assert.ok(cpuHeapStats().hostFallbacks >= 2);
      // A kernel over heap + host inputs into a host output equals the reference.
      const v = (s: Storage): View => ({ storage: s, shape: [10, 100], strides: [100, 1], offset: 0 });
      const program: Program = {
        code: [
          { op: "input", index: 0 },
          { op: "input", index: 1 },
          { op: "mul", x: 0, y: 1 },
          { op: "exp", x: 2 },
        ],
        outputs: [3],
      };
      const out = cpu.alloc(1000, "float32");
      cpu.elementwise(program, [v(a), v(b)], [10, 100], [v(out)]);
      const r = [a, b].map((s) => ref.upload(cpu.readSync(v(s)), "float32"));
      const rOut = ref.alloc(1000, "float32");
      ref.elementwise(program, r.map(v), [10, 100], [v(rOut)]);
      assertClose(cpu.readSync(v(out)), ref.readSync(v(rOut)), "mixed storage", (_, w) => 1e-6 * Math.abs(w));
      const sum = cpu.alloc(10, "float32");
      cpu.reduce("sum", v(b), [1], { storage: sum, offset: 0 });
      cpu.matmul(
        v(a),
        { storage: c, shape: [100, 10], strides: [10, 1], offset: 0 },
        { storage: cpu.alloc(100, "float32"), offset: 0 },
      );
    } finally {
      setCpuHeapSoftLimit();
      console.warn = warn;
    }
    assert.ok(cpu.alloc(10, "float32") instanceof WasmStorage, "back in the heap below the limit");
  });
});
