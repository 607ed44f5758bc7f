import { createHmac } from "node:crypto";
import { request as httpRequest } from "node:http";
import { getOctokit } from "@actions/github";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  loadWebhookExample,
  webhookHeaders,
  withBranch,
  withComment,
  withPullRequest,
  withRepository,
} from "../support/github/examples.js";
import { findRoute, specLoadDuration } from "../support/github/spec.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";
import { responseProblems } from "../support/github/validator.js";

const TOKEN = "test-token";
const repo = { owner: "Codertocat", repo: "Hello-World" };

let standin: GitHubStandin;
let octokit: ReturnType<typeof getOctokit>;

/** The answer must be one GitHub could have given for this operation and status. */
function expectValid(method: string, template: string, response: { status: number; data: unknown }): void {
  const data = response.status === 204 ? undefined : response.data;
  expect(responseProblems(findRoute(method, template), response.status, data)).toEqual([]);
}

async function failureOf(
  promise: Promise<unknown>,
): Promise<{ status: number; response?: { data: unknown; headers: Record<string, unknown> } }> {
  try {
    await promise;
  } catch (error) {
    return error as { status: number; response?: { data: unknown; headers: Record<string, unknown> } };
  }
  throw new Error("expected the request to fail");
}

async function raw(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${standin.url}${path}`, {
    method,
    body: init.body,
    headers: { "user-agent": "standin-test", authorization: `token ${TOKEN}`, "content-type": "application/json", ...init.headers },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, data: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  standin = await startGitHubStandin({
    token: TOKEN,
    permissions: { alice: "write", Bob: "maintain", carol: "triage", dave: "admin" },
    pullRequests: [
      { number: 7, headRef: "feature/login", title: "Login" },
      { number: 8, headRef: "patch-1", fork: true, forkOwner: "mallory", labels: ["sandbox:allow"] },
      { number: 9, headRef: "old", state: "closed", merged: true },
    ],
    branches: ["develop"],
    issues: [42],
  });
  octokit = getOctokit(TOKEN, { baseUrl: standin.url });
  console.info(`GitHub stand-in started in ${standin.startupMs.toFixed(0)} ms (description parsed in ${specLoadDuration().toFixed(0)} ms)`);
});

afterAll(async () => {
  await standin?.close();
});

describe("GitHub stand-in", () => {
  it("listens on 127.0.0.1 on a free port and sends rate-limit headers", async () => {
    expect(standin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await octokit.rest.repos.get(repo);
    expect(response.status).toBe(200);
    expectValid("GET", "/repos/{owner}/{repo}", response);
    expect(response.data.full_name).toBe("Codertocat/Hello-World");
    expect(response.data.private).toBe(true);
    expect(Number(response.headers["x-ratelimit-remaining"])).toBeLessThan(5000);
    expect(response.headers["x-ratelimit-limit"]).toBe("5000");
    expect(standin.requests.at(-1)).toMatchObject({ operationId: "repos/get", route: "/repos/{owner}/{repo}", status: 200 });
    expect(standin.requests.at(-1)?.headers.authorization).toBe("token [redacted]");
    const limits = await octokit.rest.rateLimit.get();
    expectValid("GET", "/rate_limit", limits);
    expect(limits.data.resources.core.used).toBeGreaterThan(0);
  });

  it("serves branches, with slashes, and 404 for missing ones", async () => {
    const branch = await octokit.rest.repos.getBranch({ ...repo, branch: "feature/login" });
    expectValid("GET", "/repos/{owner}/{repo}/branches/{branch}", branch);
    expect(branch.data.commit.sha).toBe(standin.state.pullRequests.get(7)?.headSha);
    expect((await octokit.rest.repos.getBranch({ ...repo, branch: "develop" })).data.name).toBe("develop");
    // A fork's head branch is not a branch of this repository.
    expect((await failureOf(octokit.rest.repos.getBranch({ ...repo, branch: "patch-1" }))).status).toBe(404);
    const missing = await failureOf(octokit.rest.repos.getBranch({ ...repo, branch: "nope" }));
    expect(missing.status).toBe(404);
    expect(missing.response?.data).toMatchObject({ message: "Branch not found" });
  });

  it("lists branches page by page (the sweep's branch-gone check)", async () => {
    const page = await octokit.rest.repos.listBranches({ ...repo, per_page: 1 });
    expectValid("GET", "/repos/{owner}/{repo}/branches", page);
    expect(page.data).toHaveLength(1);
    const all = await octokit.paginate(octokit.rest.repos.listBranches, { ...repo, per_page: 1 });
    expect(all.map((b) => b.name)).toEqual(expect.arrayContaining(["develop", "feature/login", "main"]));
    expect(all.map((b) => b.name)).not.toContain("patch-1");
  });

  it("serves pull requests, forks and labels included, and filters lists by state", async () => {
    const own = await octokit.rest.pulls.get({ ...repo, pull_number: 7 });
    expectValid("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", own);
    expect(own.data.head).toMatchObject({ ref: "feature/login", repo: { fork: false, full_name: "Codertocat/Hello-World" } });
    const fork = await octokit.rest.pulls.get({ ...repo, pull_number: 8 });
    expectValid("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", fork);
    expect(fork.data.head.repo).toMatchObject({ fork: true, full_name: "mallory/Hello-World" });
    expect(fork.data.labels.map((l) => l.name)).toEqual(["sandbox:allow"]);
    expect((await failureOf(octokit.rest.pulls.get({ ...repo, pull_number: 99 }))).status).toBe(404);

    const open = await octokit.rest.pulls.list(repo);
    expectValid("GET", "/repos/{owner}/{repo}/pulls", open);
    expect(open.data.map((p) => p.number).sort()).toEqual([7, 8]);
    expect((await octokit.rest.pulls.list({ ...repo, state: "closed" })).data.map((p) => p.number)).toEqual([9]);
    expect((await octokit.rest.pulls.list({ ...repo, state: "all" })).data).toHaveLength(3);
    expect((await octokit.rest.pulls.list({ ...repo, head: "mallory:patch-1" })).data.map((p) => p.number)).toEqual([8]);
  });

  it("answers collaborator permissions with GitHub's legacy mapping", async () => {
    const cases: Array<[string, string, string]> = [
      ["alice", "write", "write"],
      ["bob", "write", "maintain"],
      ["carol", "read", "triage"],
      ["dave", "admin", "admin"],
      ["stranger", "none", "none"],
    ];
    for (const [username, permission, roleName] of cases) {
      const response = await octokit.rest.repos.getCollaboratorPermissionLevel({ ...repo, username });
      expectValid("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", response);
      expect(response.data).toMatchObject({ permission, role_name: roleName });
    }
  });

  it("creates, pages through, updates and deletes issue comments", async () => {
    const template = "/repos/{owner}/{repo}/issues/{issue_number}/comments";
    const created = await octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: "<!-- sandbox --> first" });
    expect(created.status).toBe(201);
    expectValid("POST", template, created);
    expect(created.data.user?.login).toBe("github-actions[bot]");
    expect(created.data.html_url).toContain("/pull/7#issuecomment-");
    for (const body of ["second", "third"]) await octokit.rest.issues.createComment({ ...repo, issue_number: 7, body });

    const page = await octokit.rest.issues.listComments({ ...repo, issue_number: 7, per_page: 2 });
    expectValid("GET", template, page);
    expect(page.data.map((c) => c.body)).toEqual(["<!-- sandbox --> first", "second"]);
    expect(page.headers.link).toContain('rel="next"');
    expect(page.headers.link).toContain(`${standin.url}/repos/Codertocat/Hello-World/issues/7/comments?per_page=2&page=2`);
    const all = await octokit.paginate(octokit.rest.issues.listComments, { ...repo, issue_number: 7, per_page: 2 });
    expect(all.map((c) => c.body)).toEqual(["<!-- sandbox --> first", "second", "third"]);

    const updated = await octokit.rest.issues.updateComment({ ...repo, comment_id: created.data.id, body: "<!-- sandbox --> edited" });
    expectValid("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", updated);
    const fetched = await octokit.rest.issues.getComment({ ...repo, comment_id: created.data.id });
    expectValid("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", fetched);
    expect(fetched.data.body).toBe("<!-- sandbox --> edited");

    const third = all[2];
    if (!third) throw new Error("no third comment");
    const deleted = await octokit.rest.issues.deleteComment({ ...repo, comment_id: third.id });
    expect(deleted.status).toBe(204);
    expectValid("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", deleted);
    expect(standin.commentsOn(7).map((c) => c.body)).toEqual(["<!-- sandbox --> edited", "second"]);
    expect((await failureOf(octokit.rest.issues.getComment({ ...repo, comment_id: third.id }))).status).toBe(404);

    await octokit.rest.issues.createComment({ ...repo, issue_number: 42, body: "on a plain issue" });
    expect(standin.commentsOn(42)).toHaveLength(1);
    expect((await failureOf(octokit.rest.issues.createComment({ ...repo, issue_number: 1234, body: "x" }))).status).toBe(404);
  });

  it("adds reactions once per emoji and lists them", async () => {
    const comment = await octokit.rest.issues.createComment({ ...repo, issue_number: 8, body: "/sandbox status" });
    const template = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions";
    const eyes = await octokit.rest.reactions.createForIssueComment({ ...repo, comment_id: comment.data.id, content: "eyes" });
    expect(eyes.status).toBe(201);
    expectValid("POST", template, eyes);
    const again = await octokit.rest.reactions.createForIssueComment({ ...repo, comment_id: comment.data.id, content: "eyes" });
    expect(again.status).toBe(200);
    expectValid("POST", template, again);
    expect(again.data.id).toBe(eyes.data.id);
    await octokit.rest.reactions.createForIssueComment({ ...repo, comment_id: comment.data.id, content: "rocket" });

    const list = await octokit.rest.reactions.listForIssueComment({ ...repo, comment_id: comment.data.id });
    expectValid("GET", template, list);
    expect(list.data.map((r) => r.content)).toEqual(["eyes", "rocket"]);
    expect(
      (await octokit.rest.reactions.listForIssueComment({ ...repo, comment_id: comment.data.id, content: "rocket" })).data,
    ).toHaveLength(1);
    expect(standin.state.reactions.get(comment.data.id)?.map((r) => r.content)).toEqual(["eyes", "rocket"]);
    const rollup = (await octokit.rest.issues.getComment({ ...repo, comment_id: comment.data.id })).data.reactions;
    expect(rollup).toMatchObject({ total_count: 2, eyes: 1, rocket: 1 });
  });

  it("records deployments and statuses, filters them, and deactivates older ones", async () => {
    const environment = "preview/pr-7";
    const deployment = await octokit.rest.repos.createDeployment({
      ...repo,
      ref: "feature/login",
      environment,
      transient_environment: true,
      production_environment: false,
      auto_merge: false,
      required_contexts: [],
      payload: { sandbox: "pr-7" },
      description: "Sandbox for #7",
    });
    expect(deployment.status).toBe(201);
    expectValid("POST", "/repos/{owner}/{repo}/deployments", deployment);
    if (!("id" in deployment.data)) throw new Error("expected a deployment");
    const id = deployment.data.id;
    expect(deployment.data.sha).toBe(standin.state.pullRequests.get(7)?.headSha);

    const statusTemplate = "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses";
    expectValid(
      "POST",
      statusTemplate,
      await octokit.rest.repos.createDeploymentStatus({ ...repo, deployment_id: id, state: "in_progress" }),
    );
    const success = await octokit.rest.repos.createDeploymentStatus({
      ...repo,
      deployment_id: id,
      state: "success",
      environment_url: "https://pr-7.sandbox.example.test",
      log_url: "https://ci.example.test/run/1",
    });
    expectValid("POST", statusTemplate, success);
    expect(success.data).toMatchObject({
      environment_url: "https://pr-7.sandbox.example.test",
      target_url: "https://ci.example.test/run/1",
    });
    const statuses = await octokit.rest.repos.listDeploymentStatuses({ ...repo, deployment_id: id });
    expectValid("GET", statusTemplate, statuses);
    expect(statuses.data.map((s) => s.state)).toEqual(["success", "in_progress"]);
    expectValid(
      "GET",
      "/repos/{owner}/{repo}/deployments/{deployment_id}",
      await octokit.rest.repos.getDeployment({ ...repo, deployment_id: id }),
    );

    const filtered = await octokit.rest.repos.listDeployments({ ...repo, environment });
    expectValid("GET", "/repos/{owner}/{repo}/deployments", filtered);
    expect(filtered.data.map((d) => d.id)).toEqual([id]);
    expect((await octokit.rest.repos.listDeployments({ ...repo, ref: "develop" })).data).toEqual([]);
    expect(standin.state.deployments.find((d) => d.id === id)?.statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);

    // auto_inactive: a newer success in a non-transient environment turns the previous success inactive.
    const first = await octokit.rest.repos.createDeployment({
      ...repo,
      ref: "develop",
      environment: "staging",
      auto_merge: false,
      required_contexts: [],
    });
    const second = await octokit.rest.repos.createDeployment({
      ...repo,
      ref: "main",
      environment: "staging",
      auto_merge: false,
      required_contexts: [],
    });
    if (!("id" in first.data) || !("id" in second.data)) throw new Error("expected deployments");
    const [firstId, secondId] = [first.data.id, second.data.id];
    await octokit.rest.repos.createDeploymentStatus({ ...repo, deployment_id: firstId, state: "success" });
    await octokit.rest.repos.createDeploymentStatus({ ...repo, deployment_id: secondId, state: "success" });
    expect(standin.state.deployments.find((d) => d.id === firstId)?.statuses.map((s) => s.state)).toEqual(["success", "inactive"]);

    // Only inactive deployments may go while the environment has others.
    expect((await failureOf(octokit.rest.repos.deleteDeployment({ ...repo, deployment_id: secondId }))).status).toBe(422);
    const removed = await octokit.rest.repos.deleteDeployment({ ...repo, deployment_id: firstId });
    expect(removed.status).toBe(204);
    expect(standin.state.deletedDeployments).toContain(firstId);

    const noRef = await failureOf(octokit.rest.repos.createDeployment({ ...repo, ref: "no-such-branch" }));
    expect(noRef.status).toBe(422);
    expect(noRef.response?.data).toMatchObject({ message: "No ref found for: no-such-branch" });
  });

  it("gets and deletes environments", async () => {
    const environment_name = "preview/pr-7";
    expectValid(
      "GET",
      "/repos/{owner}/{repo}/environments/{environment_name}",
      await octokit.rest.repos.getEnvironment({ ...repo, environment_name }),
    );
    const deleted = await octokit.rest.repos.deleteAnEnvironment({ ...repo, environment_name });
    expect(deleted.status).toBe(204);
    expect(standin.state.environments.has(environment_name)).toBe(false);
    expect(standin.state.deletedEnvironments).toEqual([environment_name]);
    expect((await failureOf(octokit.rest.repos.deleteAnEnvironment({ ...repo, environment_name }))).status).toBe(404);

    const restricted = await startGitHubStandin({ canDeleteEnvironments: false });
    try {
      const client = getOctokit("any", { baseUrl: restricted.url });
      await client.rest.repos.createDeployment({
        ...repo,
        ref: "main",
        environment: "preview/x",
        auto_merge: false,
        required_contexts: [],
      });
      const refused = await failureOf(client.rest.repos.deleteAnEnvironment({ ...repo, environment_name: "preview/x" }));
      expect(refused.status).toBe(403);
      expect(restricted.state.environments.has("preview/x")).toBe(true);
      // Two stand-ins never share state.
      expect(restricted.state.deployments).toHaveLength(1);
    } finally {
      await restricted.close();
    }
  });

  it("rejects malformed requests with GitHub's 422 and records them", async () => {
    const before = standin.rejected.length;
    const noBody = await raw("POST", "/repos/Codertocat/Hello-World/issues/7/comments", { body: "{}" });
    expect(noBody.status).toBe(422);
    expect(noBody.data.message).toContain(`"body" wasn't supplied.`);
    expect(noBody.data.errors).toEqual([expect.objectContaining({ field: "body", code: "missing_field" })]);
    expect(responseProblems(findRoute("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"), 422, noBody.data)).toEqual([]);

    const badDeployment = await raw("POST", "/repos/Codertocat/Hello-World/deployments", {
      body: JSON.stringify({ ref: "main", transient_environment: "yes", required_contexts: "ci" }),
    });
    expect(badDeployment.status).toBe(422);
    expect(badDeployment.data.errors.map((e: { field: string }) => e.field).sort()).toEqual(["required_contexts", "transient_environment"]);

    const badReaction = await raw("POST", `/repos/Codertocat/Hello-World/issues/comments/${standin.commentsOn(7)[0]?.id}/reactions`, {
      body: JSON.stringify({ content: "thumbsup" }),
    });
    expect(badReaction.status).toBe(422);
    const badStatus = await failureOf(
      octokit.request("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", {
        ...repo,
        deployment_id: 1,
        state: "done" as never,
      }),
    );
    expect(badStatus.status).toBe(422);
    expect((await raw("GET", "/repos/Codertocat/Hello-World/issues/abc/comments")).status).toBe(422);
    expect((await raw("GET", "/repos/Codertocat/Hello-World/pulls?state=merged")).status).toBe(422);
    expect((await raw("POST", "/repos/Codertocat/Hello-World/issues/7/comments", { body: "{not json" })).status).toBe(400);

    const reasons = standin.rejected.slice(before).map((r) => [r.status, r.operationId]);
    expect(reasons).toEqual([
      [422, "issues/create-comment"],
      [422, "repos/create-deployment"],
      [422, "reactions/create-for-issue-comment"],
      [422, "repos/create-deployment-status"],
      [422, "issues/list-comments"],
      [422, "pulls/list"],
      [400, "issues/create-comment"],
    ]);
    expect(standin.rejected.at(-1)?.body).toBe("{not json");
  });

  it("answers unknown routes with 404 and unimplemented operations with 501, both recorded", async () => {
    const unknown = await raw("GET", "/repos/Codertocat/Hello-World/nope");
    expect(unknown.status).toBe(404);
    expect(standin.rejected.at(-1)).toMatchObject({ status: 404, path: "/repos/Codertocat/Hello-World/nope" });
    expect(standin.rejected.at(-1)?.operationId).toBeUndefined();
    const unimplemented = await failureOf(octokit.rest.issues.listForRepo(repo));
    expect(unimplemented.status).toBe(501);
    expect(standin.rejected.at(-1)).toMatchObject({ status: 501, operationId: "issues/list-for-repo" });
    // Another repository is simply not there, as on GitHub.
    expect((await failureOf(octokit.rest.repos.get({ owner: "someone", repo: "else" }))).status).toBe(404);
  });

  it("checks credentials and the User-Agent header", async () => {
    const wrong = await failureOf(getOctokit("wrong", { baseUrl: standin.url }).rest.repos.get(repo));
    expect(wrong.status).toBe(401);
    expect(wrong.response?.data).toMatchObject({ message: "Bad credentials" });
    const bearer = await raw("GET", "/repos/Codertocat/Hello-World", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bearer.status).toBe(200);
    const anonymous = await raw("GET", "/repos/Codertocat/Hello-World", { headers: { authorization: "" } });
    expect(anonymous.status).toBe(401);

    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${standin.url}/repos/Codertocat/Hello-World`);
      const req = httpRequest(url, { headers: { authorization: `token ${TOKEN}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(403);
    expect(standin.rejected.at(-1)?.reason).toBe("no User-Agent header");
  });

  it("has response validators that actually refuse wrong shapes", async () => {
    const route = findRoute("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments");
    const good = (await octokit.rest.issues.getComment({ ...repo, comment_id: standin.commentsOn(7)[0]?.id ?? 0 })).data as Record<
      string,
      unknown
    >;
    expect(responseProblems(route, 201, good)).toEqual([]);
    const { user: _user, ...withoutUser } = good;
    expect(responseProblems(route, 201, withoutUser).join()).toContain("must have required property 'user'");
    expect(responseProblems(route, 201, { ...good, created_at: "yesterday" }).join()).toContain('must match format "date-time"');
    expect(responseProblems(route, 201, { ...good, author_association: "FRIEND" }).join()).toContain(
      "must be equal to one of the allowed values",
    );
    // nullable: user may be null, a number may not.
    expect(responseProblems(route, 201, { ...good, user: null })).toEqual([]);
    expect(responseProblems(route, 201, { ...good, user: 5 })).not.toEqual([]);
    expect(responseProblems(route, 200, good)).toEqual(["issues/create-comment documents no 200 response"]);
    expect(responseProblems(findRoute("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}"), 204, { x: 1 })).not.toEqual([]);
  });

  it("fails the next requests on demand, for retry tests", async () => {
    standin.failNext(1, 403);
    const limited = await failureOf(octokit.rest.repos.get(repo));
    expect(limited.status).toBe(403);
    expect(limited.response?.headers["retry-after"]).toBe("1");
    expect(limited.response?.data).toMatchObject({ message: expect.stringContaining("secondary rate limit") });
    standin.failNext(2, 502, { "x-test": "yes" });
    expect((await failureOf(octokit.rest.repos.get(repo))).status).toBe(502);
    expect((await failureOf(octokit.rest.pulls.get({ ...repo, pull_number: 7 }))).status).toBe(502);
    expect((await octokit.rest.repos.get(repo)).status).toBe(200);
    const injected = standin.requests.filter((r) => r.injected);
    expect(injected.map((r) => r.status)).toEqual([403, 502, 502]);
    expect(injected.map((r) => r.operationId)).toEqual(["repos/get", "repos/get", "pulls/get"]);
  });
});

describe("webhook examples", () => {
  it("returns deep clones of real example payloads", () => {
    const opened = loadWebhookExample("pull_request.opened");
    expect(opened.action).toBe("opened");
    opened.pull_request.title = "changed";
    expect(loadWebhookExample("pull_request.opened").pull_request.title).not.toBe("changed");
    const push = loadWebhookExample("push", (p) => p.ref.startsWith("refs/heads/"));
    expect(withBranch(push, "feature/x").ref).toBe("refs/heads/feature/x");
    expect(() => loadWebhookExample("no_such_event")).toThrow(/no "no_such_event"/);
  });

  it("reshapes pull request fields only", () => {
    const payload = withPullRequest(loadWebhookExample("pull_request.opened"), {
      number: 7,
      headRef: "feature/login",
      headSha: "a".repeat(40),
      fork: true,
      forkOwner: "mallory",
      labels: ["sandbox:allow"],
    });
    expect(payload.number).toBe(7);
    expect(payload.pull_request).toMatchObject({
      number: 7,
      url: expect.stringMatching(/\/pulls\/7$/),
      head: {
        ref: "feature/login",
        sha: "a".repeat(40),
        label: "mallory:feature/login",
        repo: { fork: true, full_name: "mallory/Hello-World" },
      },
      labels: [expect.objectContaining({ name: "sandbox:allow" })],
    });
    expect(payload.pull_request.base.repo.full_name).toBe("Codertocat/Hello-World");
  });

  it("turns an issue comment into a pull request comment from a given user", () => {
    const payload = withComment(withPullRequest(loadWebhookExample("issue_comment.created"), { number: 7, labels: [] }), {
      body: "/sandbox extend 2h",
      author: "alice",
    });
    expect(payload.issue.pull_request.url).toMatch(/\/pulls\/7$/);
    expect(payload.issue.number).toBe(7);
    expect(payload.comment).toMatchObject({ body: "/sandbox extend 2h", user: { login: "alice" } });
    expect(payload.sender.login).toBe("alice");
    const moved = withRepository(payload, "acme/webapp");
    expect(moved.repository.full_name).toBe("acme/webapp");
    expect(moved.issue.url).toContain("/repos/acme/webapp/issues/7");
  });

  it("signs deliveries like GitHub", () => {
    const body = JSON.stringify(loadWebhookExample("ping"));
    const headers = webhookHeaders("ping", body, "s3cret");
    expect(headers["x-hub-signature-256"]).toBe(`sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`);
    expect(headers["x-github-event"]).toBe("ping");
  });
});
