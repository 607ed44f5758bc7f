// Which sandboxes a sweep removes. The rules err on the side of keeping: a
// sweep that deletes too little is fixed by the next run, one that deletes
// too much destroys someone's work. Records only exist for namespaces with
// our managed-by label (readSandboxRecord), so foreign ones never get here.
import { isExpired } from "./expiry.js";
import type { SandboxRecord } from "./metadata.js";

export type RemoveReason = "expired" | "pr-closed" | "branch-gone";
export type KeepReason = "terminating" | "kept" | "no-expiry" | "active";

export interface SweepFacts {
  /** Open PR numbers; when given, a sandbox of a PR not in it is removed. */
  openPullRequests?: Set<number>;
  /** Existing branch names; when given, a branch sandbox (no PR) whose branch is not in it is removed. */
  existingBranches?: Set<string>;
}

export interface SweepSelection {
  remove: { record: SandboxRecord; reason: RemoveReason }[];
  keep: { record: SandboxRecord; reason: KeepReason }[];
}

/**
 * Decide each record, in this order:
 * 1. terminating: Kubernetes is already deleting it; nothing to do (keep "terminating").
 * 2. keep=true: never removed, whatever else holds ("kept").
 * 3. expires-at passed: remove "expired".
 * 4. its PR is not open (when openPullRequests is known): remove "pr-closed".
 * 5. no PR, and its branch does not exist (when existingBranches is known): remove "branch-gone".
 * 6. no readable expires-at: keep "no-expiry". We cannot judge its age, so a
 *    person must (status lists it); the leak checks above still apply, because
 *    they rest on GitHub's facts, not on the annotation.
 * 7. otherwise keep "active".
 */
export function selectForSweep(records: SandboxRecord[], now: Date, facts: SweepFacts = {}): SweepSelection {
  const selection: SweepSelection = { remove: [], keep: [] };
  for (const record of records) {
    const verdict = decide(record, now, facts);
    if (verdict.remove) selection.remove.push({ record, reason: verdict.reason });
    else selection.keep.push({ record, reason: verdict.reason });
  }
  return selection;
}

type Verdict = { remove: true; reason: RemoveReason } | { remove: false; reason: KeepReason };

function decide(record: SandboxRecord, now: Date, facts: SweepFacts): Verdict {
  if (record.terminating) return { remove: false, reason: "terminating" };
  if (record.keep) return { remove: false, reason: "kept" };
  const expiresAt = record.expiresAt instanceof Date && !Number.isNaN(record.expiresAt.getTime()) ? record.expiresAt : undefined;
  if (expiresAt && isExpired(expiresAt, now)) return { remove: true, reason: "expired" };
  if (record.pullRequest !== undefined) {
    if (facts.openPullRequests && !facts.openPullRequests.has(record.pullRequest)) return { remove: true, reason: "pr-closed" };
  } else if (record.branch !== undefined && facts.existingBranches && !facts.existingBranches.has(record.branch)) {
    return { remove: true, reason: "branch-gone" };
  }
  return expiresAt ? { remove: false, reason: "active" } : { remove: false, reason: "no-expiry" };
}
