import { describe, expect, it } from "vitest";
import type { SandboxRecord } from "../../src/domain/metadata.js";
import { type KeepReason, type RemoveReason, selectForSweep, type SweepFacts } from "../../src/domain/sweep.js";

const NOW = new Date("2025-03-10T12:00:00Z");
const PAST = new Date("2025-03-09T12:00:00Z");
const FUTURE = new Date("2025-03-11T12:00:00Z");

const rec = (over: Partial<SandboxRecord>): SandboxRecord => ({
  key: "k",
  namespace: "dev-sandbox-k",
  keep: false,
  terminating: false,
  ...over,
});
const open = new Set([1, 2]);
const branches = new Set(["main", "feature/alive"]);
const all: SweepFacts = { openPullRequests: open, existingBranches: branches };

type Row = { name: string; record: Partial<SandboxRecord>; facts: SweepFacts; remove?: RemoveReason; keep?: KeepReason };

describe("selectForSweep", () => {
  it.each<Row>([
    { name: "expired", record: { expiresAt: PAST }, facts: {}, remove: "expired" },
    { name: "expiring right now", record: { expiresAt: NOW }, facts: {}, remove: "expired" },
    { name: "fresh", record: { expiresAt: FUTURE }, facts: {}, keep: "active" },
    { name: "expired but kept", record: { expiresAt: PAST, keep: true }, facts: all, keep: "kept" },
    { name: "PR closed but kept", record: { expiresAt: FUTURE, pullRequest: 9, keep: true }, facts: all, keep: "kept" },
    { name: "expired and terminating", record: { expiresAt: PAST, terminating: true }, facts: all, keep: "terminating" },
    { name: "terminating and kept", record: { keep: true, terminating: true }, facts: all, keep: "terminating" },
    { name: "PR closed", record: { expiresAt: FUTURE, pullRequest: 9, branch: "main" }, facts: all, remove: "pr-closed" },
    { name: "PR open", record: { expiresAt: FUTURE, pullRequest: 1, branch: "gone" }, facts: all, keep: "active" },
    { name: "PR state unknown", record: { expiresAt: FUTURE, pullRequest: 9 }, facts: { existingBranches: branches }, keep: "active" },
    { name: "branch gone", record: { expiresAt: FUTURE, branch: "feature/dead" }, facts: all, remove: "branch-gone" },
    { name: "branch alive", record: { expiresAt: FUTURE, branch: "feature/alive" }, facts: all, keep: "active" },
    { name: "branch names are case-sensitive", record: { expiresAt: FUTURE, branch: "Main" }, facts: all, remove: "branch-gone" },
    { name: "branches unknown", record: { expiresAt: FUTURE, branch: "feature/dead" }, facts: { openPullRequests: open }, keep: "active" },
    { name: "no branch recorded", record: { expiresAt: FUTURE }, facts: all, keep: "active" },
    { name: "expired beats PR open", record: { expiresAt: PAST, pullRequest: 1 }, facts: all, remove: "expired" },
    { name: "no expiry, nothing known", record: {}, facts: {}, keep: "no-expiry" },
    { name: "invalid expiry date", record: { expiresAt: new Date("garbage") }, facts: {}, keep: "no-expiry" },
    { name: "no expiry but PR closed", record: { pullRequest: 9 }, facts: all, remove: "pr-closed" },
    { name: "no expiry but branch gone", record: { branch: "feature/dead" }, facts: all, remove: "branch-gone" },
    { name: "no expiry, PR open", record: { pullRequest: 2 }, facts: all, keep: "no-expiry" },
  ])("$name", ({ record, facts, remove, keep }) => {
    const r = rec(record);
    const result = selectForSweep([r], NOW, facts);
    if (remove) {
      expect(result.remove).toEqual([{ record: r, reason: remove }]);
      expect(result.keep).toEqual([]);
    } else {
      expect(result.keep).toEqual([{ record: r, reason: keep }]);
      expect(result.remove).toEqual([]);
    }
  });

  it("partitions a mixed list, keeping order", () => {
    const records = [
      rec({ key: "a", expiresAt: PAST }),
      rec({ key: "b", expiresAt: FUTURE }),
      rec({ key: "c", expiresAt: PAST, keep: true }),
      rec({ key: "d", expiresAt: PAST }),
      rec({ key: "e" }),
    ];
    const result = selectForSweep(records, NOW);
    expect(result.remove.map((x) => x.record.key)).toEqual(["a", "d"]);
    expect(result.keep.map((x) => `${x.record.key}:${x.reason}`)).toEqual(["b:active", "c:kept", "e:no-expiry"]);
  });

  it("handles an empty list", () => {
    expect(selectForSweep([], NOW)).toEqual({ remove: [], keep: [] });
  });
});
