// The confusion-matrix picture: cells shaded by their fraction of the true class, clear errors for bad input.

import { test } from "node:test";
import assert from "node:assert/strict";
import { cellColor, renderConfusionMatrix } from "../../src/viz/confusion.ts";

const has = (data: Uint8Array, [r, g, b]: readonly number[]) => {
  for (let i = 0; i < data.length; i += 3) if (data[i] === r && data[i + 1] === g && data[i + 2] === b) return true;
  return false;
};

test("cells run from white (none of the row) to dark blue (all of it)", () => {
  assert.deepEqual(cellColor(0), [255, 255, 255]);
  assert.deepEqual(cellColor(1), [8, 48, 107]);
  assert.deepEqual(cellColor(Number.NaN), [255, 255, 255]);
  const full = renderConfusionMatrix([[3]], ["a"]);
  const empty = renderConfusionMatrix([[0]], ["a"]);
  assert.ok(has(full.data, cellColor(1)), "a row entirely in one cell is dark");
  assert.ok(!has(empty.data, cellColor(1)), "an empty row has no dark cell");
  const half = renderConfusionMatrix(
    [
      [1, 1],
      [0, 2],
    ],
    ["a", "b"],
  );
  assert.ok(has(half.data, cellColor(0.5)) && has(half.data, cellColor(1)));
});

test("a matrix that is not K×K with K names is refused", () => {
  assert.throws(() => renderConfusionMatrix([[1, 2]], ["a"]), /K×K matrix and K class names/);
  assert.throws(() => renderConfusionMatrix([[1]], ["a", "b"]), /K×K matrix and K class names/);
  assert.throws(() => renderConfusionMatrix([], []), /K×K/);
});
