// Emits the WebAssembly SIMD GEMM kernel (packing + register-blocked micro-kernel), following the
// GotoBLAS / BLIS scheme (Goto & van de Geijn 2008; Van Zee & van de Geijn 2015).
import { FunctionBuilder, I32, type Local, ModuleBuilder, V128 } from "./assembler.ts";

/**
 * Shape of the generated kernel. The micro-kernel keeps an mr x nr tile of C in mr * nr/4 f32x4
 * accumulators. V8 (TurboFan, x64) gives wasm 15 xmm registers and schedules all loads of a loop
 * body before its arithmetic, so every A splat and B vector of an iteration is live at once:
 * mr*nr/4 + mr + nr/4 (+1 product temporary without fused multiply-add) must stay within 15, and
 * unrolling the k loop multiplies the live loads (it spills at once).
 */
export interface KernelShape {
  mr: number; // rows of the register tile (A panel width)
  nr: number; // columns of the register tile (B panel width), a multiple of 4
  kc: number; // K block: an A micro-panel (mr x kc) and a B micro-panel (kc x nr) stay in L1
  unroll: number; // k steps per loop iteration
}

/**
 * 4 x 8: 8 accumulators + 4 splats + 2 B vectors = 14 registers; 8 independent FMA chains cover
 * the FMA latency (4 cycles, 2 pipes on Zen 4). Measured here (kernel alone, one core): ~50
 * GFLOP/s with relaxed_madd, ~41 with mul+add; 6 x 8 and unroll 2 spill and drop to ~23.
 */
export const DEFAULT_SHAPE: KernelShape = { mr: 4, nr: 8, kc: 256, unroll: 1 };

export interface KernelOptions extends KernelShape {
  relaxedSimd: boolean; // f32x4.relaxed_madd instead of f32x4.mul + f32x4.add
}

/**
 * Adds the GEMM's exports to a module: packA, packB, and gemmBlocks (with relaxed_madd when
 * `relaxedSimd`) plus gemmBlocksPlain (mul + add) so that one module serves both flavours. Every
 * export takes i32 arguments only (byte addresses, byte strides, counts), so one task table row
 * can describe a call to any of them; `gemmBlocks` also takes the thread's scratch address last.
 */
export function addGemmKernels(module: ModuleBuilder, opts: KernelOptions): void {
  if (opts.nr % 4 !== 0) throw new RangeError(`addGemmKernels: nr=${opts.nr} must be a multiple of 4`);
  module.addFunction("packA", emitPack(opts.mr));
  module.addFunction("packB", emitPack(opts.nr));
  module.addFunction("gemmBlocks", emitGemmBlocks(opts));
  module.addFunction("gemmBlocksPlain", emitGemmBlocks({ ...opts, relaxedSimd: false }));
}

/** A module using relaxed SIMD, to test (WebAssembly.validate) whether the engine supports it. */
export function relaxedSimdProbe(): Uint8Array {
  const module = new ModuleBuilder({ initialPages: 1, maximumPages: 1, shared: false });
  const f = new FunctionBuilder([], []);
  f.v128Zero().v128Zero().v128Zero().f32x4RelaxedMadd().drop();
  module.addFunction("probe", f);
  return module.encode();
}

/** A module using (plain) SIMD, to test whether the engine supports it. */
export function simdProbe(): Uint8Array {
  const module = new ModuleBuilder({ initialPages: 1, maximumPages: 1, shared: false });
  const f = new FunctionBuilder([], []);
  f.v128Zero().v128Zero().f32x4Add().drop();
  module.addFunction("probe", f);
  return module.encode();
}

// --- small code-generation helpers --------------------------------------------------------------

/** x += delta (i32). */
function addTo(f: FunctionBuilder, x: Local, delta: number | Local): void {
  f.get(x);
  if (typeof delta === "number") f.i32Const(delta);
  else f.get(delta);
  f.i32Add().set(x);
}

/** Pushes min(x, limit - base) onto the stack. */
function pushMinRemaining(f: FunctionBuilder, x: number, limit: Local, base: Local): void {
  const remaining = () => f.get(limit).get(base).i32Sub();
  f.i32Const(x);
  remaining();
  f.i32Const(x);
  remaining();
  f.i32LtS().select();
}

/** `while (!exitCondition()) body()` as block/loop/br_if. */
function whileNot(f: FunctionBuilder, exitCondition: () => void, body: () => void): void {
  f.block().loop();
  exitCondition();
  f.brIf(1);
  body();
  f.br(0).end().end();
}

// --- packing ------------------------------------------------------------------------------------

/**
 * pack(src, lineStride, kStride, dst, lines, k, nb, srcBatch, dstBatch): copies `lines` lines of
 * length k into panels of `width` lines, interleaved so that one k step of a panel is `width`
 * consecutive floats: dst[(q*k + p)*width + w] = src[(q*width + w)*lineStride + p*kStride]. The last
 * panel is zero-padded. For A the lines are rows (width mr); for B they are columns (width nr).
 * Strides are in bytes; the same is repeated for nb batches.
 */
function emitPack(width: number): FunctionBuilder {
  const f = new FunctionBuilder(new Array(9).fill(I32), []);
  const [src, lineStride, kStride, dst, lines, k, nb, srcBatch, dstBatch] = f.params;
  const [s, d, left, sp, kk] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const lineOffset = Array.from({ length: width }, () => f.local(I32)); // w * lineStride
  for (let w = 0; w < width; w++) f.get(lineStride).i32Const(w).i32Mul().set(lineOffset[w]);

  /** Loops over the k steps of one panel, `step` copying one k step from sp to d. */
  const overK = (step: () => void) => {
    f.get(s).set(sp).get(k).set(kk);
    whileNot(
      f,
      () => f.get(kk).i32Eqz(),
      () => {
        step();
        addTo(f, sp, kStride);
        addTo(f, d, width * 4);
        addTo(f, kk, -1);
      },
    );
  };
  const copyLine = (w: number) =>
    f
      .get(d)
      .get(sp)
      .get(lineOffset[w])
      .i32Add()
      .f32Load()
      .f32Store(4 * w);

  whileNot(
    f,
    () => f.get(nb).i32Eqz(),
    () => {
      f.get(src).set(s).get(dst).set(d).get(lines).set(left);
      whileNot(
        f,
        () => f.get(left).i32Const(0).i32LeS(),
        () => {
          f.get(left).i32Const(width).i32GeS().if();
          if (width % 4 === 0) {
            // Lines contiguous in memory (row-major B): one k step is width/4 vector copies.
            f.get(lineStride).i32Const(4).i32Eq().if();
            overK(() => {
              for (let v = 0; v < width / 4; v++)
                f.get(d)
                  .get(sp)
                  .v128Load(16 * v)
                  .v128Store(16 * v);
            });
            f.else();
            overK(() => {
              for (let w = 0; w < width; w++) copyLine(w);
            });
            f.end();
          } else {
            overK(() => {
              for (let w = 0; w < width; w++) copyLine(w);
            });
          }
          f.else();
          // Last, partial panel: lines past `left` are zeros.
          overK(() => {
            for (let w = 0; w < width; w++) {
              f.get(left).i32Const(w).i32GtS().if();
              copyLine(w);
              f.else()
                .get(d)
                .f32Const0()
                .f32Store(4 * w)
                .end();
            }
          });
          f.end();
          f.get(s).get(lineStride).i32Const(width).i32Mul().i32Add().set(s);
          addTo(f, left, -width);
        },
      );
      addTo(f, src, srcBatch);
      addTo(f, dst, dstBatch);
      addTo(f, nb, -1);
    },
  );
  return f;
}

// --- the GEMM itself ------------------------------------------------------------------------------

/**
 * gemmBlocks(aPack, bPack, c, m, n, k, i0, i1, j0, j1, beta, nb, aBatch, bBatch, cBatch, scratch):
 * for each of nb batches, C[i0:i1, j0:j1] (+)= Ã·B̃ where Ã, B̃ are the packed panels of A (all
 * m rows) and B (all n columns) and C is dense row-major m x n at byte address c. i0 is a multiple
 * of mr and j0 of nr. beta != 0 adds to C. Loop order (BLIS): K blocks, then B micro-panels (kept
 * in L1), then A micro-panels (the task's rows x kc stay in L2).
 */
function emitGemmBlocks(opts: KernelOptions): FunctionBuilder {
  const { mr, nr, kc: KC } = opts;
  const f = new FunctionBuilder(new Array(16).fill(I32), []);
  const [aPack, bPack, c, m, n, k, i0, i1, j0, j1, beta, nb, aBatch, bBatch, cBatch, scratch] = f.params;
  const [pc, kc, jp, ip, bPanel, aPtr, bPtr, cPtr, bEnd, mRows, nCols, betaNow, ldc] = Array.from({ length: 13 }, () =>
    f.local(I32),
  );
  const vectors = nr / 4;
  const acc = Array.from({ length: mr }, () => Array.from({ length: vectors }, () => f.local(V128)));
  const bv = Array.from({ length: vectors }, () => f.local(V128));
  const av = f.local(V128);

  f.get(n).i32Const(4).i32Mul().set(ldc);
  whileNot(
    f,
    () => f.get(nb).i32Eqz(),
    () => {
      f.i32Const(0).set(pc);
      whileNot(
        f,
        () => f.get(pc).get(k).i32GeS(),
        () => {
          pushMinRemaining(f, KC, k, pc);
          f.set(kc);
          f.get(beta).get(pc).i32Or().set(betaNow);
          f.get(j0).set(jp);
          whileNot(
            f,
            () => f.get(jp).get(j1).i32GeS(),
            () => {
              pushMinRemaining(f, nr, n, jp);
              f.set(nCols);
              // B̃ panel of column jp, k offset pc: (jp*k + pc*nr) floats.
              f.get(bPack).get(jp).get(k).i32Mul().get(pc).i32Const(nr).i32Mul().i32Add().i32Const(2).i32Shl().i32Add();
              f.set(bPanel);
              f.get(i0).set(ip);
              whileNot(
                f,
                () => f.get(ip).get(i1).i32GeS(),
                () => {
                  pushMinRemaining(f, mr, m, ip);
                  f.set(mRows);
                  f.get(aPack)
                    .get(ip)
                    .get(k)
                    .i32Mul()
                    .get(pc)
                    .i32Const(mr)
                    .i32Mul()
                    .i32Add()
                    .i32Const(2)
                    .i32Shl()
                    .i32Add();
                  f.set(aPtr);
                  f.get(bPanel).set(bPtr);
                  f.get(c).get(ip).get(n).i32Mul().get(jp).i32Add().i32Const(2).i32Shl().i32Add().set(cPtr);
                  emitMicroKernel(f, opts, { aPtr, bPtr, kc, bEnd, acc, bv, av });
                  emitStoreTile(f, opts, { cPtr, ldc, mRows, nCols, betaNow, scratch, acc });
                  addTo(f, ip, mr);
                },
              );
              addTo(f, jp, nr);
            },
          );
          addTo(f, pc, KC);
        },
      );
      addTo(f, aPack, aBatch);
      addTo(f, bPack, bBatch);
      addTo(f, c, cBatch);
      addTo(f, nb, -1);
    },
  );
  return f;
}

interface MicroKernelLocals {
  aPtr: Local;
  bPtr: Local;
  kc: Local;
  bEnd: Local;
  acc: Local[][];
  bv: Local[];
  av: Local;
}

/** acc = Ã micro-panel (mr x kc, at aPtr) · B̃ micro-panel (kc x nr, at bPtr): rank-1 updates. */
function emitMicroKernel(f: FunctionBuilder, opts: KernelOptions, l: MicroKernelLocals): void {
  const { mr, nr, unroll, relaxedSimd } = opts;
  for (const row of l.acc) for (const a of row) f.v128Zero().set(a);

  /** The u-th k step of a loop iteration: a rank-1 update by one A column and one B row. */
  const rank1 = (u: number) => {
    l.bv.forEach((b, v) =>
      f
        .get(l.bPtr)
        .v128Load(4 * (u * nr + 4 * v))
        .set(b),
    );
    for (let r = 0; r < mr; r++) {
      f.get(l.aPtr)
        .v128Load32Splat(4 * (u * mr + r))
        .set(l.av);
      l.bv.forEach((b, v) => {
        const a = l.acc[r][v];
        if (relaxedSimd) f.get(l.av).get(b).get(a).f32x4RelaxedMadd().set(a);
        else f.get(a).get(l.av).get(b).f32x4Mul().f32x4Add().set(a);
      });
    }
  };
  const steps = (count: number) => {
    for (let u = 0; u < count; u++) rank1(u);
    addTo(f, l.aPtr, 4 * mr * count);
    addTo(f, l.bPtr, 4 * nr * count);
  };
  // The loops test the B pointer against its end: no separate counter to update.
  const { bEnd } = l;
  f.get(l.bPtr)
    .get(l.kc)
    .i32Const(4 * nr)
    .i32Mul()
    .i32Add()
    .set(bEnd);
  if (unroll > 1) {
    whileNot(
      f,
      () =>
        f
          .get(bEnd)
          .get(l.bPtr)
          .i32Sub()
          .i32Const(4 * nr * unroll)
          .i32LtS(),
      () => steps(unroll),
    );
  }
  whileNot(
    f,
    () => f.get(l.bPtr).get(bEnd).i32Eq(),
    () => steps(1),
  );
}

interface StoreLocals {
  cPtr: Local;
  ldc: Local;
  mRows: Local;
  nCols: Local;
  betaNow: Local;
  scratch: Local;
  acc: Local[][];
}

/** C tile (+)= acc. A full tile is stored with vector ops; an edge tile goes through scratch. */
function emitStoreTile(f: FunctionBuilder, opts: KernelOptions, l: StoreLocals): void {
  const { mr, nr } = opts;
  const cRow = l.cPtr; // walks down the tile's rows (cPtr is recomputed for every tile)
  const storeRows = (withBeta: boolean) => {
    for (let r = 0; r < mr; r++) {
      l.acc[r].forEach((a, v) => {
        f.get(cRow);
        if (withBeta)
          f.get(cRow)
            .v128Load(16 * v)
            .get(a)
            .f32x4Add();
        else f.get(a);
        f.v128Store(16 * v);
      });
      addTo(f, cRow, l.ldc);
    }
  };
  f.get(l.mRows).i32Const(mr).i32Eq().get(l.nCols).i32Const(nr).i32Eq().i32And().if();
  f.get(l.betaNow).if();
  storeRows(true);
  f.else();
  storeRows(false);
  f.end();
  f.else();
  // Edge tile: spill the accumulators to scratch (mr x nr floats), then copy the valid part.
  l.acc.forEach((row, r) =>
    row.forEach((a, v) =>
      f
        .get(l.scratch)
        .get(a)
        .v128Store(4 * (r * nr + 4 * v)),
    ),
  );
  emitEdgeCopy(f, opts, l);
  f.end();
}

/**
 * Scalar copy of the valid mRows x nCols part of the scratch tile into C:
 * C = scratch + (beta ? C : 0), reading C either way (it is allocated; select drops the value).
 */
function emitEdgeCopy(f: FunctionBuilder, opts: KernelOptions, l: StoreLocals): void {
  const [sRow, j, addrC] = [f.local(I32), f.local(I32), f.local(I32)];
  const rowsLeft = l.mRows; // consumed here: mRows is recomputed for the next tile
  f.get(l.scratch).set(sRow);
  whileNot(
    f,
    () => f.get(rowsLeft).i32Eqz(),
    () => {
      f.i32Const(0).set(j);
      whileNot(
        f,
        () => f.get(j).get(l.nCols).i32GeS(),
        () => {
          f.get(l.cPtr).get(j).i32Const(2).i32Shl().i32Add().tee(addrC);
          f.get(sRow).get(j).i32Const(2).i32Shl().i32Add().f32Load();
          f.get(addrC).f32Load().f32Const0().get(l.betaNow).select();
          f.f32Add().f32Store();
          addTo(f, j, 1);
        },
      );
      addTo(f, l.cPtr, l.ldc);
      addTo(f, sRow, 4 * opts.nr);
      addTo(f, rowsLeft, -1);
    },
  );
}
