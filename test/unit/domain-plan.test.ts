// The planner against real webhook payloads from @octokit/webhooks-examples,
// adjusted only in branch, PR and comment fields: routing must hold for what
// GitHub actually sends, not for payloads we imagined.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/domain/errors.js";
import { type PlanSettings, planEvent } from "../../src/domain/plan.js";

// Fixtures are deep JSON mutated into hostile shapes on purpose; typing them would only add casts.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Json = Record<string, any>;
const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: Json[] }[];

const REPO = "Codertocat/Hello-World";
const SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const SHA_PUSH = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

/** A fresh copy of the first example of an event (matching `action` when given). */
function example(name: string, action?: string): Json {
  const found = definitions.find((d) => d.name === name)?.examples.find((e) => action === undefined || e.action === action);
  if (!found) throw new Error(`no example for ${name} ${action ?? ""}`);
  return structuredClone(found);
}

function push(ref: string, deleted = false): Json {
  const p = example("push");
  p.ref = ref;
  p.deleted = deleted;
  if (deleted) p.after = "0".repeat(40);
  return p;
}

function pullRequest(
  action: string,
  over: { branch?: string; fork?: string | null; labels?: string[]; draft?: boolean; number?: number } = {},
): Json {
  const p = example("pull_request", action);
  const pr = p.pull_request;
  if (over.number !== undefined) p.number = pr.number = over.number;
  if (over.branch !== undefined) pr.head.ref = over.branch;
  if (over.fork === null) pr.head.repo = null;
  else if (over.fork !== undefined) pr.head.repo.full_name = over.fork;
  if (over.labels) pr.labels = over.labels.map((name) => ({ name }));
  if (over.draft !== undefined) pr.draft = over.draft;
  return p;
}

function comment(body: unknown, over: { onIssue?: boolean; action?: string; bot?: boolean } = {}): Json {
  const p = example("issue_comment", over.action ?? "created");
  p.comment.body = body;
  if (!over.onIssue) p.issue.pull_request = { url: `https://api.github.com/repos/${REPO}/pulls/1` };
  if (over.bot) p.comment.user.type = "Bot";
  return p;
}

function deleted(ref: string, refType: string): Json {
  const p = example("delete");
  p.ref = ref;
  p.ref_type = refType;
  return p;
}

function dispatch(ref = "refs/heads/main"): Json {
  const p = example("workflow_dispatch");
  p.ref = ref;
  p.repository.full_name = REPO;
  return p;
}

const HOUR = 3600_000;
const settings = (over: Partial<PlanSettings> = {}): PlanSettings => ({
  command: "auto",
  forkLabel: "sandbox:allow",
  repository: REPO,
  ...over,
});
const plan = (name: string, payload: unknown, over: Partial<PlanSettings> = {}) => planEvent({ name, payload }, settings(over));

describe("push", () => {
  it.each([
    { ref: "refs/heads/feature/Login", operation: "deploy", target: { branch: "feature/Login", commit: SHA_PUSH, fork: false } },
    { ref: "refs/heads/main", operation: "deploy", target: { branch: "main", commit: SHA_PUSH, fork: false } },
    { ref: "refs/heads/gone", deleted: true, operation: "destroy", target: { branch: "gone", fork: false } },
    { ref: "refs/tags/v1.0", operation: "skip", reason: "tags get no sandbox" },
    { ref: "refs/tags/v1.0", deleted: true, operation: "skip", reason: "tags get no sandbox" },
    { ref: "refs/notes/commits", operation: "skip", reason: "not a branch" },
    { ref: "refs/heads/", operation: "skip", reason: "not a branch" },
  ])("$ref (deleted: $deleted) -> $operation", ({ ref, deleted, operation, target, reason }) => {
    const result = plan("push", push(ref, deleted));
    expect(result.operation).toBe(operation);
    expect(result.target).toEqual(target);
    if (reason) expect(result.reason).toContain(reason);
    expect(result.needsPermission).toBeUndefined();
  });

  it("skips the examples' own tag pushes", () => {
    expect(plan("push", example("push")).operation).toBe("skip");
  });
});

describe("pull_request", () => {
  const own = { branch: "changes", pullRequest: 2, commit: SHA, fork: false, headRepo: REPO };
  it.each([
    { action: "opened", operation: "deploy" },
    { action: "synchronize", operation: "deploy" },
    { action: "reopened", operation: "deploy" },
    { action: "ready_for_review", operation: "deploy" },
    { action: "closed", operation: "destroy", reason: "closed" },
    { action: "converted_to_draft", operation: "skip", reason: "only opened, synchronize" },
    { action: "labeled", operation: "skip", reason: "only opened, synchronize" },
    { action: "assigned", operation: "skip" },
    { action: "review_requested", operation: "skip" },
    { action: "locked", operation: "skip" },
  ])("$action -> $operation", ({ action, operation, reason }) => {
    const result = plan("pull_request", pullRequest(action));
    expect(result.operation).toBe(operation);
    expect(result.target).toEqual(own);
    expect(result.reason).toContain(`pull request #2 ${action}`);
    if (reason) expect(result.reason).toContain(reason);
  });

  it("deploys drafts and says why", () => {
    const result = plan("pull_request", pullRequest("opened", { draft: true }));
    expect(result.operation).toBe("deploy");
    expect(result.reason).toContain("draft");
  });

  it("never deploys on pull_request_target: previews come from the build workflow", () => {
    expect(plan("pull_request_target", pullRequest("synchronize"))).toMatchObject({ operation: "skip", target: { fork: false } });
    expect(plan("pull_request_target", pullRequest("opened", { fork: "stranger/Hello-World" })).operation).toBe("skip");
  });

  it("builds its own branches' PRs from the checkout", () => {
    expect(plan("pull_request", pullRequest("opened"))).toMatchObject({ operation: "deploy", image: "build" });
  });

  it.each([
    {
      name: "fork without label",
      over: { fork: "stranger/Hello-World" },
      action: "opened",
      operation: "skip",
      reason: "deployed by workflow_run",
    },
    // A label is no approval of the code pushed after it: the workflow_run deploy checks the commit's approval.
    {
      name: "fork with label",
      over: { fork: "stranger/Hello-World", labels: ["sandbox:allow"] },
      action: "synchronize",
      operation: "skip",
      reason: "fork",
    },
    { name: "deleted fork", over: { fork: null }, action: "reopened", operation: "skip", reason: "(deleted)" },
    { name: "fork closed, no label", over: { fork: "stranger/Hello-World" }, action: "closed", operation: "destroy", reason: "closed" },
    {
      name: "fork labelled allow",
      over: { fork: "stranger/Hello-World", labels: ["bug", "sandbox:allow"] },
      action: "labeled",
      operation: "skip",
      reason: "only opened",
    },
    {
      name: "case-only repo difference is not a fork",
      over: { fork: "codertocat/hello-world" },
      action: "opened",
      operation: "deploy",
      reason: "opened",
    },
  ])("$name -> $operation", ({ over, action, operation, reason }) => {
    const result = plan("pull_request", pullRequest(action, over));
    expect(result.operation).toBe(operation);
    expect(result.reason).toContain(reason);
    expect(result.target?.pullRequest).toBe(2);
  });

  it("marks fork targets so the key becomes pr-<n>", () => {
    const result = plan("pull_request", pullRequest("opened", { fork: "stranger/Hello-World", labels: ["sandbox:allow"] }));
    expect(result.target).toEqual({ branch: "changes", pullRequest: 2, commit: SHA, fork: true, headRepo: "stranger/Hello-World" });
  });

  it("lets a fork's unprivileged run build (command: build), never deploy", () => {
    const payload = pullRequest("synchronize", { fork: "stranger/Hello-World" });
    expect(plan("pull_request", payload, { command: "build" })).toMatchObject({ operation: "build", target: { fork: true, commit: SHA } });
    expect(plan("pull_request", payload, { command: "deploy" }).operation).toBe("skip");
  });
});

describe("delete", () => {
  it.each([
    { ref: "feature/x", type: "branch", operation: "destroy", target: { branch: "feature/x", fork: false } },
    { ref: "refs/heads/feature/x", type: "branch", operation: "destroy", target: { branch: "feature/x", fork: false } },
    { ref: "v1", type: "tag", operation: "skip", target: undefined },
    { ref: "x", type: "other", operation: "skip", target: undefined },
  ])("$type $ref -> $operation", ({ ref, type, operation, target }) => {
    const result = plan("delete", deleted(ref, type));
    expect(result.operation).toBe(operation);
    expect(result.target).toEqual(target);
  });

  it("skips the examples' own tag deletions", () => {
    expect(plan("delete", example("delete")).operation).toBe("skip");
  });
});

describe("issue_comment", () => {
  const by = { id: 492700400, author: "Codertocat", pullRequest: 1 };
  it.each([
    { body: "/sandbox extend 48h", operation: "extend", extendBy: 48 * HOUR },
    { body: "/sandbox extend", operation: "extend", extendBy: undefined },
    { body: "/sandbox destroy", operation: "destroy" },
    { body: "/sandbox redeploy", operation: "deploy" },
    { body: "/sandbox status\r\nplease", operation: "status" },
  ])("$body -> $operation, after a permission check", ({ body, operation, extendBy }) => {
    const result = plan("issue_comment", comment(body));
    expect(result).toMatchObject({
      operation,
      needsPermission: true,
      resolvePullRequest: 1,
      comment: { ...by, body: body.split("\r\n")[0] },
    });
    expect(result.extendBy).toBe(extendBy);
    expect(result.target).toBeUndefined();
  });

  it("answers /sandbox help without looking up the PR", () => {
    const result = plan("issue_comment", comment("/sandbox help"));
    expect(result).toMatchObject({ operation: "help", needsPermission: true, comment: by });
    expect(result.resolvePullRequest).toBeUndefined();
  });

  it.each([["/sandbox extend forever"], ["/sandbox deploy"], ["/sandbox destroy now"]])("%s -> help with the problem", (body) => {
    const result = plan("issue_comment", comment(body));
    expect(result).toMatchObject({ operation: "help", needsPermission: true, comment: by });
    expect(result.invalidCommand).toContain("Commands:");
  });

  it.each([
    { name: "plain comment", payload: () => comment("Looks good to me"), reason: "not a /sandbox command" },
    { name: "the example's own comment", payload: () => example("issue_comment", "created"), reason: "not a pull request" },
    { name: "command on an issue", payload: () => comment("/sandbox destroy", { onIssue: true }), reason: "not a pull request" },
    { name: "edited comment", payload: () => comment("/sandbox destroy", { action: "edited" }), reason: "only new comments" },
    { name: "deleted comment", payload: () => comment("/sandbox destroy", { action: "deleted" }), reason: "only new comments" },
    { name: "bot comment", payload: () => comment("/sandbox destroy", { bot: true }), reason: "bot" },
    { name: "null body", payload: () => comment(null), reason: "not a /sandbox command" },
  ])("skips: $name", ({ payload, reason }) => {
    const result = plan("issue_comment", payload());
    expect(result.operation).toBe("skip");
    expect(result.reason).toContain(reason);
  });
});

describe("workflow_dispatch", () => {
  it.each<{ inputs: Record<string, string>; operation: string; target?: object; extendBy?: number; resolve?: number }>([
    { inputs: {}, operation: "deploy", target: { branch: "main", fork: false } },
    { inputs: { command: "auto" }, operation: "deploy", target: { branch: "main", fork: false } },
    { inputs: { command: "destroy", branch: "feature/x" }, operation: "destroy", target: { branch: "feature/x", fork: false } },
    { inputs: { command: "status", branch: "refs/heads/dev" }, operation: "status", target: { branch: "dev", fork: false } },
    {
      inputs: { command: "extend", duration: "3d", branch: "" },
      operation: "extend",
      target: { branch: "main", fork: false },
      extendBy: 72 * HOUR,
    },
    { inputs: { command: "Sweep" }, operation: "sweep", target: undefined },
    { inputs: { command: "deploy", "pull-request": "#12" }, operation: "deploy", target: undefined, resolve: 12 },
  ])("$inputs -> $operation", ({ inputs, operation, target, extendBy, resolve }) => {
    const result = plan("workflow_dispatch", dispatch(), { dispatchInputs: inputs });
    expect(result.operation).toBe(operation);
    expect(result.target).toEqual(target);
    expect(result.extendBy).toBe(extendBy);
    expect(result.resolvePullRequest).toBe(resolve);
  });

  it("reads inputs from the payload when the front door passes none", () => {
    const payload = dispatch();
    payload.inputs = { command: "destroy", branch: "old" };
    expect(plan("workflow_dispatch", payload)).toMatchObject({ operation: "destroy", target: { branch: "old" } });
  });

  it.each<{ inputs: Record<string, string>; input: string }>([
    { inputs: { command: "nuke" }, input: "command" },
    { inputs: { command: "extend", duration: "soon" }, input: "duration" },
    { inputs: { "pull-request": "abc" }, input: "pull-request" },
    { inputs: { "pull-request": "0" }, input: "pull-request" },
    { inputs: { branch: "refs/tags/v1" }, input: "branch" },
  ])("fails loudly on bad input $inputs", ({ inputs, input }) => {
    expect(() => plan("workflow_dispatch", dispatch(), { dispatchInputs: inputs })).toThrow(InputError);
    try {
      plan("workflow_dispatch", dispatch(), { dispatchInputs: inputs });
    } catch (err) {
      expect((err as InputError).input).toBe(input);
    }
  });

  it("needs a branch when run on a tag", () => {
    expect(() => plan("workflow_dispatch", dispatch("refs/tags/v1"))).toThrow(InputError);
  });
});

describe("schedule and others", () => {
  it.each([
    { name: "schedule", payload: { schedule: "0 3 * * *" }, operation: "sweep" },
    { name: "schedule", payload: undefined, operation: "sweep" },
    { name: "release", payload: example("release"), operation: "skip" },
    { name: "ping", payload: {}, operation: "skip" },
  ])("$name -> $operation", ({ name, payload, operation }) => {
    expect(plan(name, payload).operation).toBe(operation);
  });
});
