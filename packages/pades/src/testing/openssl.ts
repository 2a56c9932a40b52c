import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { toPem } from "./pki";

const run = promisify(execFile);

/**
 * `openssl cms -verify` of a detached CMS over `content`, chaining to `root` (DER). The
 * independent judge for tests: resolves with openssl's verdict and its message.
 */
export async function opensslVerifyCms(
  cms: Uint8Array,
  content: Uint8Array,
  root: Uint8Array,
): Promise<{ ok: boolean; output: string }> {
  const directory = await mkdtemp(join(tmpdir(), "esign-openssl-"));
  try {
    const files = {
      cms: join(directory, "sig.p7s"),
      content: join(directory, "content.bin"),
      root: join(directory, "root.pem"),
    };
    await writeFile(files.cms, cms);
    await writeFile(files.content, content);
    await writeFile(files.root, toPem(root));
    const { stderr } = await run("openssl", [
      ...["cms", "-verify", "-binary", "-inform", "DER", "-in", files.cms, "-content", files.content],
      ...["-CAfile", files.root, "-purpose", "any", "-out", "/dev/null"],
    ]);
    return { ok: true, output: stderr };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr ?? error) };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
