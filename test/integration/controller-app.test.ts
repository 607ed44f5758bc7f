// The controller authenticated as a GitHub App, on the ground: `k8s-sandbox
// serve --app-id N --app-private-key-file FILE` as a real process, the GitHub
// stand-in playing GitHub for that App (app-auth.ts: the JWT checked with
// RS256 against the public half of a key made here, iss = the App's id, its
// iat/exp window; installation tokens that expire; the installation's
// permissions are those of docs/github-app-manifest.json and are enforced).
// A signed delivery naming its installation deploys the sandbox and comments
// on the pull request with that installation's token. A controller holding a
// key that is not the App's is not ready, says why, and deploys nothing.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addTag } from "../../src/adapters/image/registry.js";
import { sandboxIdentity } from "../../src/domain/identity.js";
import {
  type ControllerProcess,
  createControllerNamespace,
  serveEnv,
  deliveryCounts,
  post,
  signedDelivery,
  startControllerProcess,
} from "../support/controller.js";
import { eventually, groundEnv, kubectl, uniqueName } from "../support/cluster.js";
import { pullRequestEvent as pullRequestPayload } from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";

const REPO = "acme/shop";
const APP_ID = 31337;
const SLUG = "acme-previews";
const INSTALLATION = 4242;
const SECRET = randomBytes(24).toString("hex");
const PREFIX = `${uniqueName("ha-app")}-`;
const CONTROLLER_NS = uniqueName("ha-app-system");
const BASE_DOMAIN = "app.example.test";
const manifest = JSON.parse(readFileSync("docs/github-app-manifest.json", "utf8")) as {
  default_permissions: Record<string, string>;
  default_events: string[];
};
const rsa = () =>
  generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
const appKey = rsa();
const strangerKey = rsa();
const sha = () => randomBytes(20).toString("hex");
const GOOD = { number: 11, branch: "feature/ha-app-good", commit: sha() };
const WRONG = { number: 12, branch: "feature/ha-app-wrong-key", commit: sha() };

let github: GitHubStandin;
let keyDir: string;
let controller: ControllerProcess | undefined;
let stranger: ControllerProcess | undefined;
let env: Record<string, string>;
const args = [
  "--namespace",
  CONTROLLER_NS,
  "--prefix",
  PREFIX,
  "--wait-timeout",
  "5m",
  "--reconcile-interval",
  "0",
  "--app-id",
  String(APP_ID),
];

function namespaceOf(branch: string): string {
  return sandboxIdentity({ branch, pullRequest: null, fork: false, prefix: PREFIX, baseDomain: BASE_DOMAIN, scheme: "https" }).namespace;
}

async function namespaceExists(branch: string): Promise<boolean> {
  return (await kubectl(["get", "namespace", namespaceOf(branch)], { reject: false })).exitCode === 0;
}

/** A pull_request delivery as GitHub sends it to an App: it names the installation it came through. */
function opened(pr: typeof GOOD) {
  const payload = pullRequestPayload("opened", { number: pr.number, headRef: pr.branch, headSha: pr.commit, fork: false }, REPO);
  payload.installation = { id: INSTALLATION, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==" };
  return signedDelivery("pull_request", payload, SECRET);
}

async function readyz(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: await response.text() };
}

beforeAll(async () => {
  const _imageRepository = groundEnv("GROUND_IMAGE_ODOO").replace(/:[^:/]+$/, "");
  github = await startGitHubStandin({
    repository: REPO,
    permissions: {},
    pullRequests: [
      { number: GOOD.number, headRef: GOOD.branch, headSha: GOOD.commit },
      { number: WRONG.number, headRef: WRONG.branch, headSha: WRONG.commit },
    ],
    app: {
      id: APP_ID,
      slug: SLUG,
      publicKey: appKey.publicKey,
      installationId: INSTALLATION,
      permissions: manifest.default_permissions,
      events: manifest.default_events,
    },
  });
  // The key reaches the controller as a file (a mounted Secret), never in argv or an environment value.
  keyDir = mkdtempSync(join(tmpdir(), "ha-app-keys-"));
  writeFileSync(join(keyDir, "app.pem"), appKey.privateKey, { mode: 0o600 });
  writeFileSync(join(keyDir, "stranger.pem"), strangerKey.privateKey, { mode: 0o600 });
  await createControllerNamespace(CONTROLLER_NS, REPO, { baseDomain: BASE_DOMAIN, ttl: "1d" });
  env = serveEnv({ GITHUB_WEBHOOK_SECRET: SECRET, GITHUB_API_URL: github.url });
  for (const pr of [GOOD, WRONG]) await addTag(groundEnv("GROUND_IMAGE_ODOO"), `sha-${pr.commit}`);
});

afterAll(async () => {
  await controller?.stop().catch(() => undefined);
  await stranger?.stop().catch(() => undefined);
  await github?.close();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  for (const pr of [GOOD, WRONG]) await kubectl(["delete", "namespace", namespaceOf(pr.branch), "--wait=false"], { reject: false });
  await kubectl(["delete", "namespace", CONTROLLER_NS, "--wait=false"], { reject: false });
});

describe("the controller as a GitHub App", () => {
  it("is ready once GitHub accepts the App's JWT", async () => {
    controller = await startControllerProcess([...args, "--app-private-key-file", join(keyDir, "app.pem")], env);
    const running = controller;
    await eventually("/readyz 200", async () => (await readyz(running.url)).status === 200, 60_000);
    expect(github.requests.filter((r) => r.route === "/app").map((r) => r.authenticatedAs)).toContain("app");
  });

  it("a delivery through the installation: the sandbox is deployed and the PR commented, with that installation's token", async () => {
    const running = controller as ControllerProcess;
    const answer = await post(running.url, opened(GOOD));
    expect(answer.status, answer.message).toBe(202);
    expect(answer.result).toBe("queued");
    await eventually("the delivery processed", async () => ((await deliveryCounts(running.url)).processed ?? 0) >= 1, 330_000).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\n${running.logs.slice(-30).join("\n")}`);
      },
    );
    expect(await namespaceExists(GOOD.branch)).toBe(true);
    const stickies = github.commentsOn(GOOD.number).filter((c) => c.body.includes("k8s-dev-sandbox:sticky"));
    expect(stickies).toHaveLength(1);
    expect(stickies[0]?.author).toBe(`${SLUG}[bot]`);
    expect(stickies[0]?.body).toContain("Preview ready");
    expect(github.state.deployments.at(-1)?.statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);

    // The token was bought with the App's JWT, for the delivery's installation; everything else carried that token.
    const exchanges = github.requests.filter((r) => r.route === "/app/installations/{installation_id}/access_tokens");
    expect(exchanges.map((r) => [r.path, r.status, r.authenticatedAs])).toEqual([
      [`/app/installations/${INSTALLATION}/access_tokens`, 201, "app"],
    ]);
    const repositoryCalls = github.requests.filter((r) => r.path.startsWith("/repos/"));
    expect(repositoryCalls.length).toBeGreaterThan(3);
    for (const r of repositoryCalls)
      expect(`${r.method} ${r.path}: ${r.authenticatedAs}`).toBe(`${r.method} ${r.path}: installation ${INSTALLATION}`);
    expect(repositoryCalls.some((r) => r.method === "POST" && r.route === "/repos/{owner}/{repo}/issues/{issue_number}/comments")).toBe(
      true,
    );
    // Nothing refused: the manifest's permissions were enough for all of it.
    expect(github.rejected.map((r) => `${r.method} ${r.path}: ${r.reason ?? ""}`)).toEqual([]);
  });

  it("with a key that is not the App's: not ready and why, the delivery fails with a clear error, nothing deployed", async () => {
    stranger = await startControllerProcess([...args, "--app-private-key-file", join(keyDir, "stranger.pem")], env);
    const running = stranger;
    const ready = await eventually(
      "/readyz answers",
      async () => {
        const answer = await readyz(running.url);
        return answer.status === 503 && answer.body.includes("GitHub App") ? answer : undefined;
      },
      60_000,
    );
    expect(ready.body).toContain(`GitHub App ${APP_ID}`);
    expect(ready.body).toContain("private key");
    const before = github.requests.filter((r) => r.path.startsWith("/repos/")).length;
    const answer = await post(running.url, opened(WRONG));
    expect(answer.status).toBe(202);
    await eventually("the delivery counted failed", async () => ((await deliveryCounts(running.url)).failed ?? 0) >= 1, 60_000);
    const failure = running.logs.find((line) => line.includes(`getting a token of installation ${INSTALLATION}`)) ?? "";
    expect(failure).toContain(`GitHub App ${APP_ID}`);
    expect(failure).toContain("HTTP 401");
    expect(failure).toContain("--app-private-key-file");
    expect(await namespaceExists(WRONG.branch)).toBe(false);
    expect(github.commentsOn(WRONG.number)).toEqual([]);
    expect(github.requests.filter((r) => r.path.startsWith("/repos/")).length).toBe(before);
    expect(github.state.app?.jwtsRefused).toContain("A JSON web token could not be decoded");
  });

  it("no key material, token or webhook secret reached a log", () => {
    const text = [...(controller?.logs ?? []), ...(stranger?.logs ?? [])].join("\n");
    const body = (pem: string) => pem.split("\n").filter((line) => line.length > 40);
    for (const line of [...body(appKey.privateKey), ...body(strangerKey.privateKey)]) expect(text).not.toContain(line);
    expect(text).not.toContain(SECRET);
    for (const token of github.state.app?.tokens.keys() ?? []) expect(text).not.toContain(token);
    expect(text).toContain('"delivery"');
  });
});
