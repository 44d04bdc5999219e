// A grid of equally sized images with column headers and a caption (the MAE notebook's panels, one row per image).

import type { Image } from "../io/image.ts";
import { BLACK, Canvas, WHITE, type RGB } from "./canvas.ts";
import { LINE_HEIGHT, textWidth, wrapText } from "./font.ts";

/** Gap between cells and around the grid, in pixels. */
export const GRID_PAD = 8;
/** Images narrower than this are enlarged by an integer factor (nearest neighbour) so headers fit and digits are visible. */
export const MIN_CELL_WIDTH = 128;

export interface GridOptions {
  /** One header per column, drawn (wrapped) above it. */
  headers: readonly string[];
  /** rows[r][c]: every image the same size. */
  rows: readonly (readonly Image[])[];
  /** Text under the grid, wrapped to its width ("\n" starts a new paragraph). */
  caption?: string;
  /** Integer enlargement; default: the smallest that makes a cell at least MIN_CELL_WIDTH wide. */
  scale?: number;
  background?: RGB;
}

export interface GridLayout {
  width: number;
  height: number;
  scale: number;
  textScale: number;
  cellWidth: number;
  cellHeight: number;
  /** Top of the first row of images: GRID_PAD + the header lines. */
  headerHeight: number;
  headerLines: string[][];
  captionLines: string[];
  /** Top-left corner of cell (row, column). */
  cellOrigin(row: number, column: number): [number, number];
}

/**
 * Where everything goes. Width = GRID_PAD + columns·(cellWidth + GRID_PAD); height = headerHeight +
 * rows·(cellHeight + GRID_PAD) + the caption's lines (plus a GRID_PAD) when there is one.
 */
export function gridLayout(opts: Omit<GridOptions, "background">): GridLayout {
  const { headers, rows } = opts;
  const columns = headers.length;
  if (columns === 0) throw new RangeError("renderGrid: at least one column header is needed");
  if (rows.length === 0) throw new RangeError("renderGrid: no rows to draw");
  const { width: iw, height: ih } = rows[0][0] ?? { width: 0, height: 0 };
  rows.forEach((row, r) => {
    if (row.length !== columns)
      throw new RangeError(`renderGrid: row ${r} has ${row.length} images for ${columns} column headers`);
    row.forEach((img, c) => {
      if (img.width !== iw || img.height !== ih) {
        throw new RangeError(
          `renderGrid: image (${r}, ${c}) is ${img.width}x${img.height}, the first is ${iw}x${ih}; all must be the same size`,
        );
      }
    });
  });
  const scale = opts.scale ?? Math.max(1, Math.ceil(MIN_CELL_WIDTH / iw));
  if (!Number.isInteger(scale) || scale < 1)
    throw new RangeError(`renderGrid: scale must be a positive integer, got ${scale}`);
  const cellWidth = iw * scale;
  const cellHeight = ih * scale;
  const textScale = cellWidth >= 256 ? 2 : 1;
  const width = GRID_PAD + columns * (cellWidth + GRID_PAD);
  const headerLines = headers.map((h) => wrapText(h, cellWidth, textScale));
  const lineHeight = LINE_HEIGHT * textScale;
  const headerHeight = GRID_PAD + Math.max(...headerLines.map((l) => l.length)) * lineHeight;
  const captionLines = opts.caption === undefined ? [] : wrapText(opts.caption, width - 2 * GRID_PAD, textScale);
  const captionHeight = captionLines.length === 0 ? 0 : captionLines.length * lineHeight + GRID_PAD;
  const height = headerHeight + rows.length * (cellHeight + GRID_PAD) + captionHeight;
  return {
    width,
    height,
    scale,
    textScale,
    cellWidth,
    cellHeight,
    headerHeight,
    headerLines,
    captionLines,
    cellOrigin: (row, column) => [
      GRID_PAD + column * (cellWidth + GRID_PAD),
      headerHeight + row * (cellHeight + GRID_PAD),
    ],
  };
}

/** Draws the grid: headers (centred, wrapped), the images enlarged by `scale`, the caption below. */
export function renderGrid(opts: GridOptions): Image {
  const layout = gridLayout(opts);
  const { textScale, cellWidth, headerLines, captionLines } = layout;
  const lineHeight = LINE_HEIGHT * textScale;
  const canvas = new Canvas(layout.width, layout.height, opts.background ?? WHITE);
  headerLines.forEach((lines, c) => {
    const [x] = layout.cellOrigin(0, c);
    const top = layout.headerHeight - lines.length * lineHeight; // bottom-aligned above the images
    lines.forEach((line, i) => {
      canvas.text(
        line,
        x + Math.floor((cellWidth - textWidth(line, textScale)) / 2),
        top + i * lineHeight,
        BLACK,
        textScale,
      );
    });
  });
  opts.rows.forEach((row, r) =>
    row.forEach((img, c) => {
      const [x, y] = layout.cellOrigin(r, c);
      canvas.blit(img, x, y, layout.scale);
    }),
  );
  const captionTop = layout.headerHeight + opts.rows.length * (layout.cellHeight + GRID_PAD);
  captionLines.forEach((line, i) => canvas.text(line, GRID_PAD, captionTop + i * lineHeight, BLACK, textScale));
  return canvas.toImage();
}
