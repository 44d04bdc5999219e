// Issue 13 for `vitmae finetune` and `vitmae eval`, as test/cli/safety.test.ts checks pretrain: SIGTERM saves,
// unreadable images are named before step 1 (or skipped with --skip-bad-images), a step that fails saves the
// run so far, a resume refuses what would silently change the run, and eval writes over nothing it did not make.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadFinetuneCheckpoint } from "../../src/train/finetune.ts";
import { logLosses, runCli, snapshot, writeLabelledFolder, writeSmallConfig } from "../helpers/pretrainFixture.ts";

const root = mkdtempSync(join(tmpdir(), "vitmae-cli-finetune-safety-"));
after(() => rmSync(root, { recursive: true, force: true }));
const at = (...parts: string[]) => join(root, ...parts);

const data = writeLabelledFolder(at("data"));
const init = at("init"); // a fresh pre-training checkpoint
const run = at("run"); // a 2-step fine-tuning run, made once
// 24 images, 6 held out, 18 to train: batch 4 → 4 steps per epoch
const common = ["finetune", "--data", data, "--val-fraction", "0.25", "--batch-size", "4", "--seed", "3"];

/** The one stderr line of a failed command, checked to be one line starting with the command's name. */
async function fails(argv: string[], why: RegExp): Promise<string> {
  const r = await runCli(argv);
  const label = argv.join(" ").replaceAll(root, "…");
  assert.notEqual(r.code, 0, `${label} must fail; stdout: ${r.stdout.join("\n")}`);
  assert.equal(r.stderr.length, 1, `${label}: one message, got ${JSON.stringify(r.stderr)}`);
  assert.ok(!r.stderr[0].includes("\n"), `${label}: one line, got ${JSON.stringify(r.stderr[0])}`);
  assert.match(r.stderr[0], new RegExp(`^vitmae ${argv[0]}: `), label);
  assert.match(r.stderr[0], why, label);
  return r.stderr[0];
}

async function succeeds(argv: string[]): Promise<string[]> {
  const r = await runCli(argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr.join("\n")}`);
  return r.stdout;
}

/** A copy of the labelled folder with `names` (class/file) cut short, as a disk or a download leaves them. */
function withBadImages(name: string, names: readonly string[]): string {
  const dir = writeLabelledFolder(at(name));
  for (const n of names) writeFileSync(join(dir, n), readFileSync(join(dir, n)).subarray(0, 60));
  return dir;
}

before(async () => {
  await succeeds(["init", "--config", writeSmallConfig(at("config.json")), "--out", init]);
  await succeeds([...common, "--model", init, "--steps", "2", "--checkpoint-every", "1", "--out", run]);
});

test("SIGTERM (a scheduler, docker stop) saves like Ctrl-C and exits 143; --resume finishes the run", async () => {
  const out = at("sigterm");
  const before = process.listeners("SIGTERM");
  const r = await runCli([...common, "--model", init, "--epochs", "2", "--out", out], (line) => {
    if (!line.startsWith("step 3/")) return;
    for (const handler of process.listeners("SIGTERM").filter((l) => !before.includes(l))) (handler as () => void)();
  });
  assert.equal(r.code, 143, r.stderr.join("\n"));
  assert.match(r.stderr[0], /interrupted \(SIGTERM\) at step 3\/8: checkpoint saved in .*; continue with --resume /);
  assert.equal(loadFinetuneCheckpoint(out).state.step, 3);
  assert.equal(logLosses(out).length, 3, "the checkpoint is at the log's last step");
  assert.deepEqual(process.listeners("SIGTERM"), before, "the run's listeners are gone");
  await succeeds([...common, "--resume", out, "--out", out]);
  assert.equal(loadFinetuneCheckpoint(out).state.step, 8);
});

test("unreadable images are all named before step 1, nothing written; --skip-bad-images leaves them out, counted", async () => {
  const bad = withBadImages("bad-data", ["bright/3.png", "dark/7.png"]);
  const out = at("bad-run");
  const argv = [...common.map((a) => (a === data ? bad : a)), "--model", init, "--steps", "2", "--out", out];
  await fails(
    argv,
    /--data .*bad-data: 2 of 24 images cannot be read \(.*bright\/3\.png: truncated PNG.*dark\/7\.png: truncated PNG.*\).*--skip-bad-images/,
  );
  assert.ok(!existsSync(out), "nothing written before step 1");
  const stdout = await succeeds([...argv, "--skip-bad-images"]);
  assert.match(
    stdout.find((l) => l.startsWith("skipping")) ?? stdout.join("\n"),
    /^skipping 2 of 24 images that cannot be read: .*bright\/3\.png.*dark\/7\.png/,
  );
  // --val-data is checked the same way, and named as such.
  await fails(
    [...common, "--model", init, "--steps", "1", "--val-data", bad, "--out", at("bad-val")],
    /--val-data .*bad-data: 2 of 24 images cannot be read/,
  );
  // eval: the same scan and flag; the accuracy is over the readable images only.
  const model = join(run, "checkpoint");
  await fails(["eval", "--model", model, "--data", bad, "--out", at("bad.png")], /2 of 24 images cannot be read/);
  assert.ok(!existsSync(at("bad.png")));
  const evalOut = await succeeds([
    "eval",
    "--model",
    model,
    "--data",
    bad,
    "--out",
    at("bad.png"),
    "--skip-bad-images",
  ]);
  assert.match(evalOut.at(-1)!, /on 22 images/);
});

test("an image that goes bad mid-run stops it with the run so far saved; --resume --skip-bad-images goes on", async () => {
  const flaky = writeLabelledFolder(at("flaky-data"));
  const out = at("flaky-run");
  // No held-out part, 6 steps per epoch, 2 epochs: the file is read again after it goes bad.
  const argv = [
    ...common.map((a) => (a === data ? flaky : a === "0.25" ? "0" : a)),
    "--model",
    init,
    "--epochs",
    "2",
    "--out",
    out,
  ];
  const r = await runCli(argv, (line) => {
    if (line.startsWith("step 2/")) writeFileSync(join(flaky, "dark", "5.png"), "no longer a picture");
  });
  assert.equal(r.code, 1, r.stdout.join("\n"));
  assert.equal(r.stderr.length, 1, JSON.stringify(r.stderr));
  const m = new RegExp(
    String.raw`^vitmae finetune: image ".*dark/5\.png": not a PNG or JPEG file.*\(at step (\d+); the run up to step (\d+) ` +
      "is saved in .*\\); fix or remove the file, or pass --skip-bad-images; then continue with --resume ",
  ).exec(r.stderr[0]);
  assert.ok(m, r.stderr[0]);
  const [failedAt, savedAt] = [Number(m[1]), Number(m[2])];
  assert.ok(failedAt >= 3 && savedAt === failedAt - 1, `failed at ${failedAt}, saved ${savedAt}`);
  assert.equal(loadFinetuneCheckpoint(out).state.step, savedAt);
  const resumed = await runCli(["finetune", "--skip-bad-images", "--resume", out, "--out", out]);
  assert.equal(resumed.code, 0, resumed.stderr.join("\n"));
  assert.match(
    resumed.stdout.find((l) => l.startsWith("skipping")) ?? resumed.stdout.join("\n"),
    /^skipping 1 of 24 images that cannot be read: .*dark\/5\.png/,
  );
  assert.equal(loadFinetuneCheckpoint(out).state.step, 12);
});

test("--resume refuses another --data, --val-data, --val-fraction, --limit, --model or --cls-token, naming saved and given", async () => {
  const other = writeLabelledFolder(at("other-data"));
  const copy = at("run-copy");
  execFileSync("cp", ["-r", run, copy]);
  const otherModel = at("other-init");
  execFileSync("cp", ["-r", init, otherModel]);
  const saved = snapshot(copy);
  const resume = ["finetune", "--resume", copy, "--out", copy];
  for (const [extra, why] of [
    [["--data", other], /--data: saved ".*\/data", given ".*other-data"/],
    [["--val-fraction", "0.5"], /--val-fraction: saved 0\.25, given 0\.5/],
    [["--limit", "20"], /--limit: saved null, given 20/],
    [["--val-data", other], /--val-data: saved null, given ".*other-data"/],
    [["--model", otherModel], /--model: saved ".*\/init", given ".*other-init"/],
    [["--cls-token"], /--cls-token: saved false, given true/],
    [["--seed", "4", "--val-fraction", "0.5"], /\(--seed: saved 3, now 4; --val-fraction: saved 0\.25, given 0\.5\)/],
  ] as const) {
    await fails([...resume, ...extra], new RegExp(`--resume needs the flags of the original run .*${why.source}`));
  }
  assert.deepEqual(snapshot(copy), saved, "refused resumes change nothing");
  // The same values given again, or none: the saved run's own.
  await succeeds([...resume, "--data", `${data}/`, "--val-fraction", "0.25", "--model", init]);
  await succeeds(resume);
});

test("an edited trainer_state.json is one line naming the field; a fresh run never truncates an earlier run's log", async () => {
  const copy = at("edited");
  execFileSync("cp", ["-r", run, copy]);
  const statePath = join(copy, "checkpoint", "trainer_state.json");
  const state = JSON.parse(readFileSync(statePath, "utf8"));
  state.hyper.lr = -5;
  delete state.hyper.layerDecay;
  writeFileSync(statePath, JSON.stringify(state));
  await fails(
    ["finetune", "--resume", copy, "--out", copy],
    /trainer_state\.json: 2 problem\(s\): hyper\.lr: -5 \(must be a finite number >= 0\); hyper\.layerDecay: missing/,
  );
  const earlier = at("earlier");
  mkdirSync(earlier);
  writeFileSync(join(earlier, "log.jsonl"), '{"step":1,"loss":1}\n');
  await fails([...common, "--model", init, "--steps", "1", "--out", earlier], /earlier\/log\.jsonl.*--overwrite/);
  assert.equal(readFileSync(join(earlier, "log.jsonl"), "utf8"), '{"step":1,"loss":1}\n');
  await succeeds([...common, "--model", init, "--steps", "1", "--overwrite", "--out", earlier]);
});

test("a model or batch too large for this machine is refused before training, by field and estimate", async () => {
  await fails(
    [...common, "--model", init, "--steps", "1", "--batch-size", "100000000", "--out", at("huge")],
    /cannot train this model \(--batch-size 100000000\): .*(TB|PB).*hidden_size 16.*num_labels 2/,
  );
  assert.ok(!existsSync(at("huge")));
  await fails(
    ["eval", "--model", run, "--data", data, "--batch-size", "100000000", "--out", at("huge.png")],
    /cannot run this model \(--batch-size 100000000\)/,
  );
});

test("eval writes over no file it did not make without --overwrite, never inside a checkpoint folder", async () => {
  const png = at("mine.png");
  const json = at("mine.json");
  writeFileSync(png, "keep me");
  writeFileSync(json, "and me");
  const evalOf = (...extra: string[]) => ["eval", "--model", run, "--data", data, "--limit", "4", ...extra];
  await fails(evalOf("--out", png), /mine\.png already exists; pass --overwrite/);
  await fails(evalOf("--out", at("new.png"), "--json", json), /mine\.json already exists; pass --overwrite/);
  assert.equal(readFileSync(png, "utf8"), "keep me");
  assert.equal(readFileSync(json, "utf8"), "and me");
  assert.ok(!existsSync(at("new.png")), "refused before anything is written");
  const saved = snapshot(run);
  for (const extra of [[], ["--overwrite"]]) {
    await fails(evalOf("--out", join(run, "checkpoint", "confusion.png"), ...extra), /inside the checkpoint folder/);
    await fails(evalOf("--out", at("c.png"), "--json", join(run, "checkpoint", "r.json"), ...extra), /inside the/);
    await fails(evalOf("--out", at("same"), "--json", at("same"), ...extra), /--json and --out are both/);
  }
  assert.deepEqual(snapshot(run), saved, "the run is untouched");
  await succeeds(evalOf("--out", png, "--json", json, "--overwrite"));
  assert.ok(readFileSync(png).subarray(1, 4).equals(Buffer.from("PNG")), "--overwrite replaces the PNG");
  assert.equal(JSON.parse(readFileSync(json, "utf8")).count, 4);
});
