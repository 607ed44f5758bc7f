// The trust rules, table-driven: who may command and approve, when the
// checkout may be built, whether an image or an approval belongs to a
// commit, the cap, and whose sandbox a namespace is.
import { describe, expect, it } from "vitest";
import { repoHash } from "../../src/domain/metadata.js";
import {
  APPROVAL_CONTEXT,
  approvalShaProblem,
  approvalVerdict,
  buildContextProblem,
  buildRefusal,
  capacityProblem,
  type CommitStatusFact,
  commitTag,
  imageSourceFor,
  mayCommand,
  ownershipProblem,
  planForImageSupply,
  prebuiltImageProblem,
  staleCommitProblem,
} from "../../src/domain/trust.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("mayCommand", () => {
  it.each([
    ["admin", true],
    ["maintain", true],
    ["write", true],
    // Triage may label and close issues, but not run code in the cluster.
    ["triage", false],
    ["read", false],
    ["none", false],
    ["unknown", false],
    [undefined, false],
    ["WRITE", false],
  ])("%s -> %s", (permission, allowed) => {
    expect(mayCommand(permission)).toBe(allowed);
  });
});

describe("imageSourceFor and buildRefusal", () => {
  it.each([
    ["push", false, "build"],
    ["pull_request", false, "build"],
    ["workflow_dispatch", false, "build"],
    ["pull_request", true, "prebuilt"],
    ["workflow_dispatch", true, "prebuilt"],
    ["issue_comment", false, "prebuilt"],
    ["pull_request_target", false, "prebuilt"],
    ["pull_request_target", true, "prebuilt"],
    ["workflow_run", false, "prebuilt"],
    ["schedule", false, "prebuilt"],
  ])("%s (fork %s) -> %s", (event, fork, source) => {
    expect(imageSourceFor(event, { fork })).toBe(source);
  });

  it.each([
    ["push", undefined],
    ["pull_request", undefined],
    ["workflow_dispatch", undefined],
    ["pull_request_target", "hold secrets"],
    ["issue_comment", "hold secrets"],
    ["workflow_run", "hold secrets"],
  ])("command: build on %s", (event, refusal) => {
    const result = buildRefusal(event);
    if (refusal) expect(result).toContain(refusal);
    else expect(result).toBeUndefined();
  });
});

describe("planForImageSupply (the controller builds nothing)", () => {
  const deploy = { operation: "deploy", reason: "push", image: "build" as const };
  it("checkout (the Action) keeps the plan as it is", () => {
    expect(planForImageSupply(deploy, "checkout")).toEqual(deploy);
  });
  it("ci deploys the prebuilt image and remembers the event would have built", () => {
    expect(planForImageSupply(deploy, "ci")).toEqual({ ...deploy, image: "prebuilt", wantsBuild: true });
  });
  it("ci leaves a prebuilt deploy (workflow_run, comments) without wantsBuild, so a finished build never starts another", () => {
    const prebuilt = { operation: "deploy", reason: "workflow_run", image: "prebuilt" as const };
    expect(planForImageSupply(prebuilt, "ci")).toEqual(prebuilt);
  });
  it("ci turns command: build into a skip that says why", () => {
    const result = planForImageSupply({ operation: "build", reason: "command: build" }, "ci");
    expect(result.operation).toBe("skip");
    expect(result.reason).toContain("builds nothing");
  });
  it.each(["destroy", "extend", "status", "skip"])("ci leaves %s alone", (operation) => {
    const plan = { operation, reason: "x" };
    expect(planForImageSupply(plan, "ci")).toEqual(plan);
  });
});

describe("buildContextProblem (the HEAD check)", () => {
  it.each([
    { name: "HEAD is the target", expected: A, head: A, problem: undefined },
    { name: "case does not matter", expected: A.toUpperCase(), head: A, problem: undefined },
    {
      name: "HEAD is another commit (the default branch on a comment)",
      expected: A,
      head: B,
      problem: "at commit bbbbbbbbbbbb, not the target commit aaaaaaaaaaaa",
    },
    { name: "not a git checkout", expected: A, head: undefined, problem: "not a git checkout" },
    { name: "no target commit", expected: undefined, head: A, problem: "no target commit" },
  ])("$name", ({ expected, head, problem }) => {
    const result = buildContextProblem(expected, head);
    if (problem) expect(result).toContain(problem);
    else expect(result).toBeUndefined();
  });
});

describe("prebuiltImageProblem", () => {
  const repo = "ghcr.io/acme/shop-sandbox";
  it.each([
    { name: "label says the commit", ref: `${repo}:src-1`, revision: A, problem: undefined },
    { name: "label in another case", ref: `${repo}:src-1`, revision: A.toUpperCase(), problem: undefined },
    { name: "no label, commit's tag", ref: `${repo}:${commitTag(A)}`, revision: undefined, problem: undefined },
    { name: "no label, unrelated tag", ref: `${repo}:latest`, revision: undefined, problem: "does not name commit" },
    {
      name: "no label, a prefix of the commit in the tag",
      ref: `${repo}:sha-aaaaaaa`,
      revision: undefined,
      problem: "does not name commit",
    },
    { name: "label says another commit", ref: `${repo}:src-1`, revision: B, problem: "built from commit bbbbbbbbbbbb" },
    // The same tree built at B and reused for A: the commit's tag vouches for A.
    { name: "commit's tag, an earlier commit's label", ref: `${repo}:${commitTag(A)}`, revision: B, problem: undefined },
    { name: "another commit's tag and label", ref: `${repo}:${commitTag(B)}`, revision: B, problem: "built from commit bbbbbbbbbbbb" },
    { name: "empty label counts as none", ref: `${repo}:${commitTag(A)}`, revision: " ", problem: undefined },
  ])("$name", ({ ref, revision, problem }) => {
    const result = prebuiltImageProblem({ ref, commit: A, revision });
    if (problem) expect(result).toContain(problem);
    else expect(result).toBeUndefined();
  });

  it("names the commit's tag sha-<full commit>", () => {
    expect(commitTag(A.toUpperCase())).toBe(`sha-${A}`);
  });
});

describe("approvalVerdict", () => {
  const status = (state: string, createdAt: string, context = APPROVAL_CONTEXT, description = `approved by @mona`): CommitStatusFact => ({
    context,
    state,
    createdAt,
    description,
  });
  it.each<{ name: string; statuses: CommitStatusFact[]; approved: boolean; reason?: string }>([
    { name: "no status at all", statuses: [], approved: false, reason: "has not been approved" },
    { name: "approved", statuses: [status("success", "2026-01-01T00:00:00Z")], approved: true },
    { name: "another context only", statuses: [status("success", "2026-01-01T00:00:00Z", "ci/build")], approved: false },
    {
      name: "approved, then withdrawn",
      statuses: [
        status("success", "2026-01-01T00:00:00Z"),
        status("failure", "2026-01-02T00:00:00Z", APPROVAL_CONTEXT, "approval withdrawn"),
      ],
      approved: false,
      reason: "withdrawn",
    },
    {
      name: "withdrawn, then approved again (any order in the list)",
      statuses: [status("success", "2026-01-03T00:00:00Z"), status("failure", "2026-01-02T00:00:00Z")],
      approved: true,
    },
    { name: "pending is no approval", statuses: [status("pending", "2026-01-01T00:00:00Z")], approved: false },
  ])("$name", ({ statuses, approved, reason }) => {
    const verdict = approvalVerdict(statuses, A);
    expect(verdict.approved).toBe(approved);
    if (reason && !verdict.approved) expect(verdict.reason).toContain(reason);
  });
});

describe("approvalShaProblem", () => {
  it.each([
    { name: "full head", named: A, head: A, problem: undefined },
    { name: "7-digit prefix", named: "aaaaaaa", head: A, problem: undefined },
    { name: "upper case", named: "AAAAAAA", head: A, problem: undefined },
    { name: "the head moved on since the review", named: "aaaaaaa", head: B, problem: "not the pull request's head" },
    { name: "nothing named", named: undefined, head: A, problem: "name the commit you reviewed" },
    { name: "head unknown", named: "aaaaaaa", head: undefined, problem: "unknown" },
  ])("$name", ({ named, head, problem }) => {
    const result = approvalShaProblem(named, head);
    if (problem) expect(result).toContain(problem);
    else expect(result).toBeUndefined();
  });
});

describe("staleCommitProblem", () => {
  it.each([
    { commit: A, head: A, stale: false },
    { commit: A, head: B, stale: true },
    { commit: undefined, head: B, stale: false },
    { commit: A, head: undefined, stale: false },
  ])("$commit vs head $head", ({ commit, head, stale }) => {
    expect(staleCommitProblem(commit, head, "pull request #1") !== undefined).toBe(stale);
  });
});

describe("capacityProblem", () => {
  it.each([
    { existing: 0, max: 1, isNew: true, refused: false },
    { existing: 1, max: 1, isNew: true, refused: true },
    { existing: 5, max: 1, isNew: true, refused: true },
    // Redeploying an existing sandbox never fails for lack of room.
    { existing: 5, max: 1, isNew: false, refused: false },
    { existing: 500, max: 0, isNew: true, refused: false },
  ])("$existing of $max, new $isNew", ({ existing, max, isNew, refused }) => {
    const result = capacityProblem({ existing, max, isNew });
    expect(result !== undefined).toBe(refused);
    if (refused) expect(result).toContain(`max-sandboxes allows (${max})`);
  });
});

describe("ownershipProblem", () => {
  const ours = "acme/shop";
  it.each([
    { name: "label and annotation ours", record: { repo: ours, repoHash: repoHash(ours) }, who: ours, problem: undefined },
    { name: "annotation ours in another case", record: { repo: "ACME/Shop" }, who: ours, problem: undefined },
    { name: "another repository", record: { repo: "other/shop", repoHash: repoHash("other/shop") }, who: ours, problem: "other/shop" },
    { name: "another repository by annotation only", record: { repo: "other/shop" }, who: ours, problem: "other/shop" },
    // The label is what a selector sees: an annotation edited to look like ours does not make it ours.
    { name: "label says another repository", record: { repo: ours, repoHash: repoHash("other/shop") }, who: ours, problem: "belongs to" },
    { name: "records no repository", record: {}, who: ours, problem: "records no repository" },
    { name: "an operator's CLI (no repository)", record: { repo: "other/shop" }, who: undefined, problem: undefined },
  ])("$name", ({ record, who, problem }) => {
    const result = ownershipProblem(record, who);
    if (problem) expect(result).toContain(problem);
    else expect(result).toBeUndefined();
  });
});
