// `npm run build` (scripts/build.ts): the browser bundle exports the public API and imports nothing
// from Node; the declarations it emits serve the package's "browser" export to a TypeScript user, with
// the shapes in the types (a mismatched matmul is a compile error there too).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { buildBundle, buildTypes } from "../../scripts/build.ts";
import { repoRoot as root } from "../helpers/reference.ts";

test("the bundle exports the library's API and has no node: import", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vitmae-build-"));
  try {
    const { exports } = await buildBundle(path.join(dir, "vitmae.js"));
    for (const name of ["T", "grad", "valueAndGrad", "ViTMAEForPreTraining", "ViTMAEModel", "cpuReady", "setBackend"])
      assert.ok(exports.includes(name), `the bundle does not export ${name}`);
    assert.doesNotMatch(readFileSync(path.join(dir, "vitmae.js"), "utf8"), /["']node:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the declarations type a browser user's code through the package's exports", () => {
  buildTypes(path.join(root, "dist/types")); // where package.json's "browser" → "types" points
  assert.ok(existsSync(path.join(root, "dist/types/universal.d.ts")));
  const user = mkdtempSync(path.join(os.tmpdir(), "vitmae-types-"));
  try {
    mkdirSync(path.join(user, "node_modules"));
    symlinkSync(root, path.join(user, "node_modules/vitmae-ts"), "dir");
    writeFileSync(
      path.join(user, "main.ts"),
      `import { T, grad, ViTMAEForPreTraining, cpuReady } from "vitmae-ts";
await cpuReady();
const f = (x: T.Tensor) => T.sum(T.mul(x, x));
const dx: T.Tensor = grad(f)(T.ones([2, 3]));
const n: number = dx.shape[0];
const load: Promise<ViTMAEForPreTraining> = ViTMAEForPreTraining.fromUrl("./model/");
declare const a: T.Tensor<[2, 3]>;
declare const b: T.Tensor<[4, 5]>;
// @ts-expect-error: [2, 3] @ [4, 5] must not compile
T.matmul(a, b);
export { n, load };
`,
    );
    writeFileSync(
      path.join(user, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "ESNext",
          moduleResolution: "bundler",
          customConditions: ["browser"],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          lib: ["ES2022", "DOM"],
          types: [],
        },
        files: ["main.ts"],
      }),
    );
    const tsc = path.join(root, "node_modules/typescript/bin/tsc");
    let files = "";
    try {
      files = execFileSync(process.execPath, [tsc, "-p", user, "--listFiles"], { encoding: "utf8" });
    } catch (error) {
      assert.fail(`the user's code does not type-check:\n${(error as { stdout?: string }).stdout}`);
    }
    // Through the "browser" export: the emitted declarations, not the sources.
    assert.match(files, /dist\/types\/universal\.d\.ts/);
    assert.doesNotMatch(files, /\/src\/universal\.ts/);
  } finally {
    rmSync(user, { recursive: true, force: true });
  }
});
