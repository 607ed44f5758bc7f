// The GitHub stand-in playing GitHub for a GitHub App, driven by @octokit/app
// as the controller drives it: the App's JWT (RS256, checked against the
// public half of a key made here) opens only the App's own endpoints and
// buys an installation token; that token, while unexpired and within the
// installation's permissions, opens the rest. A JWT signed with another key,
// an expired token, a JWT on a repository endpoint, a token on the App's
// endpoints: all refused.
import { generateKeyPairSync } from "node:crypto";
import { App } from "@octokit/app";
import { Octokit as OctokitCore } from "@octokit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";

const APP_ID = 424242;
const INSTALLATION = 7070;
const keyPair = () =>
  generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
const key = keyPair();
const otherKey = keyPair();
let clock = Date.now();
let standin: GitHubStandin;

function appWith(privateKey: string): App {
  return new App({ appId: APP_ID, privateKey, Octokit: OctokitCore.defaults({ baseUrl: standin.url }) });
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    return (error as { status?: number }).status ?? -1;
  }
}

beforeAll(async () => {
  standin = await startGitHubStandin({
    repository: "acme/shop",
    pullRequests: [{ number: 3, headRef: "feature/x" }],
    app: {
      id: APP_ID,
      slug: "acme-previews",
      publicKey: key.publicKey,
      installationId: INSTALLATION,
      // No deployments permission: its endpoints must be refused.
      permissions: { metadata: "read", issues: "write", pull_requests: "read" },
      events: ["issue_comment"],
      now: () => clock,
    },
  });
});

afterAll(async () => {
  await standin?.close();
});

describe("the GitHub stand-in as GitHub for an App", () => {
  it("the App's JWT reads the App and the repository's installation, and buys an installation token", async () => {
    const app = appWith(key.privateKey);
    const { data } = await app.octokit.request("GET /app");
    expect(data?.slug).toBe("acme-previews");
    const found = await app.octokit.request("GET /repos/{owner}/{repo}/installation", { owner: "acme", repo: "shop" });
    expect(found.data.id).toBe(INSTALLATION);
    const octokit = await app.getInstallationOctokit(INSTALLATION);
    const comment = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: "acme",
      repo: "shop",
      issue_number: 3,
      body: "hello",
    });
    expect(comment.data.user?.login).toBe("acme-previews[bot]");
    const byRoute = (route: string) => standin.requests.filter((r) => `${r.method} ${r.route}` === route);
    expect(byRoute("POST /app/installations/{installation_id}/access_tokens").map((r) => r.authenticatedAs)).toEqual(["app"]);
    expect(byRoute("POST /repos/{owner}/{repo}/issues/{issue_number}/comments").map((r) => r.authenticatedAs)).toEqual([
      `installation ${INSTALLATION}`,
    ]);
    expect(standin.rejected).toEqual([]);
  });

  it("refuses a JWT signed with another key, and an installation that is not the App's", async () => {
    expect(await statusOf(appWith(otherKey.privateKey).octokit.request("GET /app"))).toBe(401);
    expect(standin.state.app?.jwtsRefused.at(-1)).toBe("A JSON web token could not be decoded");
    const installationToken = (privateKey: string, installationId: number) =>
      appWith(privateKey).octokit.auth({ type: "installation", installationId });
    expect(await statusOf(installationToken(otherKey.privateKey, INSTALLATION))).toBe(401);
    expect(await statusOf(installationToken(key.privateKey, INSTALLATION + 1))).toBe(404);
  });

  it("a token opens nothing of the App's, a JWT nothing of the repository's", async () => {
    const token = [...(standin.state.app?.tokens.keys() ?? [])][0] as string;
    const get = (path: string, authorization: string) =>
      fetch(`${standin.url}${path}`, { headers: { authorization, "user-agent": "test", accept: "application/vnd.github+json" } });
    expect((await get("/app", `token ${token}`)).status).toBe(401);
    const { token: jwt } = (await appWith(key.privateKey).octokit.auth({ type: "app" })) as { token: string };
    expect((await get("/repos/acme/shop/pulls/3", `Bearer ${jwt}`)).status).toBe(401);
    expect((await get("/repos/acme/shop/pulls/3", `token ${token}`)).status).toBe(200);
  });

  it("refuses what the installation was not granted (403, as GitHub says it)", async () => {
    const octokit = await appWith(key.privateKey).getInstallationOctokit(INSTALLATION);
    const refused = await octokit
      .request("POST /repos/{owner}/{repo}/deployments", { owner: "acme", repo: "shop", ref: "feature/x", required_contexts: [] })
      .catch((error: { status: number; message: string }) => error);
    expect((refused as { status: number }).status).toBe(403);
    expect((refused as { message: string }).message).toMatch(/Resource not accessible by integration \(needs deployments: write\)/);
  });

  it("an installation token expires after an hour, and a new one works", async () => {
    const token = [...(standin.state.app?.tokens.keys() ?? [])][0] as string;
    const pull = () =>
      fetch(`${standin.url}/repos/acme/shop/pulls/3`, { headers: { authorization: `token ${token}`, "user-agent": "test" } });
    expect((await pull()).status).toBe(200);
    clock += 3600_000;
    expect((await pull()).status).toBe(401);
    // A new App (no cached token) mints a fresh one; its JWT is dated by the real clock, which the stand-in's may be ahead of.
    clock = Date.now();
    const octokit = await appWith(key.privateKey).getInstallationOctokit(INSTALLATION);
    expect(
      (await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner: "acme", repo: "shop", pull_number: 3 })).status,
    ).toBe(200);
  });
});
