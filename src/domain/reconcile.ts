// Level-triggered repair, pure: given what GitHub says is open and where each
// branch is, and what sandboxes exist, which deploys are missing. Removal is
// not decided here: the sweep (domain/sweep.ts) already removes what is
// expired, whose pull request is closed or whose branch is gone, and the
// reconcile runs it. Every action becomes an event for the shared handler,
// so a repair is handled exactly as the lost delivery would have been.
import type { PullRequestFacts } from "./payload.js";

export interface ReconcileSandbox {
  key: string;
  branch?: string;
  pullRequest?: number;
  commit?: string;
  status?: string;
  terminating: boolean;
}

export type ReconcileAction =
  | { kind: "deploy-pull-request"; number: number; commit: string; why: string }
  | { kind: "deploy-branch"; branch: string; commit: string; why: string };

export interface ReconcileInput {
  openPullRequests: PullRequestFacts[];
  branchHeads: ReadonlyMap<string, string>;
  sandboxes: ReconcileSandbox[];
  /** The sandbox key a same-repository branch or PR maps to (operations/namespace.ts identityFor). */
  keyOf: (target: { branch: string; pullRequest?: number; fork: boolean }) => string;
}

/**
 * - An open pull request from this repository without a sandbox, or whose
 *   sandbox is at another commit: deploy its head.
 * - A branch sandbox (no pull request) whose branch moved on: deploy the new head.
 * - A fork's pull request: nothing. Its deploys need a maintainer's approval
 *   of the exact commit, which only the approval events carry.
 * - A sandbox whose last deploy of the same commit failed: nothing. Retrying
 *   it every period would hide the failure behind churn; a push or
 *   `/sandbox redeploy` retries it.
 * - A branch without a pull request and without a sandbox: nothing. Whether
 *   it wants a preview was decided by its push, which is not a fact GitHub
 *   keeps.
 */
export function reconcileActions(input: ReconcileInput): ReconcileAction[] {
  const byKey = new Map(input.sandboxes.filter((s) => !s.terminating).map((s) => [s.key, s]));
  const actions: ReconcileAction[] = [];
  const covered = new Set<string>();
  for (const pr of input.openPullRequests) {
    if (pr.fork || !pr.commit || pr.state === "closed") continue;
    const key = input.keyOf({ branch: pr.branch, pullRequest: pr.number, fork: false });
    covered.add(key);
    const sandbox = byKey.get(key);
    const short = pr.commit.slice(0, 12);
    if (!sandbox)
      actions.push({
        kind: "deploy-pull-request",
        number: pr.number,
        commit: pr.commit,
        why: `pull request #${pr.number} is open and has no sandbox`,
      });
    else if (!sameCommit(sandbox.commit, pr.commit) && !failedAt(sandbox, pr.commit))
      actions.push({
        kind: "deploy-pull-request",
        number: pr.number,
        commit: pr.commit,
        why: `pull request #${pr.number} is at ${short}, its sandbox at ${sandbox.commit?.slice(0, 12) ?? "no commit"}`,
      });
  }
  for (const sandbox of byKey.values()) {
    if (covered.has(sandbox.key) || sandbox.pullRequest !== undefined || !sandbox.branch) continue;
    const head = input.branchHeads.get(sandbox.branch);
    if (!head || sameCommit(sandbox.commit, head) || failedAt(sandbox, head)) continue;
    if (input.keyOf({ branch: sandbox.branch, fork: false }) !== sandbox.key) continue;
    actions.push({
      kind: "deploy-branch",
      branch: sandbox.branch,
      commit: head,
      why: `branch ${sandbox.branch} is at ${head.slice(0, 12)}, its sandbox at ${sandbox.commit?.slice(0, 12) ?? "no commit"}`,
    });
  }
  return actions;
}

function sameCommit(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

function failedAt(sandbox: ReconcileSandbox, commit: string): boolean {
  return sandbox.status === "failed" && sameCommit(sandbox.commit, commit);
}
