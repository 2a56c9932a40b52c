import { REPO_ROOT, run } from "@esign/testkit";

/**
 * Runs the CLI's entry point in a fresh Node process. `pnpm -s esign` (the documented form) only adds
 * pnpm's own start-up around the same command; cli.test.ts runs it exactly that way once.
 */
export async function esign(args: string[], via: "node" | "pnpm" = "node") {
  const [command, prefix] =
    via === "pnpm"
      ? ["pnpm", ["-s", "esign"]]
      : [process.execPath, ["--import", "tsx", "packages/cli/src/main.ts"]];
  try {
    const { stdout, stderr } = await run(command, [...prefix, ...args], { cwd: REPO_ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
