#!/usr/bin/env node
/**
 * `pnpm -s esign`: runs the CLI as one plain-JavaScript bundle on node. tsx would load the same
 * TypeScript through a loader thread with its own heap (~45 MiB), which alone puts a one-off
 * signature of a large file over our memory budget. The bundle is built on first use and rebuilt
 * whenever a workspace source file is newer than it (scripts/build.mjs, shared with `pnpm start`).
 */
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "../../../scripts/build.mjs";

await build(["cli"], { ifStale: true });
await import(pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), "../dist/esign.mjs")).href);
