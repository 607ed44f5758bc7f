// The event handler's trust decisions against the OpenAPI-checked GitHub
// stand-in, before any cluster is touched: who may command or approve (triage
// may not; an unanswered permission check refuses), how an approval is bound
// to one commit and withdrawn by a push, and that a fork's unapproved commit
// is never deployed. The engine here has no cluster: reaching it would throw.
import { getOctokit } from "@actions/github";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHub, STICKY_MARKER } from "../../src/adapters/github/client.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { APPROVAL_CONTEXT } from "../../src/domain/trust.js";
import type { Engine } from "../../src/operations/engine.js";
import { type EventSettings, handleEvent } from "../../src/operations/handle-event.js";
import { groundSettings } from "../support/engine.js";
import { loadWebhookExample, withComment, withPullRequest, withRepository } from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";

const REPO = "acme/shop";
const FORK_PR = 31;
const OWN_PR = 32;
const F1 = `1${"f".repeat(39)}`;
const F2 = `2${"f".repeat(39)}`;

let standin: GitHubStandin;
let github: GitHub;

function noCluster(): Engine {
  const fail = () => {
    throw new Error("this test must not reach the cluster");
  };
  return {
    get kube() {
      return fail();
    },
    get namespaces() {
      return fail();
    },
    helm: undefined as never,
    builder: fail,
    run: fail,
    logger: new MemoryLogger(),
    now: () => new Date("2026-11-22T12:00:00Z"),
    settings: groundSettings("unit-sandbox-", "preview.example.test", { repository: REPO }),
    holder: "unit",
    lockLeaseSeconds: 45,
  } as unknown as Engine;
}

const eventSettings: EventSettings = { command: "auto", forkLabel: "sandbox:allow", repository: REPO, comment: true, deployment: false };

async function comment(body: string, author: string, pr = FORK_PR) {
  const created = await getOctokit("unit-token", { baseUrl: standin.url }).rest.issues.createComment({
    owner: "acme",
    repo: "shop",
    issue_number: pr,
    body,
  });
  const payload = withRepository(
    withComment(withPullRequest(loadWebhookExample("issue_comment.created"), { number: pr }), { body, author }),
    REPO,
  );
  payload.comment.id = created.data.id;
  return payload;
}

function forkEvent(action: string, sha: string, extra: { label?: string; sender?: string } = {}) {
  const payload = withRepository(
    withPullRequest(loadWebhookExample(`pull_request.${action === "labeled" || action === "unlabeled" ? "opened" : action}`), {
      number: FORK_PR,
      headRef: "main",
      headSha: sha,
      fork: true,
      forkOwner: "stranger",
    }),
    REPO,
  );
  payload.action = action;
  if (extra.label) payload.label = { name: extra.label };
  if (extra.sender) payload.sender = { ...payload.sender, login: extra.sender };
  return payload;
}

function forkRun(sha: string) {
  const payload = loadWebhookExample("workflow_run.completed", (p) => p.workflow_run.conclusion === "success");
  payload.repository.full_name = REPO;
  Object.assign(payload.workflow_run, {
    event: "pull_request",
    head_sha: sha,
    head_branch: "main",
    head_repository: { ...payload.workflow_run.head_repository, full_name: "stranger/shop" },
    pull_requests: [],
  });
  return payload;
}

const statusesOf = (sha: string) =>
  (standin.state.statuses.get(sha) ?? []).filter((s) => s.context === APPROVAL_CONTEXT).map((s) => s.state);

beforeAll(async () => {
  standin = await startGitHubStandin({
    repository: REPO,
    token: "unit-token",
    permissions: { "writer-wendy": "write", "triage-tom": "triage", "reader-rob": "read" },
    pullRequests: [
      { number: FORK_PR, headRef: "main", headSha: F1, fork: true, forkOwner: "stranger" },
      { number: OWN_PR, headRef: "feature/own", headSha: "e".repeat(40) },
    ],
  });
  github = new GitHub({ token: "unit-token", repository: REPO, baseUrl: standin.url, logger: new MemoryLogger() });
});

afterAll(async () => {
  await standin?.close();
});

describe("who may command and approve", { timeout: 60_000 }, () => {
  it("refuses a /sandbox command from someone with triage, and changes nothing", async () => {
    const payload = await comment("/sandbox destroy", "triage-tom", OWN_PR);
    const outcome = await handleEvent(noCluster(), github, { name: "issue_comment", payload }, eventSettings);
    expect(outcome.result).toBe("refused");
    expect(outcome.message).toContain("permission: triage");
    expect(standin.commentsOn(OWN_PR).some((c) => c.body.includes("@triage-tom may not run sandbox commands"))).toBe(true);
    expect((standin.state.reactions.get(payload.comment.id) ?? []).map((r) => r.content)).toEqual(["confused"]);
  });

  it("fails closed when GitHub does not answer the permission check", async () => {
    const payload = await comment("/sandbox destroy", "writer-wendy", OWN_PR);
    // The first try and the client's three retries all get no permission back.
    standin.failNext(4, 404);
    const outcome = await handleEvent(noCluster(), github, { name: "issue_comment", payload }, eventSettings);
    expect(outcome.result).toBe("refused");
    expect(outcome.message).toContain("permission: unknown");
  });

  it("takes the approval label off when someone with triage put it on", async () => {
    standin.state.pullRequests.get(FORK_PR)?.labels.push("sandbox:allow");
    const outcome = await handleEvent(
      noCluster(),
      github,
      { name: "pull_request_target", payload: forkEvent("labeled", F1, { label: "sandbox:allow", sender: "triage-tom" }) },
      eventSettings,
    );
    expect(outcome.result).toBe("refused");
    expect(outcome.message).toContain("may not approve a fork's preview");
    expect(standin.state.pullRequests.get(FORK_PR)?.labels).not.toContain("sandbox:allow");
    expect(statusesOf(F1)).toEqual([]);
  });
});

describe("an approval belongs to one commit", { timeout: 60_000 }, () => {
  it("does not deploy a fork's commit nobody approved, and says how to approve it", async () => {
    const outcome = await handleEvent(noCluster(), github, { name: "workflow_run", payload: forkRun(F1) }, eventSettings);
    expect(outcome.result).toBe("skipped");
    expect(outcome.message).toContain("has not been approved");
    const sticky = standin.commentsOn(FORK_PR).find((c) => c.body.includes(STICKY_MARKER));
    expect(sticky?.body).toContain("awaiting approval");
    expect(sticky?.body).toContain(`\`/sandbox approve ${F1.slice(0, 12)}\``);
  });

  it("refuses /sandbox approve of a commit that is not the head", async () => {
    const payload = await comment(`/sandbox approve ${F2.slice(0, 10)}`, "writer-wendy");
    const outcome = await handleEvent(noCluster(), github, { name: "issue_comment", payload }, eventSettings);
    expect(outcome.result).toBe("refused");
    expect(outcome.message).toContain("not the pull request's head");
    expect(statusesOf(F2)).toEqual([]);
  });

  it("a push to the fork takes the label off and withdraws an approval of the new head", async () => {
    const pr = standin.state.pullRequests.get(FORK_PR);
    if (!pr) throw new Error("no PR");
    pr.labels.push("sandbox:allow");
    pr.headSha = F2;
    // As if a maintainer had approved F2 a moment before (a race with the push).
    await github.setApproval(F2, "success", "approved by @writer-wendy");
    const outcome = await handleEvent(
      noCluster(),
      github,
      { name: "pull_request_target", payload: forkEvent("synchronize", F2) },
      eventSettings,
    );
    expect(outcome.result).toBe("skipped");
    expect(pr.labels).not.toContain("sandbox:allow");
    expect(statusesOf(F2)).toEqual(["success", "failure"]);
  });

  it("the sticky comment is edited only when it is this token's own", async () => {
    // Another app's comment that carries the marker is left alone.
    const asOther = getOctokit("unit-token", { baseUrl: standin.url });
    const other = await asOther.rest.issues.createComment({
      owner: "acme",
      repo: "shop",
      issue_number: OWN_PR,
      body: `${STICKY_MARKER}\nnot yours`,
    });
    const record = standin.commentsOn(OWN_PR).find((c) => c.id === other.data.id);
    if (record) record.author = "other-app[bot]";
    const id = await github.upsertStickyComment(OWN_PR, "ours");
    expect(id).not.toBe(other.data.id);
    expect(standin.commentsOn(OWN_PR).find((c) => c.id === other.data.id)?.body).toContain("not yours");
    expect(await github.upsertStickyComment(OWN_PR, "ours again")).toBe(id);
  });

  it("made no request GitHub would refuse", () => {
    const refused = standin.rejected.filter((r) => !r.injected);
    expect(refused.map((r) => `${r.method} ${r.path}: ${r.reason ?? r.status}`)).toEqual([]);
  });
});
