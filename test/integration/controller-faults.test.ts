// The API server gone for 30 s, under a running controller. `k8s-sandbox
// serve` reaches Kubernetes only through test/support/flaky-api.ts (a proxy
// in front of the shared ground's API server, which itself is never
// touched), so its traffic can be cut: open connections dropped, new ones
// refused. While cut, /readyz answers 503 and says why, deliveries are still
// acknowledged (202, queued) and the queue's gauges show them, and nothing is
// run, failed or dropped. When the API server is back, the queued work
// completes (the sandboxes appear) and /readyz is 200 again.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
import { type FlakyApi, startFlakyApi } from "../support/flaky-api.js";
import { pullRequestEvent as pullRequestPayload } from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";

const REPO = "acme/shop";
const SECRET = randomBytes(24).toString("hex");
const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const PREFIX = `${uniqueName("ha-flt")}-`;
const CONTROLLER_NS = uniqueName("ha-flt-system");
const BASE_DOMAIN = "faults.example.test";
const OUTAGE_MS = 30_000;
const PULLS = [21, 22, 23].map((number) => ({ number, branch: `feature/ha-flt-${number}`, commit: randomBytes(20).toString("hex") }));

let github: GitHubStandin;
let flaky: FlakyApi;
let dir: string;
let controller: ControllerProcess | undefined;

function namespaceOf(branch: string): string {
  return sandboxIdentity({ branch, pullRequest: null, fork: false, prefix: PREFIX, baseDomain: BASE_DOMAIN, scheme: "https" }).namespace;
}

/** Asked of the ground directly, not through the proxy. */
async function namespaceExists(branch: string): Promise<boolean> {
  return (await kubectl(["get", "namespace", namespaceOf(branch)], { reject: false })).exitCode === 0;
}

async function readyz(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: await response.text() };
}

async function gauge(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  if (!found?.[1]) throw new Error(`no ${name} in /metrics`);
  return Number(found[1]);
}

beforeAll(async () => {
  const image = groundEnv("GROUND_IMAGE_ODOO");
  github = await startGitHubStandin({
    repository: REPO,
    token: TOKEN,
    actor: "preview-bot",
    pullRequests: PULLS.map((p) => ({ number: p.number, headRef: p.branch, headSha: p.commit })),
  });
  await createControllerNamespace(CONTROLLER_NS, REPO, { baseDomain: BASE_DOMAIN, ttl: "1d" });
  for (const pr of PULLS) await addTag(image, `sha-${pr.commit}`);
  // Everything the controller (and the helm it runs) says to Kubernetes goes through the proxy.
  flaky = await startFlakyApi(groundEnv("KUBECONFIG"));
  dir = mkdtempSync(join(tmpdir(), "ha-flt-"));
  writeFileSync(join(dir, "kubeconfig"), flaky.kubeconfig, { mode: 0o600 });
  controller = await startControllerProcess(
    ["--namespace", CONTROLLER_NS, "--prefix", PREFIX, "--wait-timeout", "5m", "--reconcile-interval", "0", "--concurrency", "1"],
    serveEnv({ KUBECONFIG: join(dir, "kubeconfig"), GITHUB_WEBHOOK_SECRET: SECRET, GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.url }),
  );
});

afterAll(async () => {
  await controller?.stop().catch(() => undefined);
  await flaky?.close();
  await github?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const pr of PULLS) await kubectl(["delete", "namespace", namespaceOf(pr.branch), "--wait=false"], { reject: false });
  await kubectl(["delete", "namespace", CONTROLLER_NS, "--wait=false"], { reject: false });
});

describe("the API server gone for 30 s", () => {
  it("before: ready", async () => {
    const running = controller as ControllerProcess;
    await eventually("/readyz 200", async () => (await readyz(running.url)).status === 200, 60_000);
  });

  it("while it is gone: /readyz 503 with why, deliveries acknowledged and queued, none run or failed", async () => {
    const running = controller as ControllerProcess;
    flaky.cut(OUTAGE_MS);
    const notReady = await eventually(
      "/readyz 503",
      async () => {
        const answer = await readyz(running.url);
        return answer.status === 503 ? answer : undefined;
      },
      20_000,
    );
    expect(notReady.body).toContain("the API server does not answer");

    for (const pr of PULLS) {
      const payload = pullRequestPayload("opened", { number: pr.number, headRef: pr.branch, headSha: pr.commit, fork: false }, REPO);
      const answer = await post(running.url, signedDelivery("pull_request", payload, SECRET));
      expect(answer.status, answer.message).toBe(202);
      expect(answer.result).toBe("queued");
    }
    // One operation at a time (--concurrency 1): the first waits for its ledger claim, the other two in the queue.
    await eventually("the first taken", async () => (await gauge(running.url, "k8s_sandbox_operations_running")) === 1, 10_000);
    expect(await gauge(running.url, "k8s_sandbox_queue_depth")).toBe(2);
    const counts = await deliveryCounts(running.url);
    expect(counts.processed ?? 0).toBe(0);
    expect(counts.failed ?? 0).toBe(0);
    for (const pr of PULLS) expect(await namespaceExists(pr.branch)).toBe(false);
    // The ledger's read is retried for ~8 s (withRetry) before the worker says it waits and backs off.
    await eventually(
      "the worker saying it waits",
      async () => running.logs.some((line) => line.includes("waits: the delivery ledger could not be written")),
      20_000,
    );
    // All of the above was seen while the proxy was still dark; otherwise this run proved nothing.
    expect(flaky.dark, "the outage ended before the checks were done (a very slow machine): nothing was proven").toBe(true);
    expect(flaky.refused).toBeGreaterThan(0);
  });

  it("after: the queued work completes, the sandboxes appear, nothing lost, /readyz 200", async () => {
    const running = controller as ControllerProcess;
    await eventually("the API server back", async () => !flaky.dark, OUTAGE_MS + 5_000);
    await eventually("three deliveries processed", async () => ((await deliveryCounts(running.url)).processed ?? 0) >= 3, 330_000).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\n${running.logs.slice(-30).join("\n")}`);
      },
    );
    const counts = await deliveryCounts(running.url);
    expect(counts).toMatchObject({ processed: 3 });
    expect(counts.failed ?? 0).toBe(0);
    expect(counts.duplicate ?? 0).toBe(0);
    for (const pr of PULLS) expect(await namespaceExists(pr.branch), pr.branch).toBe(true);
    for (const pr of PULLS) expect(github.commentsOn(pr.number).filter((c) => c.body.includes("Preview ready"))).toHaveLength(1);
    expect(await gauge(running.url, "k8s_sandbox_queue_depth")).toBe(0);
    expect(await gauge(running.url, "k8s_sandbox_operations_running")).toBe(0);
    await eventually("/readyz 200", async () => (await readyz(running.url)).status === 200, 30_000);
    expect(github.rejected).toEqual([]);
  });
});
