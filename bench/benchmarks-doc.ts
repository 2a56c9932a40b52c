import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "@esign/testkit";

/**
 * Replaces the section between `<!-- NAME:start -->` and `<!-- NAME:end -->` in docs/benchmarks.md
 * with `lines` (appends it when missing), so each benchmark rewrites its own figures and no other.
 * Returns the file's path.
 */
export async function writeBenchmarksSection(name: string, lines: string[]): Promise<string> {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = [start, ...lines, end].join("\n");
  const path = join(REPO_ROOT, "docs/benchmarks.md");
  const current = existsSync(path) ? await readFile(path, "utf8") : "# Benchmarks\n";
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`);
  const updated = pattern.test(current)
    ? current.replace(pattern, () => section)
    : `${current.trimEnd()}\n\n${section}\n`;
  await writeFile(path, updated);
  return path;
}
