// charts/sandbox-controller installed on the ground as a user installs it:
// charts/sandbox-access first (the controller's ServiceAccount in `subjects`,
// the sweep's in `sweepers`), then the chart with a webhook secret and a
// token, running the product image (bundled from the current source) on the
// real node against the GitHub stand-in. Proves the pod runs under its
// security context and answers /healthz and /readyz, `helm test` passes,
// both ServiceAccounts are refused (real 403s, with their own tokens)
// everywhere outside their rights, a Job made from the CronJob removes
// an expired sandbox of ours, leaves a fresh one and a foreign one, and says
// what it removed in an Event; and, from inside the cluster, a signed
// pull_request delivery becomes a sandbox (the CI's image found in the
// registry through its pod-facing name, helm run in the pod with the pod's
// own rights, the URL commented on the PR) that closing the PR removes.
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { addTag } from "../../src/adapters/image/registry.js";
import { HOUR } from "../../src/domain/duration.js";
import { namespaceMetadata, podSecurityLabels } from "../../src/domain/metadata.js";
import { NODE_IP, REAL_NODE_SCHEDULING } from "../ground/node-config.js";
import { eventually, groundEnv, kubectl, kubectlJson, namespaceGone, tool, uniqueName } from "../support/cluster.js";
import { post, signedDelivery } from "../support/controller.js";
import { loadWebhookExample, pullRequestEvent as pullRequestPayload } from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";
import { repoRoot } from "../support/helm.js";
import { apply, createRestrictedNamespace, runOnce, waitForJob } from "../support/pods.js";
import { execIn, groundImage, realNodeMissing, requireRealNode } from "../support/real-node.js";
import { ensureSandboxImage } from "../support/sandbox-image.js";

const id = uniqueName("hc").slice(3); // six hex digits, shared by every name below
const ns = `hc-ctl-${id}`;
const accessName = `hc-${id}`;
const prefix = `hc-${id}-`;
const victim = `hc-victim-${id}`;
const release = "ctl";
const fullname = `${release}-sandbox-controller`;
const sweepName = `${fullname}-sweep`;
const sandboxes = { old: `${prefix}old`, fresh: `${prefix}fresh`, foreign: `${prefix}foreign` };
const token = `ghs_${id}standintoken000000000000`;
// The repository opted in through the chart's values, and its pull request.
const REPO = "acme/shop";
const PR = 17;
const BRANCH = "feature/in-cluster";
const COMMIT = `${id}${"c0ffee".repeat(5)}0000`.slice(0, 40);
let work = "";
let standin: GitHubStandin | undefined;
const relays: ChildProcess[] = [];
/** The ground's registry as pods reach it: a relay on the bridge, as for the GitHub stand-in. */
let podRegistry = "";

/** A TCP relay from the bridge address to a loopback port (the ground's own relay program). */
function relayToBridge(port: string): void {
  relays.push(
    spawn(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "test", "ground", "tcp-relay.ts"), `${NODE_IP}:${port}`, `127.0.0.1:${port}`],
      { cwd: repoRoot, stdio: "ignore" },
    ),
  );
}

async function helm(args: string[]) {
  return execa(tool("HELM"), args, { env: { KUBECONFIG: process.env.KUBECONFIG }, reject: false, all: true });
}

/** kubectl as a ServiceAccount: a kubeconfig holding only its token (no client certificate to fall back on). */
async function as(serviceAccount: string, args: string[], input = "") {
  const saToken = (await kubectl(["-n", ns, "create", "token", serviceAccount, "--duration=10m"])).stdout.trim();
  const admin = new KubeConfig();
  admin.loadFromFile(process.env.KUBECONFIG as string);
  const cluster = admin.getCurrentCluster();
  const caData = cluster?.caData ?? (cluster?.caFile ? (await readFile(cluster.caFile)).toString("base64") : undefined);
  const file = join(work, `${serviceAccount}.kubeconfig`);
  await writeFile(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "ground", cluster: { server: cluster?.server, "certificate-authority-data": caData } }],
      users: [{ name: serviceAccount, user: { token: saToken } }],
      contexts: [{ name: serviceAccount, context: { cluster: "ground", user: serviceAccount } }],
      "current-context": serviceAccount,
    }),
    { mode: 0o600 },
  );
  return execa(tool("KUBECTL"), ["--kubeconfig", file, ...args], { reject: false, all: true, input });
}

/** registry/path:tag -> path */
function imagePath(image: string): string {
  return image.slice(image.indexOf("/") + 1, image.lastIndexOf(":"));
}

function pullRequestEvent(action: "opened" | "closed") {
  return pullRequestPayload(action, { number: PR, headRef: BRANCH, headSha: COMMIT, fork: false }, REPO);
}

/** The controller's pod address: the test process reaches pods on the bridge. */
async function controllerUrl(): Promise<string> {
  const ip = (
    await kubectl(["-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=sandbox-controller", "-o", "jsonpath={.items[0].status.podIP}"])
  ).stdout.trim();
  return `http://${ip}:8080`;
}

/** The namespaces the controller made for this repository (by the engine's annotation). */
async function repositorySandboxes(): Promise<{ name: string; annotations: Record<string, string> }[]> {
  const list = await kubectlJson<{ items: { metadata: { name: string; annotations?: Record<string, string> } }[] }>([
    "get",
    "namespaces",
    "-l",
    "app.kubernetes.io/managed-by=k8s-dev-sandbox",
  ]);
  return list.items
    .filter((n) => n.metadata.name.startsWith(prefix) && n.metadata.annotations?.["k8s-dev-sandbox/repo"] === REPO)
    .map((n) => ({ name: n.metadata.name, annotations: n.metadata.annotations ?? {} }));
}

function sandboxNamespace(name: string, key: string, expiresAt: Date, managed = true) {
  const { annotations, labels: own } = namespaceMetadata({ key, expiresAt, status: "deployed" });
  const labels: Record<string, string> = { ...own, ...podSecurityLabels("restricted") };
  if (!managed) delete labels["app.kubernetes.io/managed-by"];
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels, annotations } };
}

beforeAll(async () => {
  if (realNodeMissing()) return;
  work = await mkdtemp(join(tmpdir(), "hc-chart-"));
  // The GitHub stand-in binds loopback; a relay puts it on the bridge, where pods reach it (as the ground does for S3).
  standin = await startGitHubStandin({ token, repository: REPO, pullRequests: [{ number: PR, headRef: BRANCH, headSha: COMMIT }] });
  const port = new URL(standin.url).port;
  relayToBridge(port);
  // The registry too: the CI pushed to it by its loopback name, the controller reads it by the bridge's.
  const registryPort = groundEnv("REGISTRY").split(":")[1] as string;
  relayToBridge(registryPort);
  podRegistry = `${NODE_IP}:${registryPort}`;
  await createRestrictedNamespace(ns);
  await createRestrictedNamespace(victim);
  await kubectl(["-n", victim, "create", "secret", "generic", "hc-private", "--from-literal=x=y"]);
  const now = Date.now();
  await apply(
    sandboxNamespace(sandboxes.old, "old", new Date(now - HOUR)),
    sandboxNamespace(sandboxes.fresh, "fresh", new Date(now + 24 * HOUR)),
    sandboxNamespace(sandboxes.foreign, "foreign", new Date(now - HOUR), false),
  );
  // The Secret as a user makes it, from files (nothing in argv but paths).
  await writeFile(join(work, "webhook-secret"), `hc-webhook-secret-${id}-0123456789`, { mode: 0o600 });
  await writeFile(join(work, "token"), token, { mode: 0o600 });
  await kubectl([
    "-n",
    ns,
    "create",
    "secret",
    "generic",
    "github",
    `--from-file=webhook-secret=${join(work, "webhook-secret")}`,
    `--from-file=token=${join(work, "token")}`,
  ]);
  const access = await helm([
    "install",
    `hc-access-${id}`,
    join(repoRoot, "charts", "sandbox-access"),
    "-n",
    ns,
    "--set",
    `name=${accessName}`,
    "--set",
    `namespacePrefix=${prefix}`,
    "--set",
    "serviceAccount.create=false",
    "--set",
    "serviceAccount.name=",
    "--set",
    `subjects[0].kind=User,subjects[0].name=system:serviceaccount:${ns}:${fullname}`,
    "--set",
    `sweepers[0].kind=User,sweepers[0].name=system:serviceaccount:${ns}:${sweepName}`,
  ]);
  if (access.exitCode !== 0) throw new Error(`helm install sandbox-access failed:\n${access.all}`);
  const image = await ensureSandboxImage({ fromSource: true });
  const values = {
    image: { repository: image.slice(0, image.lastIndexOf(":")), tag: image.slice(image.lastIndexOf(":") + 1) },
    github: { existingSecret: "github", apiUrl: `http://${NODE_IP}:${port}` },
    sandboxes: { prefix, role: `${accessName}:sandbox` },
    controller: { reconcileInterval: "0" },
    // The CI's images, by the name pods reach the registry by: plain HTTP, like many in-cluster registries.
    registry: { insecure: [podRegistry] },
    repositories: {
      [REPO]: { baseDomain: "hc.example.test", image: `${podRegistry}/${imagePath(groundEnv("GROUND_IMAGE_ODOO"))}`, ttl: "1d" },
    },
    scheduling: { nodeSelector: REAL_NODE_SCHEDULING.nodeSelector, tolerations: REAL_NODE_SCHEDULING.tolerations },
    tests: { image: groundImage("NGINX") },
  };
  await writeFile(join(work, "values.yaml"), stringify(values));
  const install = await helm([
    "install",
    release,
    join(repoRoot, "charts", "sandbox-controller"),
    "-n",
    ns,
    "--values",
    join(work, "values.yaml"),
    "--wait",
    "--timeout",
    "5m",
  ]);
  if (install.exitCode !== 0) {
    const pods = (await kubectl(["-n", ns, "get", "pods", "-o", "wide"], { reject: false })).stdout;
    const logs = (await kubectl(["-n", ns, "logs", `deployment/${fullname}`, "--tail=40"], { reject: false })).all;
    throw new Error(`helm install failed:\n${install.all}\n${pods}\n${logs}`);
  }
}, 900_000);

afterAll(async () => {
  if (realNodeMissing() || !work) return;
  await helm(["uninstall", release, "-n", ns, "--wait", "--timeout", "2m"]);
  await helm(["uninstall", `hc-access-${id}`, "-n", ns, "--wait", "--timeout", "2m"]);
  const previews = (await repositorySandboxes().catch(() => [])).map((n) => n.name);
  await kubectl(["delete", "namespace", ns, victim, ...Object.values(sandboxes), ...previews, "--wait=false", "--ignore-not-found"], {
    reject: false,
  });
  for (const relay of relays) relay.kill();
  await standin?.close();
  await rm(work, { recursive: true, force: true });
});

describe("charts/sandbox-controller on the real node", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("runs the controller as uid 1000 on a read-only root, all capabilities dropped, seccomp RuntimeDefault", async () => {
    const pods = await kubectlJson<{
      items: {
        metadata: { name: string };
        spec: { securityContext: Record<string, unknown>; containers: { securityContext: Record<string, unknown> }[] };
        status: { conditions: { type: string; status: string }[] };
      }[];
    }>(["-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=sandbox-controller,app.kubernetes.io/instance=ctl"]);
    expect(pods.items).toHaveLength(1);
    const [pod] = pods.items;
    expect(pod?.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(pod?.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod?.spec.containers[0]?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    // What the process really is, asked inside the container.
    const probe = await execIn(ns, `pod/${pod?.metadata.name}`, "controller", [
      "node",
      "-e",
      "const fs=require('fs');let root='writable';try{fs.writeFileSync('/opt/k8s-sandbox/x','y')}catch(e){root=e.code}fs.writeFileSync('/tmp/ok','y');const caps=fs.readFileSync('/proc/self/status','utf8').match(/CapEff:\\s*(\\S+)/)[1];console.log(JSON.stringify({uid:process.getuid(),gid:process.getgid(),root,caps}))",
    ]);
    expect(probe.code, probe.out).toBe(0);
    expect(JSON.parse(probe.out.trim().split("\n")[0] as string)).toEqual({
      uid: 1000,
      gid: 1000,
      root: "EROFS",
      caps: "0000000000000000",
    });
  });

  it("answers /healthz, /readyz (API server, opt-in read, GitHub accepting the token) and /metrics through its Service", async () => {
    const base = `http://${fullname}.${ns}.svc.cluster.local`;
    const out = await runOnce(ns, "hc-probe", {
      image: groundImage("PYTHON"),
      command: [
        "/bin/sh",
        "-ec",
        `for p in healthz readyz; do curl -sS -w " $p %{http_code}\\n" ${base}/$p; done; curl -sS ${base}/metrics | grep -c '^k8s_sandbox_queue_depth' | sed 's/^/metrics /'`,
      ],
      uid: 65532,
    });
    expect(out).toContain('{"status":"ok"} healthz 200');
    expect(out).toContain('{"status":"ready"} readyz 200');
    expect(out).toContain("metrics 1");
    expect(standin?.requests.some((r) => r.path === "/rate_limit")).toBe(true);
    expect(standin?.rejected).toEqual([]);
  });

  it("verifies deliveries with the webhook secret it read from the Secret's file: signed 202, wrongly signed 401", async () => {
    const body = JSON.stringify(loadWebhookExample("ping"));
    const secret = await readFile(join(work, "webhook-secret"), "utf8");
    const sign = (key: string) => `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
    const url = `http://${fullname}.${ns}.svc.cluster.local/api/github/webhooks`;
    const send = (signature: string, delivery: string) =>
      `printf '%s' "$BODY" | curl -sS -o /dev/null -w '${delivery} %{http_code}\n' -X POST -H 'Content-Type: application/json' -H 'X-GitHub-Event: ping' -H 'X-GitHub-Delivery: ${delivery}' -H 'X-Hub-Signature-256: ${signature}' --data-binary @- ${url}`;
    const out = await runOnce(ns, "hc-deliver", {
      image: groundImage("PYTHON"),
      command: [
        "/bin/sh",
        "-ec",
        [
          send(sign(secret), "0b8e5c1a-1111-4a2b-9c3d-000000000001"),
          send(sign(`${secret}x`), "0b8e5c1a-1111-4a2b-9c3d-000000000002"),
          `curl -sS http://${fullname}.${ns}.svc.cluster.local/metrics | grep '^k8s_sandbox_webhook_deliveries_total{event="ping"'`,
        ].join("\n"),
      ],
      env: [{ name: "BODY", value: body }],
      uid: 65532,
    });
    expect(out).toContain("0b8e5c1a-1111-4a2b-9c3d-000000000001 202");
    expect(out).toContain("0b8e5c1a-1111-4a2b-9c3d-000000000002 401");
    expect(out).toContain('k8s_sandbox_webhook_deliveries_total{event="ping",result="ignored"} 1');
    expect(out).toContain('k8s_sandbox_webhook_deliveries_total{event="ping",result="refused"} 1');
  });

  it("passes helm test: /healthz 200, an unsigned delivery 401", async () => {
    const test = await helm(["test", release, "-n", ns, "--logs", "--timeout", "3m"]);
    expect(test.exitCode, test.all).toBe(0);
    expect(test.all).toContain("/healthz: 200");
    expect(test.all).toContain("unsigned delivery: 401");
  });

  it("lets the controller act as the engine on its own namespaces only (real 403s with its token)", async () => {
    const made = `${prefix}made`;
    // Positive control: it really is the engine (a labelled, restricted namespace of its prefix), and holds its own state.
    const allowed = await as(fullname, ["create", "-f", "-"], JSON.stringify(sandboxNamespace(made, "made", new Date(Date.now() + HOUR))));
    expect(allowed.exitCode, allowed.all).toBe(0);
    // ... and binds itself the sandbox role there, as each deploy does.
    const bound = await as(fullname, [
      "-n",
      made,
      "create",
      "rolebinding",
      "hc-self",
      `--clusterrole=${accessName}:sandbox`,
      `--serviceaccount=${ns}:${fullname}`,
    ]);
    expect(bound.exitCode, bound.all).toBe(0);
    expect((await as(fullname, ["delete", "namespace", made, "--wait=false"])).exitCode).toBe(0);
    expect((await as(fullname, ["-n", ns, "get", "lease", "k8s-sandbox-controller-leader", "--ignore-not-found"])).exitCode).toBe(0);
    const refused: { args: string[]; by: RegExp }[] = [
      // Admission policy: not the prefix, or not labelled ours.
      { args: ["create", "namespace", `hc-outside-${id}`], by: /ValidatingAdmissionPolicy|denied request/ },
      { args: ["create", "namespace", `${prefix}unlabelled`], by: /ValidatingAdmissionPolicy|denied request/ },
      { args: ["delete", "namespace", victim, "--wait=false"], by: /ValidatingAdmissionPolicy|denied request/ },
      { args: ["delete", "namespace", sandboxes.foreign, "--wait=false"], by: /ValidatingAdmissionPolicy|denied request/ },
      {
        args: ["label", "namespace", sandboxes.foreign, "app.kubernetes.io/managed-by=k8s-dev-sandbox"],
        by: /ValidatingAdmissionPolicy|denied request/,
      },
      // RBAC: Secrets anywhere (its own GitHub Secret too: it reads it as a file), other state, cluster-wide objects.
      { args: ["-n", victim, "get", "secret", "hc-private"], by: /Forbidden|forbidden/ },
      { args: ["-n", ns, "get", "secret", "github"], by: /Forbidden|forbidden/ },
      { args: ["-n", ns, "get", "configmaps"], by: /Forbidden|forbidden/ },
      { args: ["-n", ns, "get", "lease", "someone-elses-lease"], by: /Forbidden|forbidden/ },
      {
        args: ["-n", victim, "create", "rolebinding", "hc-x", `--clusterrole=${accessName}:sandbox`, `--serviceaccount=${ns}:${fullname}`],
        by: /ValidatingAdmissionPolicy|denied request|forbidden/,
      },
      {
        args: ["create", "clusterrolebinding", `hc-x-${id}`, "--clusterrole=cluster-admin", `--serviceaccount=${ns}:${fullname}`],
        by: /Forbidden|forbidden/,
      },
      { args: ["get", "nodes"], by: /Forbidden|forbidden/ },
    ];
    for (const { args, by } of refused) {
      const result = await as(fullname, args);
      expect(result.exitCode, `${args.join(" ")}: ${result.all}`).not.toBe(0);
      expect(result.all, args.join(" ")).toMatch(by);
      expect(result.all, args.join(" ")).not.toMatch(/NotFound|not found/);
    }
  });

  it("lets the sweep only list namespaces and delete its own (real 403s with its token)", async () => {
    const listed = await as(sweepName, ["get", "namespaces", "-l", "app.kubernetes.io/managed-by=k8s-dev-sandbox", "-o", "name"]);
    expect(listed.exitCode, listed.all).toBe(0);
    expect(listed.stdout).toContain(`namespace/${sandboxes.fresh}`);
    const refused: { args: string[]; by: RegExp }[] = [
      { args: ["delete", "namespace", victim, "--wait=false"], by: /ValidatingAdmissionPolicy|denied request/ },
      { args: ["delete", "namespace", sandboxes.foreign, "--wait=false"], by: /ValidatingAdmissionPolicy|denied request/ },
      { args: ["create", "namespace", `${prefix}by-sweep`], by: /Forbidden|forbidden/ },
      { args: ["annotate", "namespace", sandboxes.fresh, "k8s-dev-sandbox/keep=true"], by: /Forbidden|forbidden/ },
      { args: ["-n", ns, "get", "secret", "github"], by: /Forbidden|forbidden/ },
      { args: ["-n", sandboxes.fresh, "get", "pods"], by: /Forbidden|forbidden/ },
      { args: ["-n", victim, "create", "configmap", "hc-x"], by: /Forbidden|forbidden/ },
      { args: ["-n", victim, "get", "events"], by: /Forbidden|forbidden/ },
    ];
    for (const { args, by } of refused) {
      const result = await as(sweepName, args);
      expect(result.exitCode, `${args.join(" ")}: ${result.all}`).not.toBe(0);
      expect(result.all, args.join(" ")).toMatch(by);
    }
  });

  it("sweeps from a Job made from the CronJob: the expired sandbox goes, a fresh and a foreign one stay, an Event says what went", async () => {
    const job = `hc-sweep-${id}`;
    await kubectl(["-n", ns, "create", "job", `--from=cronjob/${sweepName}`, job]);
    // A deadline, not a measure: the real node is shared, and its pods may wait their turn.
    const outcome = await waitForJob(ns, job, 480_000);
    expect(outcome.succeeded, outcome.logs).toBe(true);
    // Kept: the fresh one (and the namespace the controller test made, should it still be terminating); the foreign one is not even listed.
    expect(outcome.logs).toMatch(/removed 1, kept [12], failed 0 of [23]/);
    expect(outcome.logs).toContain(`removed old (expired)`);
    await eventually(`${sandboxes.old} to be deleted`, async () => {
      const got = await kubectl(["get", "namespace", sandboxes.old, "-o", "jsonpath={.metadata.deletionTimestamp}"], { reject: false });
      return got.exitCode !== 0 || got.stdout !== "";
    });
    for (const kept of [sandboxes.fresh, sandboxes.foreign]) {
      const got = await kubectl(["get", "namespace", kept, "-o", "jsonpath={.metadata.deletionTimestamp}"]);
      expect(got.stdout, kept).toBe("");
    }
    const jobUid = (await kubectl(["-n", ns, "get", "job", job, "-o", "jsonpath={.metadata.uid}"])).stdout;
    const events = await kubectlJson<{
      items: {
        reason: string;
        type: string;
        note: string;
        regarding: { kind: string; name: string; uid?: string };
        related?: { name: string };
      }[];
    }>(["-n", ns, "get", "events.v1.events.k8s.io", "--field-selector", "reason=SandboxRemoved"]);
    expect(events.items.map((e) => ({ type: e.type, regarding: e.regarding, related: e.related?.name }))).toEqual([
      { type: "Normal", regarding: expect.objectContaining({ kind: "Job", name: job, uid: jobUid }), related: sandboxes.old },
    ]);
    expect(events.items[0]?.note).toBe(
      `removed sandbox old: deleted namespace ${sandboxes.old} (expired: its time was up (expires-at passed))`,
    );
  });
  it("deploys a pull request's preview from a signed delivery, from inside the cluster, and removes it when the PR closes", async () => {
    const secret = await readFile(join(work, "webhook-secret"), "utf8");
    const url = await controllerUrl();
    // The repository's CI pushed the commit's image (sha-<commit>), by the registry's loopback name.
    await addTag(groundEnv("GROUND_IMAGE_ODOO"), `sha-${COMMIT}`);
    const opened = await post(url, signedDelivery("pull_request", pullRequestEvent("opened"), secret));
    expect(opened.status, opened.message).toBe(202);
    const logs = async () => (await kubectl(["-n", ns, "logs", `deployment/${fullname}`, "--tail=30"], { reject: false })).all;
    // A deadline, not a measure: the sandbox's volume may wait for the shared provisioner.
    const made = await eventually(
      "the sandbox to be deployed",
      async () => {
        const [sandbox] = await repositorySandboxes();
        if (sandbox?.annotations["k8s-dev-sandbox/status"] === "failed")
          throw new Error(`the deploy failed: ${JSON.stringify(sandbox.annotations)}`);
        return sandbox?.annotations["k8s-dev-sandbox/status"] === "ready" ? sandbox : undefined;
      },
      420_000,
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await logs()}`);
    });
    expect(made.annotations["k8s-dev-sandbox/commit"]).toBe(COMMIT);
    expect(made.annotations["k8s-dev-sandbox/image"]).toBe(`${podRegistry}/${imagePath(groundEnv("GROUND_IMAGE_ODOO"))}:sha-${COMMIT}`);
    // helm ran in the pod: the release is there, installed by the controller's ServiceAccount through its RoleBinding.
    const releases = await kubectlJson<{ items: unknown[] }>(["-n", made.name, "get", "secrets", "-l", "owner=helm"]);
    expect(releases.items.length).toBeGreaterThan(0);
    const bindings = await kubectlJson<{ items: { subjects?: { name: string }[]; roleRef: { name: string } }[] }>([
      "-n",
      made.name,
      "get",
      "rolebindings",
    ]);
    expect(bindings.items.some((b) => b.roleRef.name === `${accessName}:sandbox` && b.subjects?.some((x) => x.name === fullname))).toBe(
      true,
    );
    // GitHub heard of it through the stand-in: the sticky comment with the URL, every request valid against the API description.
    await eventually("the sticky comment", async () =>
      standin?.commentsOn(PR).some((c) => c.body.includes("k8s-dev-sandbox:sticky") && c.body.includes("hc.example.test")),
    );
    expect(standin?.rejected).toEqual([]);

    const closed = await post(url, signedDelivery("pull_request", pullRequestEvent("closed"), secret));
    expect(closed.status, closed.message).toBe(202);
    await namespaceGone(made.name, 300_000).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await logs()}`);
    });
    expect(standin?.rejected).toEqual([]);
  }, 900_000);
});
