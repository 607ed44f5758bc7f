// The controller on the ground: `k8s-sandbox serve` as a real process on
// loopback, the kwok ground's API server and registry, and the GitHub
// stand-in checking every request against @octokit/openapi. Deliveries are
// @octokit/webhooks-examples payloads, signed (and a few unsigned, badly
// signed, oversized, malformed). Sandboxes appear, change and vanish; a
// delivery sent twice, and again after the process was SIGKILLed and
// restarted, runs once. The steps build on each other, in order.
import { createHmac, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addTag } from "../../src/adapters/image/registry.js";
import { sandboxIdentity } from "../../src/domain/identity.js";
import {
  type ControllerProcess,
  createControllerNamespace,
  serveEnv,
  deliveryCounts,
  post,
  type SentDelivery,
  signedDelivery,
  startControllerProcess,
} from "../support/controller.js";
import { eventually, groundEnv, kubectl, kubectlJson, namespaceGone, uniqueName } from "../support/cluster.js";
import { loadWebhookExample, pullRequestEvent as pullRequestPayload, withBranch, withRepository } from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";

const REPO = "acme/shop";
const PR = 7;
const BRANCH = "feature/ctl-preview";
const UNBUILT = "feature/ctl-unbuilt";
const SECRET = randomBytes(24).toString("hex");
const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const PREFIX = `${uniqueName("ctl")}-`;
const CONTROLLER_NS = uniqueName("ctl-system");
const BASE_DOMAIN = "ctl.example.test";
const sha = () => randomBytes(20).toString("hex");
const SHA_A = sha();
const SHA_B = sha();
const SHA_C = sha();

let github: GitHubStandin;
let controller: ControllerProcess;
let imageRepository = "";
let env: Record<string, string>;
// The delivery path alone: the reconcile would repair the same sandboxes on its own (controller-reconcile.test.ts).
const args = [
  "--namespace",
  CONTROLLER_NS,
  "--prefix",
  PREFIX,
  "--body-limit",
  "262144",
  "--wait-timeout",
  "5m",
  "--reconcile-interval",
  "0",
];

interface NamespaceJson {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
}

function namespaceOf(branch: string): string {
  return sandboxIdentity({ branch, pullRequest: null, fork: false, prefix: PREFIX, baseDomain: BASE_DOMAIN, scheme: "https" }).namespace;
}

async function sandbox(branch: string): Promise<NamespaceJson | undefined> {
  const got = await kubectl(["get", "namespace", namespaceOf(branch), "-o", "json"], { reject: false });
  return got.exitCode === 0 ? (JSON.parse(got.stdout) as NamespaceJson) : undefined;
}

/** The CI pushed the image of a commit: its sha-<commit> tag in the registry. */
async function imageBuilt(commit: string): Promise<void> {
  await addTag(groundEnv("GROUND_IMAGE_ODOO"), `sha-${commit}`);
}

function pullRequestEvent(action: string, commit: string) {
  return pullRequestPayload(action, { number: PR, headRef: BRANCH, headSha: commit, fork: false }, REPO);
}

/** GitHub's view moves with a push: the PR's head and its branch. */
function pushed(commit: string): void {
  const record = github.state.pullRequests.get(PR);
  if (record) record.headSha = commit;
  github.state.branches.set(BRANCH, commit);
}

async function deliver(delivery: SentDelivery, expected = "queued"): Promise<void> {
  const answer = await post(controller.url, delivery);
  expect(answer.status, answer.message).toBe(202);
  expect(answer.result, answer.message).toBe(expected);
}

async function countsReach(result: string, n: number): Promise<void> {
  await eventually(
    `${n} deliveries counted ${result}`,
    async () => ((await deliveryCounts(controller.url))[result] ?? 0) >= n,
    // A shared, busy ground can take minutes to bind a volume; the deploy's own wait is 5 minutes.
    330_000,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${controller.logs.slice(-40).join("\n")}`);
  });
}

async function helmRevision(namespace: string): Promise<number> {
  const secrets = await kubectlJson<{ items: unknown[] }>(["get", "secrets", "-n", namespace, "-l", "owner=helm"]);
  return secrets.items.length;
}

beforeAll(async () => {
  imageRepository = groundEnv("GROUND_IMAGE_ODOO").replace(/:[^:/]+$/, "");
  github = await startGitHubStandin({
    repository: REPO,
    token: TOKEN,
    // Token mode with a machine user's token: GET /user names the login whose sticky comment is edited in place.
    actor: "preview-bot",
    permissions: { "writer-wendy": "write" },
    pullRequests: [{ number: PR, headRef: BRANCH, headSha: SHA_A }],
    branches: { [UNBUILT]: SHA_C },
  });
  await createControllerNamespace(CONTROLLER_NS, REPO, { baseDomain: BASE_DOMAIN, ttl: "1d", buildWorkflow: "preview-build.yml" });
  env = serveEnv({ GITHUB_WEBHOOK_SECRET: SECRET, GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.url });
  await imageBuilt(SHA_A);
  controller = await startControllerProcess(args, env);
});

afterAll(async () => {
  await controller?.stop().catch(() => undefined);
  await github?.close();
  for (const branch of [BRANCH, UNBUILT]) {
    await kubectl(["delete", "namespace", namespaceOf(branch), "--wait=false"], { reject: false });
  }
  await kubectl(["delete", "namespace", CONTROLLER_NS, "--wait=false"], { reject: false });
});

describe("the controller", () => {
  it("answers /healthz, and /readyz once the API server, the configuration and the token are good", async () => {
    expect((await fetch(`${controller.url}/healthz`)).status).toBe(200);
    await eventually("/readyz 200", async () => (await fetch(`${controller.url}/readyz`)).status === 200, 30_000);
  });

  it("refuses unsigned, badly signed, malformed and oversized deliveries and changes nothing", async () => {
    const good = signedDelivery("pull_request", pullRequestEvent("opened", SHA_A), SECRET);
    const unsigned = { ...good, headers: { ...good.headers } };
    delete unsigned.headers["x-hub-signature-256"];
    expect((await post(controller.url, unsigned)).status).toBe(401);
    const forged = signedDelivery("pull_request", pullRequestEvent("opened", SHA_A), "not-the-secret-at-all-0000");
    expect((await post(controller.url, forged)).status).toBe(401);
    // Signed correctly, but not JSON: the signature is fine, the body is not.
    const malformed = signedDelivery("pull_request", {}, SECRET);
    malformed.body = "{not json";
    malformed.headers["x-hub-signature-256"] = `sha256=${createHmac("sha256", SECRET).update(malformed.body).digest("hex")}`;
    expect((await post(controller.url, malformed)).status).toBe(400);
    const big = pullRequestEvent("opened", SHA_A);
    big.padding = "x".repeat(300_000);
    expect((await post(controller.url, signedDelivery("pull_request", big, SECRET))).status).toBe(413);
    expect((await deliveryCounts(controller.url)).refused).toBe(4);
    expect(await sandbox(BRANCH)).toBeUndefined();
    expect(github.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  let opened: SentDelivery;
  let synchronized: SentDelivery;

  it("a pull request opened: the sandbox appears with the engine's labels, and GitHub hears of it", async () => {
    opened = signedDelivery("pull_request", pullRequestEvent("opened", SHA_A), SECRET);
    await deliver(opened);
    await countsReach("processed", 1);
    const ns = await sandbox(BRANCH);
    expect(ns?.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("k8s-dev-sandbox");
    expect(ns?.metadata.annotations?.["k8s-dev-sandbox/commit"]).toBe(SHA_A);
    expect(ns?.metadata.annotations?.["k8s-dev-sandbox/repo"]).toBe(REPO);
    expect(ns?.metadata.annotations?.["k8s-dev-sandbox/image"]).toBe(`${imageRepository}:sha-${SHA_A}`);
    const stickies = github.commentsOn(PR).filter((c) => c.body.includes("k8s-dev-sandbox:sticky"));
    expect(stickies).toHaveLength(1);
    expect(stickies[0]?.body).toContain("Preview ready");
    const deployment = github.state.deployments.at(-1);
    expect(deployment?.statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
  });

  it("the same delivery again is acknowledged and not run again", async () => {
    const revision = await helmRevision(namespaceOf(BRANCH));
    await deliver(opened, "duplicate");
    expect((await deliveryCounts(controller.url)).duplicate).toBe(1);
    expect(await helmRevision(namespaceOf(BRANCH))).toBe(revision);
  });

  it("a push to the pull request: the sandbox changes to the new commit", async () => {
    await imageBuilt(SHA_B);
    pushed(SHA_B);
    synchronized = signedDelivery("pull_request", pullRequestEvent("synchronize", SHA_B), SECRET);
    await deliver(synchronized);
    await countsReach("processed", 2);
    expect((await sandbox(BRANCH))?.metadata.annotations?.["k8s-dev-sandbox/commit"]).toBe(SHA_B);
  });

  it("a commit without an image: the repository's preview workflow is started, and its workflow_run deploys", async () => {
    const push = withRepository(withBranch(loadWebhookExample("push"), UNBUILT), REPO);
    push.after = SHA_C;
    push.deleted = false;
    await deliver(signedDelivery("push", push, SECRET));
    await eventually("the workflow dispatch", async () => github.state.dispatches.length > 0, 60_000);
    expect(github.state.dispatches).toEqual([{ workflow: "preview-build.yml", ref: UNBUILT, inputs: {} }]);
    expect(await sandbox(UNBUILT)).toBeUndefined();

    await imageBuilt(SHA_C);
    const run = withRepository(loadWebhookExample("workflow_run.completed"), REPO);
    Object.assign(run.workflow_run, {
      conclusion: "success",
      event: "workflow_dispatch",
      head_sha: SHA_C,
      head_branch: UNBUILT,
      pull_requests: [],
    });
    run.workflow_run.head_repository.full_name = REPO;
    await deliver(signedDelivery("workflow_run", run, SECRET));
    const ns = await eventually("the unbuilt branch's sandbox", async () => sandbox(UNBUILT), 180_000);
    await eventually(
      "its deploy recorded",
      async () => (await sandbox(UNBUILT))?.metadata.annotations?.["k8s-dev-sandbox/status"] === "ready",
      180_000,
    );
    expect(ns.metadata.annotations?.["k8s-dev-sandbox/commit"]).toBe(SHA_C);
  });

  it("after SIGKILL and a restart, redeliveries of handled deliveries are not run again (the ledger in Kubernetes decides)", async () => {
    const namespace = namespaceOf(BRANCH);
    const revision = await helmRevision(namespace);
    await controller.kill();
    controller = await startControllerProcess(args, env);
    // A new process remembers nothing: it queues them, and the ledger says they were taken.
    await deliver(synchronized);
    await deliver(opened);
    await countsReach("duplicate", 2);
    const counts = await deliveryCounts(controller.url);
    expect(counts.processed ?? 0).toBe(0);
    expect(await helmRevision(namespace)).toBe(revision);
    expect((await sandbox(BRANCH))?.metadata.annotations?.["k8s-dev-sandbox/commit"]).toBe(SHA_B);
  });

  it("the pull request closed and the branch deleted: both sandboxes vanish", async () => {
    await deliver(signedDelivery("pull_request", pullRequestEvent("closed", SHA_B), SECRET));
    const deleted = withRepository(withBranch(loadWebhookExample("delete"), UNBUILT), REPO);
    await deliver(signedDelivery("delete", deleted, SECRET));
    await countsReach("processed", 2);
    await namespaceGone(namespaceOf(BRANCH), 120_000);
    await namespaceGone(namespaceOf(UNBUILT), 120_000);
    const stickies = github.commentsOn(PR).filter((c) => c.body.includes("k8s-dev-sandbox:sticky"));
    expect(stickies).toHaveLength(1);
    expect(stickies[0]?.body).toContain("Preview destroyed");
  });

  it("the ledger is a handful of ConfigMaps in the controller's namespace, not one object per delivery", async () => {
    const maps = await kubectlJson<{ items: { metadata: { name: string }; data?: Record<string, string> }[] }>([
      "get",
      "configmaps",
      "-n",
      CONTROLLER_NS,
      "-l",
      "app.kubernetes.io/component=delivery-ledger",
    ]);
    const ids = maps.items.flatMap((m) => Object.keys(m.data ?? {}));
    expect(ids).toContain(opened.headers["x-github-delivery"]);
    expect(ids).toContain(synchronized.headers["x-github-delivery"]);
    expect(maps.items.length).toBeLessThanOrEqual(16);
  });

  it("every request to GitHub was one GitHub would accept, and no secret reached the log", async () => {
    expect(github.rejected.map((r) => `${r.method} ${r.path}: ${r.reason ?? ""}`)).toEqual([]);
    const text = controller.logs.join("\n");
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(TOKEN);
    expect(text).toContain('"delivery"');
  });
});
