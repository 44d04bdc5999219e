// The 5×7 bitmap font: well-formed glyphs, distinct shapes, text width and wrapping.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ADVANCE, FONT_CHARACTERS, glyph, GLYPH_HEIGHT, GLYPH_WIDTH, textWidth, wrapText } from "../../src/viz/font.ts";

test("every printable ASCII character has a 5×7 glyph, and no two glyphs look alike", () => {
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
  assert.deepEqual([...FONT_CHARACTERS].sort(), [...printable].sort());
  const seen = new Map<string, string>();
  for (const ch of printable) {
    const g = glyph(ch);
    assert.equal(g.length, GLYPH_HEIGHT, `glyph ${JSON.stringify(ch)}`);
    for (const row of g) assert.equal(row.length, GLYPH_WIDTH, `glyph ${JSON.stringify(ch)}`);
    const key = g.map((r) => r.map((b) => (b ? "#" : ".")).join("")).join("|");
    assert.ok(!seen.has(key), `${JSON.stringify(ch)} looks like ${JSON.stringify(seen.get(key))}`);
    seen.set(key, ch);
    if (ch !== " ")
      assert.ok(
        g.some((r) => r.some(Boolean)),
        `glyph ${JSON.stringify(ch)} is empty`,
      );
  }
  assert.equal(glyph("é"), glyph("?")); // unknown → "?"
  assert.equal(glyph("×"), glyph("x"));
});

test("textWidth: n glyphs advance 6 pixels each, less the last gap, times the scale", () => {
  assert.equal(textWidth(""), 0);
  assert.equal(textWidth("a"), 5);
  assert.equal(textWidth("loss", 2), (4 * ADVANCE - 1) * 2);
});

test("wrapText keeps every line within the width and loses no word (property)", () => {
  const word = fc.stringMatching(/^[a-z0-9]{1,12}$/);
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 20 }), fc.integer({ min: 30, max: 200 }), (words, width) => {
      const lines = wrapText(words.join(" "), width);
      for (const line of lines) assert.ok(textWidth(line) <= width, `${JSON.stringify(line)} wider than ${width}`);
      assert.equal(lines.join("").replace(/ /g, ""), words.join(""));
    }),
  );
  assert.deepEqual(wrapText("reconstruction + visible", 100), ["reconstruction +", "visible"]);
  assert.deepEqual(wrapText("a\nb", 100), ["a", "b"]);
});
