import { join } from "node:path";
import { build } from "esbuild";
import { NODE_BUNDLE_OPTIONS } from "../../scripts/build.mjs";

/**
 * Bundles run-one.ts into plain JavaScript, so a child can run on `node` alone: tsx's module
 * hooks run on a loader thread with its own V8 heap (~45 MiB of RSS here), a cost of how we
 * start the process, not of the PDF engine. Returns the bundle's entry path.
 */
export async function bundleRunOne(outDirectory: string): Promise<string> {
  await build({
    // As the services are bundled, @signpdf's CommonJS packages included.
    ...NODE_BUNDLE_OPTIONS,
    entryPoints: { "run-one": join(import.meta.dirname, "run-one.ts") },
    outdir: outDirectory,
    outExtension: { ".js": ".mjs" },
    splitting: true, // each tool stays in its own chunk, loaded only by its own child
  });
  return join(outDirectory, "run-one.mjs");
}
