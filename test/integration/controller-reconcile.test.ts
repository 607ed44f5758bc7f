// The reconcile on the ground: deliveries GitHub sent while no controller
// listened are repaired within one period, by the one replica that holds the
// leader Lease, through the shared handler; when the leader dies, the other
// replica takes over; the App given access to the repository asks for a pass
// at once. Two `k8s-sandbox serve` processes, the GitHub stand-in (checked
// against @octokit/openapi) holding the facts, no webhook sent but that one.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addTag } from "../../src/adapters/image/registry.js";
import { sandboxIdentity } from "../../src/domain/identity.js";
import {
  type ControllerProcess,
  createControllerNamespace,
  post,
  serveEnv,
  signedDelivery,
  startControllerProcess,
} from "../support/controller.js";
import { eventually, groundEnv, kubectl, kubectlJson, namespaceGone, uniqueName } from "../support/cluster.js";
import { loadWebhookExample } from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";

const REPO = "acme/shop";
const PR = 11;
const BRANCH = "feature/ctl-missed";
const SECRET = randomBytes(24).toString("hex");
const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const PREFIX = `${uniqueName("ctlr")}-`;
const CONTROLLER_NS = uniqueName("ctlr-system");
const BASE_DOMAIN = "ctlr.example.test";
const SHA = randomBytes(20).toString("hex");
// A pull request GitHub knew of while the App had no access to the repository.
const GRANTED = { number: 12, branch: "feature/ctl-granted", commit: randomBytes(20).toString("hex") };

let github: GitHubStandin;
let replicas: ControllerProcess[] = [];
const args = ["--namespace", CONTROLLER_NS, "--prefix", PREFIX, "--reconcile-interval", "3s", "--wait-timeout", "2m"];
let env: Record<string, string>;

const namespaceOf = (branch: string) =>
  sandboxIdentity({ branch, pullRequest: null, fork: false, prefix: PREFIX, baseDomain: BASE_DOMAIN, scheme: "https" }).namespace;
const namespace = namespaceOf(BRANCH);

async function sandbox(name = namespace): Promise<{ metadata: { annotations?: Record<string, string> } } | undefined> {
  const got = await kubectl(["get", "namespace", name, "-o", "json"], { reject: false });
  return got.exitCode === 0 ? JSON.parse(got.stdout) : undefined;
}

const leads = (replica: ControllerProcess) => replica.logs.some((line) => line.includes("this replica leads the reconcile"));

beforeAll(async () => {
  await addTag(groundEnv("GROUND_IMAGE_ODOO"), `sha-${SHA}`);
  github = await startGitHubStandin({
    repository: REPO,
    token: TOKEN,
    actor: "preview-bot",
    pullRequests: [{ number: PR, headRef: BRANCH, headSha: SHA }],
  });
  await createControllerNamespace(CONTROLLER_NS, REPO, { baseDomain: BASE_DOMAIN });
  env = serveEnv({ GITHUB_WEBHOOK_SECRET: SECRET, GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.url });
});

afterAll(async () => {
  for (const replica of replicas) await replica.stop().catch(() => undefined);
  await github?.close();
  await kubectl(["delete", "namespace", namespace, namespaceOf(GRANTED.branch), "--wait=false"], { reject: false });
  await kubectl(["delete", "namespace", CONTROLLER_NS, "--wait=false"], { reject: false });
});

describe("the reconcile", () => {
  it("two replicas start; exactly one leads", async () => {
    replicas = [await startControllerProcess(args, env), await startControllerProcess(args, env)];
    await eventually("a leader", async () => replicas.some(leads), 60_000);
    // Give the other one more than a lease renewal to (wrongly) lead too.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(replicas.filter(leads)).toHaveLength(1);
    const lease = await kubectlJson<{ spec: { holderIdentity: string } }>([
      "get",
      "lease",
      "k8s-sandbox-controller-leader",
      "-n",
      CONTROLLER_NS,
    ]);
    expect(lease.spec.holderIdentity).toMatch(/^controller /);
  });

  it("a pull request opened while no delivery arrived gets its sandbox within a period", async () => {
    await eventually(
      "the missed PR's sandbox, ready",
      async () => (await sandbox())?.metadata.annotations?.["k8s-dev-sandbox/status"] === "ready",
      180_000,
    );
    expect((await sandbox())?.metadata.annotations?.["k8s-dev-sandbox/commit"]).toBe(SHA);
    const sticky = github.commentsOn(PR).filter((c) => c.body.includes("k8s-dev-sandbox:sticky"));
    expect(sticky).toHaveLength(1);
  });

  it("nothing changes on later passes while GitHub and the sandbox agree", async () => {
    const leader = replicas.find(leads) as ControllerProcess;
    const passes = () => leader.logs.filter((l) => l.includes("reconciled:")).length;
    // After a pass that saw the deployed sandbox: from then on, the facts agree.
    await eventually("a pass that found nothing to repair", async () => leader.logs.some((l) => l.includes("0 deploys queued")), 60_000);
    const before = (await sandbox())?.metadata.annotations?.["k8s-dev-sandbox/last-deployed-at"];
    const start = passes();
    await eventually("two more passes", async () => passes() >= start + 2, 60_000);
    expect((await sandbox())?.metadata.annotations?.["k8s-dev-sandbox/last-deployed-at"]).toBe(before);
  });

  it("the leader killed: the other replica takes over, and a PR closed without a delivery is swept", async () => {
    const leader = replicas.find(leads) as ControllerProcess;
    const follower = replicas.find((r) => r !== leader) as ControllerProcess;
    await leader.kill();
    replicas = [follower];
    // The lease (30 s) must run out first.
    await eventually("the follower leads", async () => leads(follower), 90_000);
    const pr = github.state.pullRequests.get(PR);
    if (pr) pr.state = "closed";
    github.state.branches.delete(BRANCH);
    await namespaceGone(namespace, 180_000);
  });

  it("the App given access to the repository: a pass at once, not at the end of the period", async () => {
    for (const replica of replicas) await replica.stop();
    // Half an hour between passes: only the delivery can explain a second one within the test.
    const slow = args.map((arg) => (arg === "3s" ? "30m" : arg));
    const replica = await startControllerProcess(slow, env);
    replicas = [replica];
    const passes = () => replica.logs.filter((line) => line.includes("reconciled:")).length;
    await eventually("its first pass", async () => passes() >= 1, 120_000);
    await addTag(groundEnv("GROUND_IMAGE_ODOO"), `sha-${GRANTED.commit}`);
    github.addPullRequest({ number: GRANTED.number, headRef: GRANTED.branch, headSha: GRANTED.commit });
    const payload = loadWebhookExample("installation_repositories.added");
    payload.repositories_added = [{ id: 4242, node_id: "R_kgDOshop", name: "shop", full_name: REPO, private: true }];
    const answer = await post(replica.url, signedDelivery("installation_repositories", payload, SECRET));
    expect(answer.status, answer.message).toBe(202);
    expect(answer).toMatchObject({ result: "queued", message: `reconcile of ${REPO} asked for` });
    await eventually(
      "the granted PR's sandbox, ready",
      async () => (await sandbox(namespaceOf(GRANTED.branch)))?.metadata.annotations?.["k8s-dev-sandbox/status"] === "ready",
      180_000,
    );
    expect(passes()).toBeGreaterThanOrEqual(2);
  });

  it("every request to GitHub was one GitHub would accept", () => {
    expect(github.rejected.map((r) => `${r.method} ${r.path}: ${r.reason ?? ""}`)).toEqual([]);
  });
});
