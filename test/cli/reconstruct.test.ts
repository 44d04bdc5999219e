// `vitmae reconstruct` end to end on a tiny random checkpoint: the PNG's size and panels, and bad inputs.

import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { main } from "../../src/cli/main.ts";
import { PANEL_HEADERS } from "../../src/eval/panels.ts";
import * as T from "../../src/core/index.ts";
import { preprocess, unnormalize } from "../../src/data/preprocess.ts";
import { reconstruct } from "../../src/eval/reconstruct.ts";
import { encodePng, type Image } from "../../src/io/image.ts";
import { readImageFile } from "../../src/node/imageFile.ts";
import { tiny, unsafeConfig, ViTMAEForPreTraining } from "../../src/mae/index.ts";
import { gridLayout } from "../../src/viz/grid.ts";
import "../helpers/asyncReference.ts"; // registers the async-reference backend

const root = mkdtempSync(join(tmpdir(), "vitmae-reconstruct-"));
after(() => rmSync(root, { recursive: true, force: true }));

const model = ViTMAEForPreTraining.init(tiny, T.key(11));
const modelDir = join(root, "model");
model.savePretrained(modelDir);

function png(path: string, width: number, height: number, channels: 1 | 3, seed: number): string {
  const data = new Uint8Array(width * height * channels).map((_, i) => (i * 29 + seed * 71 + ((i * i) >> 5)) % 256);
  writeFileSync(path, encodePng(data, width, height, channels));
  return path;
}
const rgb = png(join(root, "rgb.png"), 32, 32, 3, 1);
const gray = png(join(root, "gray.png"), 40, 24, 1, 2); // resized to 32x32 and replicated to RGB

/** Runs the CLI, capturing what it prints. */
async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    return { code: await main(args), out, err };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

const cell = (grid: Image, [x0, y0]: [number, number], x: number, y: number, scale: number) => {
  const at = 3 * ((y0 + y * scale) * grid.width + x0 + x * scale);
  return [grid.data[at], grid.data[at + 1], grid.data[at + 2]];
};
const pixel = (img: Image, x: number, y: number) =>
  Array.from(img.data.subarray(3 * (y * img.width + x), 3 * (y * img.width + x) + 3));

test("--image ×2: a 2-row × 4-panel grid whose cells are the core's panels exactly; pasted = original on visible patches", async () => {
  const outPath = join(root, "grid.png");
  const { code, out, err } = await run([
    "reconstruct",
    "--model",
    modelDir,
    "--image",
    rgb,
    "--image",
    gray,
    "--seed",
    "3",
    "--out",
    outPath,
  ]);
  assert.equal(code, 0, err.join("\n"));
  assert.match(out.join("\n"), /rgb\.png: masked-patch MSE \d+\.\d+/);
  assert.match(out.join("\n"), /mean masked-patch MSE over 2 image\(s\)/);
  const grid = readImageFile(outPath);
  const layout = gridLayout({
    headers: PANEL_HEADERS,
    rows: [0, 1].map(() =>
      PANEL_HEADERS.map(() => ({ width: 32, height: 32, channels: 3 as const, data: new Uint8Array(0) })),
    ),
  });
  assert.equal(layout.scale, 4);
  assert.equal(grid.width, layout.width); // 8 + 4·(128 + 8) = 552
  assert.equal(grid.width, 552);
  const below = grid.height - (layout.headerHeight + 2 * (128 + 8));
  assert.ok(below > 0 && (below - 8) % 9 === 0, `caption band of ${below} px`); // whole caption lines + pad

  // The same pixels and noise through the functional core.
  const opts = { height: 32, width: 32, channels: 3 };
  const pixels = T.fromArray(
    Float32Array.from([...preprocess(readImageFile(rgb), opts), ...preprocess(readImageFile(gray), opts)]),
    [2, 3, 32, 32],
  );
  const r = await reconstruct(model, pixels, { noise: T.random.uniform(T.key(3), [2, 16]) });
  const panels = [r.original, r.masked, r.reconstruction, r.pasted].map((t) => t.toArray());
  const mask = r.mask.toArray();
  const meanColour = [124, 116, 104]; // round(ImageNet mean · 255): what 0 after normalisation shows as
  for (let row = 0; row < 2; row++) {
    const pictures = panels.map((a) =>
      unnormalize(a.subarray(row * 3072, (row + 1) * 3072), { channels: 3, height: 32, width: 32 }),
    );
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) {
        const masked = mask[row * 16 + Math.floor(y / 8) * 4 + Math.floor(x / 8)] === 1;
        const seen = [0, 1, 2, 3].map((c) => cell(grid, layout.cellOrigin(row, c), x, y, 4));
        seen.forEach((v, c) => assert.deepEqual(v, pixel(pictures[c], x, y), `row ${row} panel ${c} at ${x},${y}`));
        if (masked) assert.deepEqual(seen[1], meanColour);
        else {
          assert.deepEqual(seen[1], seen[0]);
          assert.deepEqual(seen[3], seen[0]);
        }
      }
  }
});

test("a `vitmae pretrain` output folder works through its checkpoint/; --data picks evenly spaced examples", async () => {
  const run1 = join(root, "run");
  cpSync(modelDir, join(run1, "checkpoint"), { recursive: true });
  const data = join(root, "flat");
  mkdirSync(data);
  for (let i = 0; i < 6; i++) png(join(data, `img${i}.png`), 32, 32, 3, 10 + i);
  const outPath = join(root, "data.png");
  const { code, out, err } = await run([
    "reconstruct",
    "--model",
    run1,
    "--data",
    data,
    "--count",
    "3",
    "--mask-ratio",
    "0.5",
    "--out",
    outPath,
  ]);
  assert.equal(code, 0, err.join("\n"));
  assert.deepEqual(
    out.filter((l) => l.startsWith("flat[")).map((l) => l.split(":")[0]),
    ["flat[0]", "flat[2]", "flat[4]"],
  );
  const grid = readImageFile(outPath);
  assert.equal(grid.width, 552);
  assert.ok(grid.height > 26 + 3 * 136);
});

test("norm_pix_loss: normalised-patch space unless --unnormalize-with-target-stats, which other models refuse", async () => {
  const normDir = join(root, "normpix");
  ViTMAEForPreTraining.init(unsafeConfig({ normPixLoss: true }, tiny), T.key(12)).savePretrained(normDir);
  const a = await run(["reconstruct", "--model", normDir, "--image", rgb, "--out", join(root, "n1.png")]);
  assert.equal(a.code, 0, a.err.join("\n"));
  assert.match(a.out.join("\n"), /normalised-patch space/);
  const b = await run([
    "reconstruct",
    "--model",
    normDir,
    "--image",
    rgb,
    "--unnormalize-with-target-stats",
    "--out",
    join(root, "n2.png"),
  ]);
  assert.equal(b.code, 0, b.err.join("\n"));
  assert.match(b.out.join("\n"), /each target patch's own mean and variance/);
  const c = await run([
    "reconstruct",
    "--model",
    modelDir,
    "--image",
    rgb,
    "--unnormalize-with-target-stats",
    "--out",
    join(root, "n3.png"),
  ]);
  assert.equal(c.code, 2);
  assert.match(c.err.join("\n"), /norm_pix_loss false/);
});

test("bad inputs: one clear line, a non-zero exit, and nothing written", async () => {
  const outDir = join(root, "bad");
  mkdirSync(outDir);
  const corrupt = join(root, "corrupt.png");
  writeFileSync(
    corrupt,
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]),
  );
  const gif = join(root, "pic.png");
  writeFileSync(gif, Buffer.from("GIF89a\x01\x00\x01\x00\x00\x00\x00;", "latin1"));
  const twoChannelDir = join(root, "two-channel");
  ViTMAEForPreTraining.init(unsafeConfig({ numChannels: 2 }, tiny), T.key(13)).savePretrained(twoChannelDir);
  const out = join(outDir, "grid.png");
  const cases: [string[], RegExp][] = [
    [["--model", join(root, "nope"), "--image", rgb, "--out", out], /--model .*nope does not exist/],
    [["--model", outDir, "--image", rgb, "--out", out], /is not a checkpoint folder \(no config\.json/],
    [["--model", modelDir, "--image", corrupt, "--out", out], /corrupt\.png.*(corrupt|truncated) PNG/],
    [["--model", modelDir, "--image", gif, "--out", out], /GIF images are not supported/],
    [["--model", twoChannelDir, "--image", rgb, "--out", out], /wants 2 channels; only 1 \(gray\) and 3 \(RGB\)/],
    [
      ["--model", modelDir, "--image", rgb, "--out", join(root, "missing-dir", "grid.png")],
      /cannot write .*missing-dir.* does not exist/,
    ],
    [["--model", modelDir, "--image", rgb, "--out", outDir], /is a folder/],
    [["--model", modelDir, "--out", out], /either --image FILE .* or --data SPEC/],
    [["--model", modelDir, "--image", rgb, "--mask-ratio", "0", "--out", out], /strictly between 0 and 1/],
    [
      ["--model", modelDir, "--data", join(root, "flat"), "--count", "99", "--out", out],
      /--count 99 but dataset "flat" has only 6/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const { code, err } = await run(["reconstruct", ...args]);
    assert.notEqual(code, 0, args.join(" "));
    assert.equal(err.length, 1, `one line for ${args.join(" ")}: ${err.join(" | ")}`);
    assert.ok(!err[0].includes("\n"), err[0]);
    assert.match(err[0], /^vitmae reconstruct: /);
    assert.match(err[0], pattern);
  }
  assert.deepEqual(readdirSync(outDir), []);
  assert.ok(!readdirSync(root).includes("missing-dir"));
});

test("reconstruct --backend async-reference (reads only with await, as a GPU): the reference backend's PNG and MSEs", async () => {
  const picture = async (backend: string) => {
    const out = join(root, `grid-${backend}.png`);
    try {
      const r = await run([
        "reconstruct",
        "--model",
        modelDir,
        "--image",
        rgb,
        "--image",
        gray,
        "--out",
        out,
        "--backend",
        backend,
      ]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.match(r.out[0], new RegExp(`^backend: ${backend}`));
      return { png: readFileSync(out), printed: r.out.slice(1, -1) };
    } finally {
      T.setBackend("cpu");
    }
  };
  const got = await picture("async-reference");
  const want = await picture("reference");
  assert.ok(got.png.equals(want.png), "the PNGs differ");
  assert.deepEqual(got.printed, want.printed);
});
