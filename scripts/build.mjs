#!/usr/bin/env node
/**
 * Builds the services and the CLI into plain JavaScript: one esbuild bundle per entry point, so
 * production runs `node services/<name>/dist/main.js` without tsx, whose loader thread alone costs
 * ~45 MiB of RSS per process. Plain JavaScript with JSDoc types, so that it runs on node before
 * anything is built; `pnpm typecheck` checks it. Used by `pnpm build`, `pnpm start` and `pnpm -s
 * esign` (packages/cli/bin/esign.mjs).
 *
 *   node scripts/build.mjs                       every target (`pnpm build`)
 *   node scripts/build.mjs --if-stale api cli    the named targets, only if missing or out of date
 *
 * Targets are found, not listed: every `services/<name>/src/main.ts` builds to
 * `services/<name>/dist/main.js`, and the CLI to `packages/cli/dist/esign.mjs`. A service that
 * serves the gateway (esign-api itself, or one that depends on it) also gets the browser pages'
 * assets in `dist/web/` (see WEB_SOURCES), where the gateway looks for them beside its bundle.
 */
import { cp, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { createRequire, isBuiltin } from "node:module";
import { dirname, join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const REPO_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * Packages left in node_modules instead of the bundle, because they find files beside themselves
 * at run time, which a bundle in `dist/` would look for in the wrong place:
 * - bullmq: sandboxed processors fork `classes/main.js` from its own folder, and its msgpackr
 *   loads the optional native decoder (msgpackr-extract) relative to its own folder; bundled, it
 *   silently falls back to JavaScript. (Its Lua scripts are compiled into its JavaScript.)
 * - @fastify/swagger-ui: serves `/docs` from its `static/` folder.
 * - @bull-board/api: finds the dashboard's assets with `require.resolve("@bull-board/ui/...")`,
 *   which only resolves from its own folder; the fastify adapter goes with it.
 * - harfbuzzjs: loads `harfbuzz.wasm` from its own folder (and @esign/appearance resolves its
 *   `harfbuzz-subset.wasm`); pdfjs-dist: starts its worker from `pdf.worker.mjs` beside itself and
 *   reads CMaps and font data from its folder. @esign/appearance also resolves the default font
 *   file of @expo-google-fonts/noto-sans-sc: a target that bundles it lists all three.
 * pino, ioredis, fastify and the AWS SDK are bundled: pino reaches for files of its own only for
 * transports (worker threads), which we do not use. pkcs11js is a native addon: bundled, with
 * its `.node` file copied beside the bundle.
 */
const EXTERNAL_PACKAGES = [
  "bullmq",
  "ioredis",
  "@fastify/swagger-ui",
  "@bull-board/api",
  "@bull-board/fastify",
  "harfbuzzjs",
  "pdfjs-dist",
];

/**
 * esbuild options every plain-node bundle of ours shares (the services, the CLI, the benchmarks).
 * @satisfies {import("esbuild").BuildOptions}
 */
export const NODE_BUNDLE_OPTIONS = /** @type {const} */ ({
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Bundled CommonJS packages (node-forge, pdf-lib, fastify's dependencies) call require(). The
  // alias keeps the banner's import from clashing with sources that import createRequire themselves.
  banner: {
    js: 'import { createRequire as __bannerCreateRequire } from "node:module"; const require = __bannerCreateRequire(import.meta.url);',
  },
  loader: { ".node": "copy" },
  logLevel: "error",
});

/**
 * The signer page and the operator console: browser TypeScript, bundled with PDF.js into ES
 * modules the gateway serves from its own origin (no CDN), next to PDF.js's worker, CMaps and
 * standard fonts, which PDF.js fetches by URL at run time.
 */
const WEB_SOURCES = join(REPO_ROOT, "services/api/web");
const WEB_ENTRY_POINTS = { signer: "signer.ts", console: "console.ts", style: "style.css" };
/** Files and folders of pdfjs-dist the page fetches, copied as they are. */
const PDFJS_ASSETS = ["build/pdf.worker.min.mjs", "cmaps", "standard_fonts", "wasm", "iccs"];

/**
 * esbuild options of the browser bundles.
 * @satisfies {import("esbuild").BuildOptions}
 */
const WEB_BUNDLE_OPTIONS = /** @type {const} */ ({
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  minify: true,
  logLevel: "error",
});

/**
 * @typedef {object} Target
 * @property {string} name          what `--if-stale NAME` calls it: the package's folder name
 * @property {string} directory     the package's folder; the output goes to its `dist/`
 * @property {Record<string, string>} entryPoints  output name → source, relative to `directory`
 * @property {".js" | ".mjs"} extension
 * @property {boolean} splitting    dynamic imports become chunks loaded on demand
 * @property {boolean} web          the bundle contains the gateway: the pages go to `dist/web/`
 */

/** @param {string} path */
const exists = (path) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** @returns {Promise<Target[]>} */
async function findTargets() {
  /** @type {Target[]} */
  const targets = [];
  const services = join(REPO_ROOT, "services");
  for (const name of (await readdir(services)).sort()) {
    const directory = join(services, name);
    if (await exists(join(directory, "src/main.ts"))) {
      const manifest = JSON.parse(await readFile(join(directory, "package.json"), "utf8"));
      targets.push({
        name,
        directory,
        entryPoints: { main: "src/main.ts" },
        extension: ".js",
        splitting: false,
        web: manifest.name === "esign-api" || Boolean(manifest.dependencies?.["esign-api"]),
      });
    }
  }
  targets.push({
    name: "cli",
    directory: join(REPO_ROOT, "packages/cli"),
    entryPoints: { esign: "src/main.ts" },
    // `.mjs`: `pnpm -s esign` imports it by path from bin/esign.mjs.
    extension: ".mjs",
    // Commands' dynamic imports become their own chunks: `sign` never loads the queue client.
    splitting: true,
    web: false,
  });
  return targets;
}

/** @param {Target} target @param {string} entry */
const outputPath = (target, entry) => join(target.directory, "dist", `${entry}${target.extension}`);

/**
 * Newest modification time among the files and folders below `path` (a deletion touches its folder).
 * @param {string} path @returns {Promise<number>}
 */
async function newestBelow(path) {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  let newest = info.mtimeMs;
  if (info.isDirectory()) {
    for (const entry of await readdir(path)) newest = Math.max(newest, await newestBelow(join(path, entry)));
  }
  return newest;
}

/**
 * Newest input of any bundle: every workspace package's sources and manifest, the lockfile (a
 * dependency upgrade) and this script. A target counts as stale when anything changed anywhere,
 * which rebuilds a little more often than needed and never too seldom.
 */
async function newestInput() {
  let newest = Math.max(
    await newestBelow(join(REPO_ROOT, "pnpm-lock.yaml")),
    await newestBelow(fileURLToPath(import.meta.url)),
  );
  for (const group of ["packages", "services"]) {
    for (const name of await readdir(join(REPO_ROOT, group))) {
      const directory = join(REPO_ROOT, group, name);
      newest = Math.max(
        newest,
        await newestBelow(join(directory, "src")),
        await newestBelow(join(directory, "web")),
        await newestBelow(join(directory, "package.json")),
      );
    }
  }
  return newest;
}

/** @param {Target} target @param {number} newestSource */
async function isStale(target, newestSource) {
  for (const entry of Object.keys(target.entryPoints)) {
    const built = await stat(outputPath(target, entry)).catch(() => undefined);
    if (!built || built.mtimeMs < newestSource) return true;
  }
  return false;
}

/** The package a bare import names: `@scope/name/sub` → `@scope/name`. @param {string} specifier */
const packageOf = (specifier) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");

/**
 * A package left out of the bundle is imported at run time from the package's own node_modules,
 * so it must be one of the package's dependencies (pnpm links nothing else there).
 * @param {Target} target @param {import("esbuild").Metafile} metafile
 */
async function checkExternalsResolvable(target, metafile) {
  const manifest = JSON.parse(await readFile(join(target.directory, "package.json"), "utf8"));
  const missing = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const { path, external } of output.imports) {
      if (
        external &&
        !isBuiltin(path) &&
        !path.startsWith(".") &&
        !manifest.dependencies?.[packageOf(path)]
      ) {
        missing.add(packageOf(path));
      }
    }
  }
  if (missing.size > 0) {
    const where = relative(REPO_ROOT, join(target.directory, "package.json"));
    throw new Error(
      `${target.name}: ${[...missing].join(", ")} stay(s) outside the bundle (EXTERNAL_PACKAGES in scripts/build.mjs) and must be listed in ${where} "dependencies"`,
    );
  }
}

/** @param {number} pid */
const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === "EPERM";
  }
};

/**
 * Builds into a private staging folder, then moves the files into `dist/`: whole files appear at
 * once, so a process starting meanwhile never imports half a bundle. Files of earlier builds
 * (other chunk hashes, renamed entries) and staging folders of killed builds are removed.
 * @param {typeof import("esbuild")} esbuild @param {Target} target
 */
async function buildTarget(esbuild, target) {
  const startedAt = new Date();
  const outDirectory = join(target.directory, "dist");
  const staging = join(outDirectory, `.build-${process.pid}`);
  await mkdir(staging, { recursive: true });
  try {
    const { metafile } = await esbuild.build({
      ...NODE_BUNDLE_OPTIONS,
      absWorkingDir: target.directory,
      entryPoints: target.entryPoints,
      outdir: staging,
      outExtension: { ".js": target.extension },
      splitting: target.splitting,
      external: EXTERNAL_PACKAGES,
      // For debugging: `node --enable-source-maps` maps stack traces to the TypeScript. Not on by
      // default, as node then parses the whole map at load (+110 MiB RSS for the api). The sources
      // are in the checkout and the image, so the maps need not carry them.
      sourcemap: true,
      sourcesContent: false,
      metafile: true,
    });
    await checkExternalsResolvable(target, /** @type {import("esbuild").Metafile} */ (metafile));
    if (target.web) await buildWeb(esbuild, join(staging, "web"));
    const built = new Set(await readdir(staging));
    for (const file of built) {
      // Dated to the build's start: a source saved while esbuild ran still counts as newer.
      await utimes(join(staging, file), startedAt, startedAt);
      // A folder (web/) replaces the old one whole: rename cannot move onto a folder with files.
      if ((await stat(join(staging, file))).isDirectory()) {
        await rm(join(outDirectory, file), { recursive: true, force: true });
      }
      await rename(join(staging, file), join(outDirectory, file));
    }
    for (const file of await readdir(outDirectory)) {
      // Another staging folder is left by a killed build, unless its build is still running.
      const running = file.startsWith(".build-") && isAlive(Number(file.slice(".build-".length)));
      if (!built.has(file) && !running) await rm(join(outDirectory, file), { recursive: true, force: true });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The browser pages into `outDirectory`: our bundles, and PDF.js's worker and data as pdfjs-dist
 * ships them (resolved from esign-api, whose dependency it is).
 * @param {typeof import("esbuild")} esbuild @param {string} outDirectory
 */
async function buildWeb(esbuild, outDirectory) {
  await esbuild.build({
    ...WEB_BUNDLE_OPTIONS,
    absWorkingDir: WEB_SOURCES,
    entryPoints: WEB_ENTRY_POINTS,
    outdir: outDirectory,
    sourcemap: true,
    sourcesContent: false,
  });
  const pdfjs = dirname(
    createRequire(join(WEB_SOURCES, "..", "package.json")).resolve("pdfjs-dist/package.json"),
  );
  for (const asset of PDFJS_ASSETS) {
    const name = asset.split("/").pop() ?? asset;
    await cp(join(pdfjs, asset), join(outDirectory, name), { recursive: true });
  }
}

/**
 * Builds the named targets (all when `names` is empty); with `ifStale`, only those whose output is
 * missing or older than a source.
 * @param {string[]} names @param {{ ifStale?: boolean }} options
 */
export async function build(names, { ifStale = false } = {}) {
  // Staleness is judged inside the lock: a build that waited finds the bundles another just made.
  return oneBuildAtATime(() => buildUnlocked(names, ifStale));
}

/** @param {string[]} names @param {boolean} ifStale */
async function buildUnlocked(names, ifStale) {
  const targets = await findTargets();
  const unknown = names.filter((name) => !targets.some((target) => target.name === name));
  if (unknown.length > 0) {
    throw new Error(`unknown build target ${unknown.join(", ")} (${targets.map((t) => t.name).join(", ")})`);
  }
  let chosen = names.length === 0 ? targets : targets.filter((target) => names.includes(target.name));
  if (ifStale) {
    const newestSource = await newestInput();
    const stale = await Promise.all(chosen.map((target) => isStale(target, newestSource)));
    chosen = chosen.filter((_, index) => stale[index]);
  }
  if (chosen.length === 0) return;
  const esbuild = await import("esbuild");
  try {
    await Promise.all(chosen.map((target) => buildTarget(esbuild, target)));
  } finally {
    // The JavaScript API keeps an esbuild child process running; the CLI goes on to run in this
    // process, which must not carry it along.
    await esbuild.stop();
  }
}

/**
 * Runs `work` while holding the checkout's build lock: the e2e tests start several agents (and
 * CLIs) at once, and each would otherwise build the same stale bundles. The lock only saves work;
 * staging keeps concurrent builds correct, so a lock whose holder died is taken over, and after
 * two minutes of waiting the build goes ahead regardless.
 * @template T @param {() => Promise<T>} work @returns {Promise<T>}
 */
async function oneBuildAtATime(work) {
  const lock = join(REPO_ROOT, "node_modules/.esign-build.lock");
  for (const giveUpAt = Date.now() + 120_000; Date.now() < giveUpAt; ) {
    const acquired = await writeFile(lock, String(process.pid), { flag: "wx" }).then(
      () => true,
      (error) => {
        if (error.code === "EEXIST") return false;
        throw error;
      },
    );
    if (acquired) {
      try {
        return await work();
      } finally {
        await rm(lock, { force: true });
      }
    }
    const holder = Number(await readFile(lock, "utf8").catch(() => ""));
    if (holder > 0 && !isAlive(holder)) await rm(lock, { force: true });
    else await sleep(200);
  }
  return work();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    options: { "if-stale": { type: "boolean", default: false } },
    allowPositionals: true,
  });
  await build(positionals, { ifStale: values["if-stale"] });
}
