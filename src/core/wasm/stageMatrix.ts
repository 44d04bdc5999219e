// Copies a strided Float32Array matrix view into the wasm memory, keeping its strides where one
// memcpy of the covering span is cheap (dense, transposed, broadcast views) and gathering it densely
// otherwise; the wasm packing routines then read it with whatever strides it has.

/** Element (t, i, p) of the view is array[offset + t*batchStride + i*rowStride + p*colStride]. */
export interface MatrixView {
  array: Float32Array;
  offset: number;
  rowStride: number;
  colStride: number;
  batchStride: number; // ignored when batches = 1
}

/** Where a staged view lives in its block of wasm memory; offsets and strides in floats. */
export interface StagedMatrix {
  floats: number; // size of the block to reserve
  origin: number; // element (0, 0) of batch 0, relative to the block
  rowStride: number;
  colStride: number;
  batchStride: number;
  batches: number;
  spanStart: number; // first array element copied (memcpy), or -1 to gather
}

/** A covering span at most this many times the view's element count (+ slack) is copied whole. */
const SPAN_FACTOR = 4;
const SPAN_SLACK = 1024;

export function planStaging(view: MatrixView, rows: number, cols: number, batches: number): StagedMatrix {
  const { offset, rowStride, colStride } = view;
  const batchStride = batches === 1 ? 0 : view.batchStride;
  const rowExtent = (rows - 1) * rowStride;
  const colExtent = (cols - 1) * colStride;
  const batchExtent = (batches - 1) * batchStride;
  const lo = offset + Math.min(0, rowExtent) + Math.min(0, colExtent) + Math.min(0, batchExtent);
  const hi = offset + Math.max(0, rowExtent) + Math.max(0, colExtent) + Math.max(0, batchExtent);
  const count = rows * cols * batches;
  if (hi - lo + 1 <= SPAN_FACTOR * count + SPAN_SLACK) {
    return { floats: hi - lo + 1, origin: offset - lo, rowStride, colStride, batchStride, batches, spanStart: lo };
  }
  // Sparse view (e.g. a column slice of a wide matrix): gather it, keeping the smaller stride inner.
  const rowsInner = Math.abs(rowStride) < Math.abs(colStride);
  return {
    floats: count,
    origin: 0,
    batches,
    spanStart: -1,
    rowStride: rowsInner ? 1 : cols,
    colStride: rowsInner ? rows : 1,
    batchStride: batches === 1 ? 0 : rows * cols,
  };
}

/** Copies the view into f32 at float index `at`, as planned by planStaging. */
export function copyStaged(
  view: MatrixView,
  rows: number,
  cols: number,
  s: StagedMatrix,
  f32: Float32Array,
  at: number,
): void {
  if (s.spanStart >= 0) {
    f32.set(view.array.subarray(s.spanStart, s.spanStart + s.floats), at);
    return;
  }
  const { array, offset, rowStride, colStride, batchStride } = view;
  for (let t = 0; t < s.batches; t++) {
    for (let i = 0; i < rows; i++) {
      for (let p = 0; p < cols; p++) {
        f32[at + t * s.batchStride + i * s.rowStride + p * s.colStride] =
          array[offset + t * batchStride + i * rowStride + p * colStride];
      }
    }
  }
}
