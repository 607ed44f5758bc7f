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

/** What a sweep tells the cluster about one sandbox, as a Kubernetes Event (events.k8s.io/v1). */
export interface SweepEventContent {
  type: "Normal" | "Warning";
  /** Machine-readable, CamelCase (Kubernetes' convention for reasons). */
  reason: "SandboxRemoved" | "SandboxRemovalFailed";
  /** What was done (events.k8s.io's `action`). */
  action: "Delete";
  /** For people: which namespace, which sandbox, why; at most 1 KiB (the API's limit). */
  note: string;
}

/** The API server refuses an Event note longer than 1 KiB. */
export const MAX_EVENT_NOTE = 1024;

const REMOVE_WORDS: Record<string, string> = {
  expired: "its time was up (expires-at passed)",
  "pr-closed": "its pull request is closed",
  "branch-gone": "its branch is gone",
};

/**
 * The Event for a removed sandbox, or for one whose removal failed (a
 * Warning, with the error, so `kubectl get events` shows what needs a person).
 */
export function sweepEvent(
  item: { key: string; namespace: string } & ({ reason: string; error?: undefined } | { error: string; reason?: undefined }),
): SweepEventContent {
  if (item.error !== undefined) {
    return {
      type: "Warning",
      reason: "SandboxRemovalFailed",
      action: "Delete",
      note: clip(`could not remove sandbox ${item.key} (namespace ${item.namespace}): ${item.error}; the next sweep tries again`),
    };
  }
  const why = REMOVE_WORDS[item.reason] ?? item.reason;
  return {
    type: "Normal",
    reason: "SandboxRemoved",
    action: "Delete",
    note: clip(`removed sandbox ${item.key}: deleted namespace ${item.namespace} (${item.reason}: ${why})`),
  };
}

/** Cut to the limit in bytes (the API counts bytes; a branch name may not be ASCII). */
function clip(text: string): string {
  if (Buffer.byteLength(text, "utf8") <= MAX_EVENT_NOTE) return text;
  let cut = text.slice(0, MAX_EVENT_NOTE - 3);
  while (Buffer.byteLength(cut, "utf8") > MAX_EVENT_NOTE - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}
