// The planner's edges: explicit commands, completing comment plans from the
// PR, and hostile payloads (which must give a skip, never a TypeError).
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { type CommandSetting, type Plan, type PlanSettings, planEvent, resolvePullRequestTarget } from "../../src/domain/plan.js";

// Fixtures are deep JSON mutated into hostile shapes on purpose; typing them would only add casts.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Json = Record<string, any>;
const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: Json[] }[];
const example = (name: string, action?: string): Json =>
  structuredClone(definitions.find((d) => d.name === name)?.examples.find((e) => action === undefined || e.action === action) as Json);

const REPO = "Codertocat/Hello-World";
const settings = (over: Partial<PlanSettings> = {}): PlanSettings => ({
  command: "auto",
  forkLabel: "sandbox:allow",
  repository: REPO,
  ...over,
});

function prEvent(action: string, fork?: string): Json {
  const p = example("pull_request", action);
  if (fork) p.pull_request.head.repo.full_name = fork;
  return p;
}
function branchPush(): Json {
  const p = example("push");
  p.ref = "refs/heads/feature/x";
  return p;
}
function slash(body: string): Json {
  const p = example("issue_comment", "created");
  p.issue.pull_request = { url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/1" };
  p.comment.body = body;
  return p;
}
function apiPr(over: { number?: number; fork?: string; labels?: string[]; state?: string } = {}): Json {
  const pr = example("pull_request", "opened").pull_request;
  pr.number = over.number ?? 1;
  if (over.fork) pr.head.repo.full_name = over.fork;
  if (over.labels) pr.labels = over.labels.map((name) => ({ name }));
  if (over.state) pr.state = over.state;
  return pr;
}

describe("explicit command setting", () => {
  it.each<{
    name: string;
    event: string;
    payload: () => Json;
    command: CommandSetting;
    operation: string;
    reason?: string;
    target: boolean;
  }>([
    {
      name: "destroy on a PR event",
      event: "pull_request",
      payload: () => prEvent("synchronize"),
      command: "destroy",
      operation: "destroy",
      target: true,
    },
    { name: "status on a push", event: "push", payload: branchPush, command: "status", operation: "status", target: true },
    {
      name: "deploy on a PR action we skip",
      event: "pull_request",
      payload: () => prEvent("labeled"),
      command: "deploy",
      operation: "deploy",
      target: true,
    },
    { name: "extend on a push", event: "push", payload: branchPush, command: "extend", operation: "extend", target: true },
    { name: "sweep on anything", event: "push", payload: branchPush, command: "sweep", operation: "sweep", target: false },
    {
      name: "deploy cannot lift the fork gate",
      event: "pull_request",
      payload: () => prEvent("opened", "x/y"),
      command: "deploy",
      operation: "skip",
      reason: "fork",
      target: true,
    },
    {
      name: "destroy of an unlabelled fork",
      event: "pull_request",
      payload: () => prEvent("opened", "x/y"),
      command: "destroy",
      operation: "destroy",
      target: true,
    },
    {
      name: "deploy on a schedule has no target",
      event: "schedule",
      payload: () => ({}),
      command: "deploy",
      operation: "skip",
      reason: "names no branch",
      target: false,
    },
    {
      name: "deploy on a tag push",
      event: "push",
      payload: () => example("push"),
      command: "deploy",
      operation: "skip",
      reason: "tags get no sandbox",
      target: false,
    },
    {
      name: "deploy on a plain comment",
      event: "issue_comment",
      payload: () => slash("nice"),
      command: "deploy",
      operation: "skip",
      reason: "not a /sandbox command",
      target: false,
    },
    {
      name: "invalid slash command still gets help",
      event: "issue_comment",
      payload: () => slash("/sandbox nope"),
      command: "deploy",
      operation: "help",
      target: false,
    },
  ])("$name", ({ event, payload, command, operation, reason, target }) => {
    const result = planEvent({ name: event, payload: payload() }, settings({ command }));
    expect(result.operation).toBe(operation);
    expect(result.target !== undefined).toBe(target);
    if (reason) expect(result.reason).toContain(reason);
    expect(result).not.toHaveProperty("blocked");
  });

  it("keeps the permission check for commented commands", () => {
    const result = planEvent({ name: "issue_comment", payload: slash("/sandbox status") }, settings({ command: "destroy" }));
    expect(result).toMatchObject({ operation: "destroy", needsPermission: true, resolvePullRequest: 1 });
  });
});

describe("resolvePullRequestTarget", () => {
  const commentPlan = (body: string): Plan => planEvent({ name: "issue_comment", payload: slash(body) }, settings());

  it.each([
    { name: "extend, own branch", body: "/sandbox extend 1d", pr: apiPr(), operation: "extend", fork: false },
    { name: "redeploy, own branch", body: "/sandbox redeploy", pr: apiPr(), operation: "deploy", fork: false },
    // The fork's approval is checked by the caller against the commit's statuses, not the label.
    { name: "redeploy, unlabelled fork", body: "/sandbox redeploy", pr: apiPr({ fork: "x/y" }), operation: "deploy", fork: true },
    {
      name: "redeploy, labelled fork",
      body: "/sandbox redeploy",
      pr: apiPr({ fork: "x/y", labels: ["sandbox:allow"] }),
      operation: "deploy",
      fork: true,
    },
    { name: "destroy, unlabelled fork", body: "/sandbox destroy", pr: apiPr({ fork: "x/y" }), operation: "destroy", fork: true },
    {
      name: "redeploy, closed PR",
      body: "/sandbox redeploy",
      pr: apiPr({ state: "closed" }),
      operation: "skip",
      fork: false,
      reason: "is closed",
    },
    { name: "status, closed PR", body: "/sandbox status", pr: apiPr({ state: "closed" }), operation: "status", fork: false },
    { name: "wrong PR", body: "/sandbox status", pr: apiPr({ number: 5 }), operation: "skip", fork: undefined, reason: "got #5" },
    { name: "garbage PR", body: "/sandbox status", pr: "nope", operation: "skip", fork: undefined, reason: "no pull request" },
  ])("$name -> $operation", ({ body, pr, operation, fork, reason }) => {
    const result = resolvePullRequestTarget(commentPlan(body), pr, settings());
    expect(result.operation).toBe(operation);
    expect(result.target?.fork).toBe(fork);
    expect(result.resolvePullRequest).toBeUndefined();
    expect(result.needsPermission).toBe(true);
    if (reason) expect(result.reason).toContain(reason);
    if (fork !== undefined) expect(result.target).toMatchObject({ branch: "changes", pullRequest: 1 });
  });

  it("redeploys a comment's PR from its prebuilt image, never from the checkout", () => {
    expect(resolvePullRequestTarget(commentPlan("/sandbox redeploy"), apiPr(), settings())).toMatchObject({
      operation: "deploy",
      image: "prebuilt",
      target: { commit: "ec26c3e57ca3a959ca5aad62de7213c562f8c821" },
    });
  });

  it("keeps the extension asked for", () => {
    expect(resolvePullRequestTarget(commentPlan("/sandbox extend 2h"), apiPr(), settings()).extendBy).toBe(2 * 3600_000);
  });

  it("leaves complete plans alone", () => {
    const complete = planEvent({ name: "pull_request", payload: prEvent("opened") }, settings());
    expect(resolvePullRequestTarget(complete, "ignored", settings())).toBe(complete);
  });
});

describe("hostile payloads", () => {
  const mutate = (base: () => Json, change: (p: Json) => void) => () => {
    const p = base();
    change(p);
    return p;
  };
  it.each<{ name: string; event: unknown; payload: () => unknown; reason?: string }>([
    { name: "null payload", event: "push", payload: () => null, reason: "no payload" },
    { name: "array payload", event: "pull_request", payload: () => [], reason: "no payload" },
    { name: "string payload", event: "issue_comment", payload: () => "x" },
    { name: "event name not a string", event: 42, payload: () => ({}) },
    { name: "push without ref", event: "push", payload: mutate(branchPush, (p) => delete p.ref), reason: "no ref" },
    {
      name: "push ref a number",
      event: "push",
      payload: mutate(branchPush, (p) => {
        p.ref = 7;
      }),
    },
    {
      name: "push ref huge",
      event: "push",
      payload: mutate(branchPush, (p) => {
        p.ref = `refs/heads/${"x".repeat(100_000)}`;
      }),
    },
    {
      name: "PR without pull_request",
      event: "pull_request",
      payload: mutate(
        () => prEvent("opened"),
        (p) => delete p.pull_request,
      ),
    },
    {
      name: "PR head null",
      event: "pull_request",
      payload: mutate(
        () => prEvent("opened"),
        (p) => {
          p.pull_request.head = null;
        },
      ),
      reason: "head branch",
    },
    {
      name: "PR number a string",
      event: "pull_request",
      payload: mutate(
        () => prEvent("opened"),
        (p) => {
          p.pull_request.number = "2";
        },
      ),
      reason: "valid number",
    },
    {
      name: "PR number negative",
      event: "pull_request",
      payload: mutate(
        () => prEvent("opened"),
        (p) => {
          p.pull_request.number = -2;
        },
      ),
    },
    {
      name: "PR for another repo",
      event: "pull_request",
      payload: mutate(
        () => prEvent("opened"),
        (p) => {
          p.pull_request.base.repo.full_name = "evil/repo";
        },
      ),
      reason: "targets",
    },
    {
      name: "event from another repo",
      event: "push",
      payload: mutate(branchPush, (p) => {
        p.repository.full_name = "evil/repo";
      }),
      reason: "not",
    },
    {
      name: "comment without issue",
      event: "issue_comment",
      payload: mutate(
        () => slash("/sandbox destroy"),
        (p) => delete p.issue,
      ),
    },
    {
      name: "comment user missing",
      event: "issue_comment",
      payload: mutate(
        () => slash("/sandbox destroy"),
        (p) => delete p.comment.user,
      ),
      reason: "author",
    },
    {
      name: "comment id a string",
      event: "issue_comment",
      payload: mutate(
        () => slash("/sandbox destroy"),
        (p) => {
          p.comment.id = "1";
        },
      ),
    },
    {
      name: "comment body an object",
      event: "issue_comment",
      payload: mutate(
        () => slash("/sandbox destroy"),
        (p) => {
          p.comment.body = { toString: 1 };
        },
      ),
    },
    { name: "delete with ref_type missing", event: "delete", payload: () => ({ ref: "x" }) },
    {
      name: "proto pollution keys",
      event: "pull_request",
      payload: () => JSON.parse('{"__proto__": {"action": "opened"}, "pull_request": {"__proto__": {"number": 1}}}'),
    },
  ])("$name -> skip", ({ event, payload, reason }) => {
    const result = planEvent({ name: event as string, payload: payload() }, settings());
    expect(result.operation).toBe("skip");
    expect(result.reason.length).toBeGreaterThan(0);
    expect(result.reason.length).toBeLessThan(400);
    if (reason) expect(result.reason).toContain(reason);
  });

  it("drops a malformed commit id rather than passing it on", () => {
    const p = branchPush();
    p.after = "$(rm -rf /)";
    expect(planEvent({ name: "push", payload: p }, settings()).target).toStrictEqual({ branch: "feature/x", fork: false });
  });

  it("survives a garbage event object", () => {
    expect(planEvent(null as unknown as { name: string; payload: unknown }, settings()).operation).toBe("skip");
  });
});
