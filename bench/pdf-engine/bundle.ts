import { join } from "node:path";
import { build } from "esbuild";

/**
 * Bundles run-one.ts into plain JavaScript, so a child can run on `node` alone: tsx's module
 * hooks run on a loader thread with its own V8 heap (~45 MiB of RSS here), a cost of how we
 * start the process, not of the PDF engine. Returns the bundle's entry path.
 */
export async function bundleRunOne(outDirectory: string): Promise<string> {
  await build({
    entryPoints: { "run-one": join(import.meta.dirname, "run-one.ts") },
    outdir: outDirectory,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true, // each tool stays in its own chunk, loaded only by its own child
    platform: "node",
    format: "esm",
    target: "node20",
    // The bundled CommonJS packages (node-forge, pdf-lib, @signpdf) call require().
    banner: {
      js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
    },
    // pkcs11js (loaded with @esign/signers) is a native addon: copied beside the bundle.
    loader: { ".node": "copy" },
    logLevel: "error",
  });
  return join(outDirectory, "run-one.mjs");
}
