// The reconcile's rules, table-driven: which deploys a pass queues from
// GitHub's open pull requests, branch heads and the existing sandboxes.
import { describe, expect, it } from "vitest";
import type { PullRequestFacts } from "../../src/domain/payload.js";
import { type ReconcileSandbox, reconcileActions } from "../../src/domain/reconcile.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const keyOf = (t: { branch: string; pullRequest?: number; fork: boolean }) => (t.fork ? `pr-${t.pullRequest}` : t.branch.replace("/", "-"));
const pr = (over: Partial<PullRequestFacts> = {}): PullRequestFacts => ({
  number: 7,
  branch: "feat/x",
  commit: A,
  fork: false,
  labels: [],
  state: "open",
  draft: false,
  merged: false,
  ...over,
});
const sandbox = (over: Partial<ReconcileSandbox> = {}): ReconcileSandbox => ({
  key: "feat-x",
  branch: "feat/x",
  pullRequest: 7,
  commit: A,
  status: "ready",
  terminating: false,
  ...over,
});
const run = (openPullRequests: PullRequestFacts[], sandboxes: ReconcileSandbox[], heads: Record<string, string> = {}) =>
  reconcileActions({ openPullRequests, sandboxes, branchHeads: new Map(Object.entries(heads)), keyOf });

describe("reconcileActions", () => {
  it("an open PR without a sandbox is deployed at its head", () => {
    expect(run([pr()], [])).toEqual([{ kind: "deploy-pull-request", number: 7, commit: A, why: expect.stringContaining("no sandbox") }]);
  });

  it("an open PR whose sandbox is at another commit is deployed at its head", () => {
    expect(run([pr({ commit: B })], [sandbox()])).toMatchObject([{ kind: "deploy-pull-request", number: 7, commit: B }]);
  });

  it("an open PR whose sandbox is at its head needs nothing (commits compare case-insensitively)", () => {
    expect(run([pr({ commit: A.toUpperCase() })], [sandbox()])).toEqual([]);
  });

  it("a failed deploy of the same commit is not retried every period", () => {
    expect(run([pr()], [sandbox({ status: "failed" })])).toEqual([]);
    expect(run([pr({ commit: B })], [sandbox({ status: "failed" })])).toHaveLength(1);
  });

  it("a terminating sandbox counts as missing", () => {
    expect(run([pr()], [sandbox({ terminating: true })])).toHaveLength(1);
  });

  it("a fork's PR is never deployed by the reconcile (its commit needs an approval event)", () => {
    expect(run([pr({ fork: true })], [])).toEqual([]);
  });

  it("a PR without a head commit, or closed, is skipped", () => {
    expect(run([pr({ commit: undefined }), pr({ number: 8, state: "closed" })], [])).toEqual([]);
  });

  it("a branch sandbox whose branch moved on is deployed at the new head", () => {
    const branchOnly = sandbox({ pullRequest: undefined });
    expect(run([], [branchOnly], { "feat/x": B })).toMatchObject([{ kind: "deploy-branch", branch: "feat/x", commit: B }]);
    expect(run([], [branchOnly], { "feat/x": A })).toEqual([]);
  });

  it("a branch that is gone, or a branch without a sandbox, gets nothing (the sweep removes, the push decides)", () => {
    expect(run([], [sandbox({ pullRequest: undefined })], {})).toEqual([]);
    expect(run([], [], { "feat/y": B })).toEqual([]);
  });

  it("a branch sandbox covered by an open PR is left to the PR's rule", () => {
    expect(run([pr({ commit: B })], [sandbox({ pullRequest: undefined })], { "feat/x": B })).toMatchObject([
      { kind: "deploy-pull-request" },
    ]);
  });
});
