// `npm run build`: the library for the web — dist/vitmae.js, an ES module bundle of src/universal.ts
// (the library without Node; the cpu backend's threads come from Web Workers), with its source map,
// and dist/types/, the type declarations that TypeScript emits for src/ (universal.d.ts is the entry).

import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Writes the browser bundle to `outfile`; returns its size in bytes and the names it exports. */
export async function buildBundle(outfile: string): Promise<{ bytes: number; exports: string[] }> {
  const result = await build({
    entryPoints: [path.join(root, "src/universal.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: true,
    metafile: true,
    logLevel: "warning",
  });
  const output = result.metafile.outputs[path.relative(process.cwd(), outfile)];
  return { bytes: output.bytes, exports: output.exports };
}

/** Emits the declarations of src/ into `outDir` (tsconfig.build.json), replacing what was there. */
export function buildTypes(outDir: string): void {
  rmSync(outDir, { recursive: true, force: true });
  const tsc = path.join(root, "node_modules/typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", outDir], {
    cwd: root,
    stdio: "inherit",
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { bytes } = await buildBundle(path.join(root, "dist/vitmae.js"));
  buildTypes(path.join(root, "dist/types"));
  console.log(`dist/vitmae.js (${(bytes / 1e6).toFixed(2)} MB) and dist/types/ written`);
}
