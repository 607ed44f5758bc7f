// The engine's GitHub adapter against the OpenAPI-checked stand-in: sticky
// comment, permissions, deployments, retries on GitHub's transient errors.
import { getOctokit } from "@actions/github";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHub, STICKY_MARKER } from "../../src/adapters/github/client.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";

let standin: GitHubStandin;
let github: GitHub;
const log = new MemoryLogger();

beforeAll(async () => {
  standin = await startGitHubStandin({
    repository: "acme/shop",
    token: "t0ken-for-tests",
    permissions: { wendy: "write", mona: "maintain", tom: "triage", rob: "read" },
    pullRequests: [{ number: 7, headRef: "feature/x" }],
    branches: ["feature/x", "develop"],
    canDeleteEnvironments: false,
  });
  github = new GitHub({ token: "t0ken-for-tests", repository: "acme/shop", baseUrl: standin.url, logger: log });
});

afterAll(async () => {
  await standin.close();
});

// The first request to each operation compiles its schema validators: slow on a busy machine.
describe("GitHub adapter", { timeout: 60_000 }, () => {
  it("keeps one sticky comment per PR, edited in place", async () => {
    const first = await github.upsertStickyComment(7, "deploying");
    const second = await github.upsertStickyComment(7, "ready");
    expect(second).toBe(first);
    const ours = standin.commentsOn(7).filter((c) => c.body.includes(STICKY_MARKER));
    expect(ours).toHaveLength(1);
    expect(ours[0]?.body).toBe(`${STICKY_MARKER}\nready`);
  });

  it("never takes over a person's comment that quotes the marker", async () => {
    // A user (not a bot) pastes the marker into a comment on another PR.
    const asUser = getOctokit("t0ken-for-tests", { baseUrl: standin.url });
    standin.addPullRequest({ number: 8, headRef: "develop" });
    const bait = await asUser.rest.issues.createComment({ owner: "acme", repo: "shop", issue_number: 8, body: `hello ${STICKY_MARKER}` });
    const comment = standin.commentsOn(8).find((c) => c.id === bait.data.id);
    if (comment) comment.author = "mallory";
    const id = await github.upsertStickyComment(8, "ready");
    expect(id).not.toBe(bait.data.id);
    expect(standin.commentsOn(8).find((c) => c.id === bait.data.id)?.body).toBe(`hello ${STICKY_MARKER}`);
  });

  it.each([
    ["wendy", "write"],
    ["mona", "maintain"],
    ["tom", "triage"],
    ["rob", "read"],
    ["stranger", "none"],
  ])("reads %s's permission as %s", async (user, expected) => {
    expect(await github.permission(user)).toBe(expected);
  });

  it("creates a transient deployment with statuses and retires its environment", async () => {
    const id = await github.createDeployment({ ref: "feature/x", environment: "preview/feature-x", description: "preview feature-x" });
    await github.setDeploymentStatus(id, "in_progress", { description: "deploying" });
    await github.setDeploymentStatus(id, "success", { environmentUrl: "https://feature-x.preview.example.com" });
    const deployment = standin.state.deployments.find((d) => d.id === id);
    expect(deployment?.statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
    const retired = await github.retireEnvironment("preview/feature-x");
    // The workflow token may not delete environments: inactive is what shows it destroyed.
    expect(retired).toEqual({ inactive: 1, deleted: false });
    expect(deployment?.statuses.at(-1)?.state).toBe("inactive");
  });

  it("lists open pull requests and branches for the sweep", async () => {
    expect([...(await github.openPullRequests())].sort()).toEqual([7, 8]);
    expect(await github.branches()).toEqual(new Set(["main", "feature/x", "develop"]));
  });

  it.each([
    [502, {}],
    [403, { "retry-after": "1" }],
  ])("retries after a %s from GitHub", async (status, headers) => {
    standin.failNext(1, status, headers);
    const before = standin.requests.length;
    await github.reply(7, "still here");
    const tried = standin.requests.slice(before).filter((r) => r.method === "POST");
    expect(tried.map((r) => r.status)).toEqual([status, 201]);
  });

  it("made no request GitHub would refuse", () => {
    expect(standin.rejected.map((r) => `${r.method} ${r.path}: ${r.reason ?? r.status}`)).toEqual([]);
  });
});
