// The playground end to end in headless chromium (built and served as `npm run playground` does):
// it loads with the shipped model on the cpu backend's Web Workers; the mask-ratio slider and a
// click on a patch change the mask and the canvases; a drawn digit is looked at; the reference
// backend gives the same loss; training from a random init draws a falling loss curve; the
// downloaded checkpoint loads in Node and reproduces the page's loss; a dropped non-image file and
// a checkpoint of another shape get clear messages. VITMAE_SCREENSHOT=FILE keeps the screenshot.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import * as T from "../../src/core/index.ts";
import { heldOutSplit } from "../../src/data/digitsDataset.ts";
import { mnistDataset } from "../../src/data/mnistDataset.ts";
import { preprocess, preprocessOptions } from "../../src/data/preprocess.ts";
import { DEFAULT_PREPROCESSOR_CONFIG } from "../../src/data/preprocessorConfig.ts";
import { ViTMAEForPreTraining } from "../../src/index.ts";
import { parseSafetensors } from "../../src/io/safetensors.ts";
import { buildPlayground, servePlayground } from "../../scripts/playground.ts";
import {
  browserSkip,
  launchBrowser,
  root,
  type BrowserSession,
  type OpenPage,
  type Server,
} from "../helpers/browser.ts";

const STEPS = 40;

describe("the playground, end to end", { skip: browserSkip() }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vitmae-playground-"));
  let server: Server;
  let browser: BrowserSession;
  let open: OpenPage;
  let page: Page;
  const attr = (selector: string, name: string) => page.getAttribute(selector, name).then((v) => v ?? "");
  const views = async () => Number(await attr("body", "data-views"));
  /** Runs `act` and waits for the view it causes. */
  const andLook = async (act: () => Promise<unknown>) => {
    const seen = await views();
    await act();
    await page.waitForFunction((n) => Number(document.body.dataset.views) > n, seen, { timeout: 120_000 });
  };
  const panel = (i: number) =>
    page.evaluate((k) => (document.getElementById(`panel-${k}`) as HTMLCanvasElement).toDataURL(), i);
  const message = () => page.textContent("#message").then((t) => t ?? "");

  before(async () => {
    await buildPlayground(dir);
    server = await servePlayground(dir);
    browser = await launchBrowser();
    open = await browser.open(server.url);
    page = open.page;
    await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
    await page.waitForFunction(() => Number(document.body.dataset.views) > 0, null, { timeout: 120_000 });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("loads the shipped model on the cpu backend's worker threads, with every panel drawn", async () => {
    // The parameter count the page shows is the shipped file's (every tensor but none extra).
    const shipped = parseSafetensors(readFileSync(path.join(root, "playground/model/model.safetensors")));
    const count = [...shipped.tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    const status = (await page.textContent("#status")) ?? "";
    assert.ok(status.includes(`shipped MNIST checkpoint · ${count.toLocaleString("en")} parameters`), status);
    assert.equal(await page.inputValue("#backend"), "cpu");
    assert.match((await page.textContent("#backend-description")) ?? "", /on 2 threads \(Web Workers sharing memory\)/);
    assert.equal(await attr("#panel-1", "data-masked"), "37"); // 49 patches, 75% masked: 12 kept
    const blank = await page.evaluate(() => {
      const c = document.createElement("canvas");
      [c.width, c.height] = [168, 168];
      return c.toDataURL();
    });
    for (let i = 0; i < 4; i++) assert.notEqual(await panel(i), blank, `panel ${i} is blank`);
    assert.deepEqual(open.errors, []);
  });

  it("moving the mask-ratio slider changes the mask and the canvases", async () => {
    const [mask, picture] = [await attr("#panel-1", "data-mask"), await panel(1)];
    await andLook(() => page.locator("#ratio").fill("0.5"));
    assert.equal(await attr("#panel-1", "data-masked"), "25"); // int(49 · 0.5) = 24 kept
    assert.notEqual(await attr("#panel-1", "data-mask"), mask);
    assert.notEqual(await panel(1), picture);
  });

  it("a click on a patch masks or unmasks it by hand, and nothing else", async () => {
    const before = await attr("#panel-1", "data-mask");
    // The patch in row 2, column 3 of the 7x7 grid: (3.5, 2.5) patches from the corner of a 168-pixel panel.
    await andLook(() => page.locator("#panel-2").click({ position: { x: 3.5 * 24, y: 2.5 * 24 } }));
    const after = await attr("#panel-1", "data-mask");
    const changed = [...after].flatMap((m, p) => (m === before[p] ? [] : [p]));
    assert.deepEqual(changed, [2 * 7 + 3]);
  });

  it("a digit drawn on the pad is what the model looks at", async () => {
    const box = (await page.locator("#draw-pad").boundingBox())!;
    await andLook(async () => {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.8, { steps: 8 });
      await page.mouse.up();
    });
    // The original panel shows the stroke: bright down the middle, dark in the corners.
    const red = (x: number, y: number) =>
      page.evaluate(
        ([px, py]) =>
          (document.getElementById("panel-0") as HTMLCanvasElement).getContext("2d")!.getImageData(px, py, 1, 1)
            .data[0],
        [x, y],
      );
    assert.ok((await red(84, 84)) > 150, `the middle of the drawing is ${await red(84, 84)}`);
    assert.ok((await red(8, 8)) < 40, `the corner of the drawing is ${await red(8, 8)}`);
  });

  it("the reference backend gives the loss the cpu backend gives", async () => {
    const onCpu = Number(await attr("#look-loss", "data-loss"));
    await andLook(() => page.selectOption("#backend", "reference"));
    assert.match((await page.textContent("#backend-description")) ?? "", /readable spec/);
    assert.equal(await attr("#look-loss", "data-backend"), "reference", "the look ran on the reference backend");
    const onReference = Number(await attr("#look-loss", "data-loss"));
    assert.ok(Math.abs(onReference - onCpu) <= 1e-5 * onCpu, `cpu ${onCpu}, reference ${onReference}`);
    await andLook(() => page.selectOption("#backend", "cpu"));
    assert.equal(await attr("#look-loss", "data-backend"), "cpu");
  });

  it("offers the GPU backends (WebGPU, WebGL2, gpu.js's WebGL; SwiftShader here), and a look on each gives the cpu's loss", async () => {
    const offered = await page.$$eval("#backend option", (options) =>
      options.map((o) => (o as HTMLOptionElement).value),
    );
    const onCpu = Number(await attr("#look-loss", "data-loss"));
    for (const name of ["gpujs:webgpu", "gpujs:webgl2", "gpujs:webgl"]) {
      assert.ok(offered.includes(name), `${name} among ${offered.join(", ")}`);
      await andLook(() => page.selectOption("#backend", name));
      assert.equal(await attr("#look-loss", "data-backend"), name, `the look ran on ${name}`);
      const onGpu = Number(await attr("#look-loss", "data-loss"));
      assert.ok(Math.abs(onGpu - onCpu) <= 1e-4 * onCpu, `cpu ${onCpu}, ${name} ${onGpu}`);
    }
    await andLook(() => page.selectOption("#backend", "cpu"));
    assert.equal(await attr("#look-loss", "data-backend"), "cpu");
  });

  it(`trains from a random init: ${STEPS} points on the loss curve, and the loss falls`, async () => {
    await page.click("#reset");
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.includes("random init"));
    await page.click("#train");
    await page.waitForFunction(
      (n) => JSON.parse(document.getElementById("loss-chart")?.dataset.points ?? "[]").length >= n,
      STEPS,
      { timeout: 180_000 },
    );
    await page.click("#stop");
    await page.waitForSelector("#train:not([disabled])");
    const points: [number, number][] = JSON.parse(await attr("#loss-chart", "data-points"));
    assert.deepEqual(
      points.slice(0, STEPS).map((p) => p[0]),
      Array.from({ length: STEPS }, (_, i) => i + 1),
    );
    const mean = (xs: [number, number][]) => xs.reduce((s, p) => s + p[1], 0) / xs.length;
    const [first, last] = [mean(points.slice(0, 3)), mean(points.slice(-3))];
    // A norm_pix_loss model starts near the share of masked patches that are not blank (it predicts
    // about zero, a blank patch's normalised target) and falls slowly: about 10% in 40 steps.
    assert.ok(last < 0.95 * first, `the loss went from ${first} to ${last}`);
    assert.match((await page.textContent("#train-stats")) ?? "", /\d+ images\/s/);
  });

  it("downloads config.json and model.safetensors, which the library loads in Node and which reproduce the page's loss", async () => {
    // Look at held-out digit 5 with MAE's random mask (seed 3, ratio 0.75), as the page shows it.
    await andLook(() => page.fill("#seed", "3").then(() => page.dispatchEvent("#seed", "change")));
    await andLook(() => page.locator("#ratio").fill("0.75"));
    await andLook(() => page.fill("#digit", "5").then(() => page.dispatchEvent("#digit", "change")));
    const shown = Number(await attr("#look-loss", "data-loss"));
    await page.click("#save");
    await page.waitForSelector("#downloads a");
    const folder = path.join(dir, "download");
    mkdirSync(folder);
    for (const name of ["config.json", "model.safetensors"]) {
      const download = page.waitForEvent("download");
      await page.click(`#downloads a[download="${name}"]`);
      await (await download).saveAs(path.join(folder, name));
    }
    const model = ViTMAEForPreTraining.fromPretrained(folder);
    const digit = heldOutSplit(mnistDataset()).test.get(5).image;
    const pixels = preprocess(
      digit,
      preprocessOptions(DEFAULT_PREPROCESSOR_CONFIG, { height: 28, width: 28, channels: 1 }),
    );
    const out = model.forward({
      pixelValues: T.fromArray(pixels, [1, 1, 28, 28]),
      noise: T.random.uniform(T.key(3), [1, 49]),
      maskRatio: 0.75,
    });
    assert.ok(Math.abs(out.loss.item() - shown) <= 1e-5 * shown, `Node ${out.loss.item()}, the page ${shown}`);
  });

  it("a dropped file that is not an image, and a checkpoint of another shape, get clear messages", async () => {
    const dataTransfer = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["hello"], "notes.txt", { type: "text/plain" }));
      return dt;
    });
    await page.dispatchEvent("body", "drop", { dataTransfer });
    await page.waitForFunction(() => document.getElementById("message")?.textContent?.includes("notes.txt"));
    assert.match(
      await message(),
      /"notes.txt" \(text\/plain\) is not an image this browser can decode: drop a PNG or JPEG/,
    );
    const config = JSON.parse(readFileSync(path.join(root, "playground/model/config.json"), "utf8"));
    await page.setInputFiles("#files", [
      {
        name: "config.json",
        mimeType: "application/json",
        buffer: Buffer.from(JSON.stringify({ ...config, hidden_size: 32 })),
      },
      {
        name: "model.safetensors",
        mimeType: "application/octet-stream",
        buffer: readFileSync(path.join(root, "playground/model/model.safetensors")),
      },
    ]);
    await page.waitForFunction(() => document.getElementById("message")?.textContent?.startsWith("Could not load"));
    assert.match(
      await message(),
      /^Could not load the checkpoint: model.safetensors: \d+ problem\(s\)[\s\S]*tensor "vit.embeddings.cls_token" has shape \[1, 1, 64\], expected \[1, 1, 32\]/,
    );
    assert.match(await page.textContent("#status").then((t) => t ?? ""), /random init/, "the model in use stays");
    assert.deepEqual(open.errors, []);
  });

  it("the shipped model again: training stops and resumes where it was (and the screenshot)", async () => {
    await page.click("#shipped");
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.includes("shipped"));
    assert.equal(await page.isHidden("#message"), true, "the message about the refused checkpoint is gone");
    await andLook(() => page.fill("#digit", "705").then(() => page.dispatchEvent("#digit", "change")));
    await page.fill("#lr", "0.0002");
    const trainUntil = async (n: number) => {
      await page.click("#train");
      await page.waitForFunction(
        (k) => JSON.parse(document.getElementById("loss-chart")?.dataset.points ?? "[]").length >= k,
        n,
        { timeout: 120_000 },
      );
      await page.click("#stop");
      await page.waitForSelector("#train:not([disabled])");
    };
    await trainUntil(4);
    await trainUntil(8);
    const points: [number, number][] = JSON.parse(await attr("#loss-chart", "data-points"));
    assert.deepEqual(
      points.map((p) => p[0]),
      points.map((_, i) => i + 1),
      "the steps go on from where training stopped",
    );
    // A small learning rate keeps the shipped model near where its pre-training ended (the running
    // mean of its losses, saved in its trainer_state.json).
    const { runningLoss } = JSON.parse(readFileSync(path.join(root, "playground/model/trainer_state.json"), "utf8"));
    assert.ok(
      points.every((p) => p[1] > 0.5 * runningLoss && p[1] < 2 * runningLoss),
      `${JSON.stringify(points)} against the saved running loss ${runningLoss}`,
    );
    await andLook(() => page.locator("#ratio").fill("0.75"));
    const shot = process.env.VITMAE_SCREENSHOT ?? path.join(dir, "playground.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.equal(readFileSync(shot).subarray(1, 4).toString(), "PNG");
  });
});
