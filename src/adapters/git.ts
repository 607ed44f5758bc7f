// The one question the engine asks git: which commit a directory is at.
// Through the exec seam (argument arrays only), like every other tool.
import type { Runner } from "./exec.js";

/**
 * The commit checked out in `dir` (or the repository containing it), or
 * undefined when it is not a git work tree or git cannot say (not
 * installed, a repository owned by another user). The caller treats
 * undefined as "cannot be verified" and refuses to build.
 */
export async function headCommit(run: Runner, dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await run("git", ["-C", dir, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"], { timeoutMs: 30_000 });
    const commit = stdout.trim();
    return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}
