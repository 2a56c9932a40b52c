#!/usr/bin/env node
/**
 * `pnpm -s esign`: runs the CLI as one plain-JavaScript bundle on node. tsx would load the same
 * TypeScript through a loader thread with its own heap (~45 MiB), which alone puts a one-off
 * signature of a large file over our memory budget. The bundle is built on first use and rebuilt
 * whenever a workspace source file is newer than it.
 */
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const cliRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const repoRoot = dirname(dirname(cliRoot));
const outDirectory = join(cliRoot, "dist");
const bundle = join(outDirectory, "esign.mjs");

async function newestSource(directory) {
  let newest = 0;
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestSource(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, (await stat(path)).mtimeMs);
  }
  return newest;
}

async function isStale() {
  const built = await stat(bundle).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built === 0) return true;
  // A change to this build script (externals, banner) also makes the bundle stale.
  if ((await stat(fileURLToPath(import.meta.url))).mtimeMs > built) return true;
  const packages = join(repoRoot, "packages");
  for (const name of await readdir(packages)) {
    const source = join(packages, name, "src");
    if ((await stat(source).catch(() => undefined))?.isDirectory() && (await newestSource(source)) > built)
      return true;
  }
  return false;
}

async function rebuild() {
  const { build } = await import("esbuild");
  const staging = join(outDirectory, `.build-${process.pid}`);
  await mkdir(staging, { recursive: true });
  await build({
    entryPoints: { esign: join(cliRoot, "src/main.ts") },
    outdir: staging,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    // Commands' dynamic imports become their own chunks: `sign` never loads the queue client.
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Bundled CommonJS packages (node-forge, pdf-lib) call require(). The alias keeps the banner's
    // import from clashing with sources that import createRequire themselves.
    banner: {
      js: 'import { createRequire as __bannerCreateRequire } from "node:module"; const require = __bannerCreateRequire(import.meta.url);',
    },
    // bullmq reads its Lua scripts, harfbuzzjs its wasm, pdf.js its worker, CMaps and font data
    // from their own folders at run time; they stay packages (the CLI depends on them for that).
    external: ["bullmq", "harfbuzzjs", "pdfjs-dist"],
    // pkcs11js is a native addon: copied beside the bundle.
    loader: { ".node": "copy" },
    logLevel: "error",
  });
  // Whole files appear at once, so a concurrent run never imports half a bundle; chunks of
  // earlier builds (other content hashes) are dropped.
  const built = new Set(await readdir(staging));
  for (const file of built) await rename(join(staging, file), join(outDirectory, file));
  await rm(staging, { recursive: true, force: true });
  for (const file of await readdir(outDirectory)) {
    if (!built.has(file) && !file.startsWith(".build-")) await rm(join(outDirectory, file), { force: true });
  }
}

if (await isStale()) await rebuild();
await import(pathToFileURL(bundle).href);
