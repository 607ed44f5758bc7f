// The planner's trust routing on real payloads from @octokit/webhooks-examples:
// pull_request_target records and withdraws approvals and never deploys,
// workflow_run deploys the image of the run's own head commit, comments never
// build, and command: build runs only where the checkout is the code to build.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { parseSlashCommand } from "../../src/domain/commands.js";
import { type PlanSettings, planEvent, resolvePullRequestTarget } from "../../src/domain/plan.js";

// biome-ignore lint/suspicious/noExplicitAny: payloads are free-form JSON reshaped per test
type Json = Record<string, any>;
const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: Json[] }[];
const example = (name: string, action?: string, predicate: (e: Json) => boolean = () => true): Json => {
  const found = definitions
    .find((d) => d.name === name)
    ?.examples.find((e) => (action === undefined || e.action === action) && predicate(e));
  if (!found) throw new Error(`no example ${name} ${action ?? ""}`);
  return structuredClone(found);
};

const REPO = "Codertocat/Hello-World";
const SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const HEAD = "1".repeat(40);
const settings = (over: Partial<PlanSettings> = {}): PlanSettings => ({
  command: "auto",
  forkLabel: "sandbox:allow",
  repository: REPO,
  ...over,
});
const plan = (name: string, payload: unknown, over: Partial<PlanSettings> = {}) => planEvent({ name, payload }, settings(over));

function target(action: string, over: { fork?: boolean; label?: string; sender?: string } = {}): Json {
  const p = example("pull_request", action === "labeled" || action === "unlabeled" ? undefined : action);
  p.action = action;
  if (over.fork !== false) p.pull_request.head.repo.full_name = "stranger/Hello-World";
  if (over.label) p.label = { name: over.label };
  if (over.sender) p.sender = { ...p.sender, login: over.sender };
  return p;
}

describe("pull_request_target", () => {
  it.each([
    { name: "allow label on a fork", payload: () => target("labeled", { label: "sandbox:allow", sender: "mona" }), operation: "approve" },
    { name: "another label", payload: () => target("labeled", { label: "bug", sender: "mona" }), operation: "skip" },
    { name: "allow label on an own branch", payload: () => target("labeled", { fork: false, label: "sandbox:allow" }), operation: "skip" },
    { name: "a push to the fork", payload: () => target("synchronize"), operation: "revoke" },
    { name: "the label taken off", payload: () => target("unlabeled", { label: "sandbox:allow" }), operation: "revoke" },
    { name: "another label taken off", payload: () => target("unlabeled", { label: "bug" }), operation: "skip" },
    { name: "opened", payload: () => target("opened"), operation: "skip" },
    { name: "reopened", payload: () => target("reopened"), operation: "skip" },
    { name: "closed", payload: () => target("closed"), operation: "destroy" },
  ])("$name -> $operation", ({ payload, operation }) => {
    const result = plan("pull_request_target", payload());
    expect(result.operation).toBe(operation);
    expect(result.image).not.toBe("build");
  });

  it("binds the approval to the head the label was put on, and checks its sender", () => {
    expect(plan("pull_request_target", target("labeled", { label: "sandbox:allow", sender: "mona" }))).toMatchObject({
      operation: "approve",
      actor: "mona",
      needsPermission: true,
      approveCommit: SHA,
      target: { fork: true, pullRequest: 2, commit: SHA },
    });
  });

  it("refuses command: build and never builds on command: deploy", () => {
    expect(plan("pull_request_target", target("synchronize"), { command: "build" }).operation).toBe("skip");
    expect(plan("pull_request_target", target("synchronize"), { command: "deploy" })).toMatchObject({
      operation: "deploy",
      image: "prebuilt",
    });
  });
});

function run(
  over: { event?: string; conclusion?: string | null; action?: string; headRepo?: string | null; prs?: Json[]; sha?: string } = {},
): Json {
  const p = example("workflow_run", "completed", (e) => e.workflow_run.conclusion === "success");
  const r = p.workflow_run;
  r.event = over.event ?? "pull_request";
  r.conclusion = over.conclusion === undefined ? "success" : over.conclusion;
  r.head_sha = over.sha ?? HEAD;
  r.head_branch = "feature/x";
  r.head_repository = over.headRepo === null ? null : { ...r.head_repository, full_name: over.headRepo ?? REPO };
  r.pull_requests = over.prs ?? [];
  p.repository.full_name = REPO;
  if (over.action) p.action = over.action;
  return p;
}
const listed = (number: number, sha = HEAD, base = REPO) => ({
  number,
  head: { sha, ref: "feature/x", repo: { url: `https://api.github.com/repos/${REPO}` } },
  base: { sha: SHA, ref: "main", repo: { url: `https://api.github.com/repos/${base}` } },
});

describe("workflow_run", () => {
  it("a push build deploys its branch at its head commit, from the image it made", () => {
    expect(plan("workflow_run", run({ event: "push" }))).toMatchObject({
      operation: "deploy",
      image: "prebuilt",
      expectCommit: HEAD,
      target: { branch: "feature/x", commit: HEAD, fork: false },
    });
  });

  it("a dispatched build (the controller asks for one) deploys its branch like a push build", () => {
    expect(plan("workflow_run", run({ event: "workflow_dispatch" }))).toMatchObject({
      operation: "deploy",
      image: "prebuilt",
      expectCommit: HEAD,
      target: { branch: "feature/x", commit: HEAD, fork: false },
    });
  });

  it("an own PR's build names its PR", () => {
    expect(plan("workflow_run", run({ prs: [listed(7)] }))).toMatchObject({
      operation: "deploy",
      resolvePullRequest: 7,
      expectCommit: HEAD,
    });
  });

  it("a fork PR's build is found by its head (GitHub lists no fork PRs in the payload)", () => {
    expect(plan("workflow_run", run({ headRepo: "stranger/Hello-World" }))).toMatchObject({
      operation: "deploy",
      image: "prebuilt",
      resolvePullRequestByHead: { owner: "stranger", branch: "feature/x" },
    });
  });

  it.each([
    { name: "still running", over: { action: "requested" }, reason: "only a completed build" },
    { name: "failed", over: { conclusion: "failure" }, reason: "ended failure" },
    { name: "no conclusion", over: { conclusion: null }, reason: "without a conclusion" },
    { name: "a schedule run", over: { event: "schedule" }, reason: "only push, pull_request and workflow_dispatch" },
    {
      name: "a dispatched run in a fork",
      over: { event: "workflow_dispatch", headRepo: "stranger/Hello-World" },
      reason: "not to this repository",
    },
    { name: "a push in a fork", over: { event: "push", headRepo: "stranger/Hello-World" }, reason: "not to this repository" },
    { name: "bad head sha", over: { sha: "nope" }, reason: "no valid head commit" },
    { name: "fork deleted", over: { headRepo: null }, reason: "fork is gone" },
  ])("skips: $name", ({ over, reason }) => {
    const result = plan("workflow_run", run(over));
    expect(result.operation).toBe("skip");
    expect(result.reason).toContain(reason);
  });

  it("ignores listed PRs of another base or another head", () => {
    expect(plan("workflow_run", run({ prs: [listed(7, HEAD, "evil/repo")] })).resolvePullRequest).toBeUndefined();
    expect(plan("workflow_run", run({ prs: [listed(7, SHA)] })).resolvePullRequest).toBeUndefined();
  });

  it("refuses command: build", () => {
    expect(plan("workflow_run", run({ event: "push" }), { command: "build" }).operation).toBe("skip");
  });
});

describe("resolving the PR of a workflow_run", () => {
  const apiPr = (over: { sha?: string; state?: string; fork?: boolean } = {}) => {
    const pr = example("pull_request", "opened").pull_request;
    pr.head.sha = over.sha ?? HEAD;
    if (over.state) pr.state = over.state;
    if (over.fork) pr.head.repo.full_name = "stranger/Hello-World";
    return pr;
  };
  const forkRun = () => plan("workflow_run", run({ headRepo: "stranger/Hello-World" }));

  it("deploys the fork's PR when its head is still the run's commit", () => {
    expect(resolvePullRequestTarget(forkRun(), apiPr({ fork: true }), settings())).toMatchObject({
      operation: "deploy",
      image: "prebuilt",
      target: { fork: true, pullRequest: 2, commit: HEAD },
    });
  });

  it("skips a run whose commit is no longer the head: the newer run deploys", () => {
    const result = resolvePullRequestTarget(forkRun(), apiPr({ fork: true, sha: SHA }), settings());
    expect(result.operation).toBe("skip");
    expect(result.reason).toContain("no longer the head");
  });

  it("skips when no open PR has that head", () => {
    expect(resolvePullRequestTarget(forkRun(), undefined, settings())).toMatchObject({ operation: "skip" });
  });

  it("skips a closed PR", () => {
    expect(resolvePullRequestTarget(forkRun(), apiPr({ fork: true, state: "closed" }), settings()).operation).toBe("skip");
  });
});

describe("/sandbox approve", () => {
  const comment = (body: string): Json => {
    const p = example("issue_comment", "created");
    p.issue.pull_request = { url: `https://api.github.com/repos/${REPO}/pulls/1` };
    p.comment.body = body;
    return p;
  };

  it.each([
    ["/sandbox approve 1a2b3c4", { kind: "command", command: "approve", sha: "1a2b3c4" }],
    ["/sandbox approve 1A2B3C4D", { kind: "command", command: "approve", sha: "1a2b3c4d" }],
    ["/sandbox approve", { kind: "invalid" }],
    ["/sandbox approve 1a2b3c", { kind: "invalid" }],
    ["/sandbox approve main", { kind: "invalid" }],
    ["/sandbox approve 1a2b3c4 1a2b3c5", { kind: "invalid" }],
  ])("%s", (body, expected) => {
    expect(parseSlashCommand(body)).toMatchObject(expected);
  });

  it("plans an approval of the named commit, after a permission check", () => {
    expect(plan("issue_comment", comment("/sandbox approve 1a2b3c4"))).toMatchObject({
      operation: "approve",
      approveCommit: "1a2b3c4",
      needsPermission: true,
      resolvePullRequest: 1,
    });
  });

  it("a redeploy comment never builds", () => {
    expect(plan("issue_comment", comment("/sandbox redeploy"))).toMatchObject({ operation: "deploy", image: "prebuilt" });
  });
});

describe("manual runs and pushes build the checkout, verified later by the HEAD check", () => {
  it("workflow_dispatch of a branch has no commit yet: the caller asks for the branch's head", () => {
    const p = example("workflow_dispatch");
    p.repository.full_name = REPO;
    p.ref = "refs/heads/feature/x";
    const result = plan("workflow_dispatch", p);
    expect(result).toMatchObject({ operation: "deploy", image: "build", target: { branch: "feature/x" } });
    expect(result.target?.commit).toBeUndefined();
  });

  it("a push builds its own commit", () => {
    const p = example("push");
    p.ref = "refs/heads/feature/x";
    p.repository.full_name = REPO;
    expect(plan("push", p)).toMatchObject({ operation: "deploy", image: "build", target: { commit: p.after } });
    expect(plan("push", p, { command: "build" })).toMatchObject({ operation: "build", target: { commit: p.after } });
  });
});
