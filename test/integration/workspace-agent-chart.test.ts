// charts/workspace-agent installed on the ground as a user installs it: the
// product image (images/k8s-sandbox) runs `k8s-sandbox agent` on the real
// node against the ground's S3 store, `helm test` passes, a workspace started
// through the in-cluster Service runs, and the agent's ServiceAccount is
// refused (real 403s from the API server) everywhere outside its Role.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { REAL_NODE_SCHEDULING } from "../ground/node-config.js";
import { groundEnv, kubectl, kubectlJson, tool, uniqueName } from "../support/cluster.js";
import { repoRoot } from "../support/helm.js";
import { groundImage, realNodeMissing, requireRealNode } from "../support/real-node.js";
import { runOnce } from "../support/pods.js";
import { ensureSandboxImage } from "../support/sandbox-image.js";

const release = "agent";
const ns = uniqueName("wa-release");
const workspaces = uniqueName("wa-workspaces");
const elsewhere = uniqueName("wa-elsewhere");
const fullname = `${release}-workspace-agent`;
const chart = join(repoRoot, "charts", "workspace-agent");
let work = "";

async function helm(args: string[]) {
  return execa(tool("HELM"), args, { env: { KUBECONFIG: process.env.KUBECONFIG }, reject: false, all: true });
}

/** kubectl as the agent's ServiceAccount: a kubeconfig holding only its token (no client certificate to fall back on). */
async function asAgent(args: string[]) {
  const token = (await kubectl(["-n", ns, "create", "token", fullname, "--duration=10m"])).stdout.trim();
  const admin = new KubeConfig();
  admin.loadFromFile(process.env.KUBECONFIG as string);
  const cluster = admin.getCurrentCluster();
  const caData = cluster?.caData ?? (cluster?.caFile ? (await readFile(cluster.caFile)).toString("base64") : undefined);
  const file = join(work, "agent.kubeconfig");
  await writeFile(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "ground", cluster: { server: cluster?.server, "certificate-authority-data": caData } }],
      users: [{ name: "agent", user: { token } }],
      contexts: [{ name: "agent", context: { cluster: "ground", user: "agent" } }],
      "current-context": "agent",
    }),
    { mode: 0o600 },
  );
  return execa(tool("KUBECTL"), ["--kubeconfig", file, ...args], { reject: false, all: true });
}

/** Runs curl in a one-off pod of the release namespace (the Service is cluster-internal) and returns its output. */
function inCluster(name: string, script: string): Promise<string> {
  return runOnce(ns, name, {
    image: groundImage("PYTHON"),
    command: ["/bin/sh", "-ec", script],
    env: [{ name: "KEY", valueFrom: { secretKeyRef: { name: `${fullname}-auth`, key: "api-key" } } }],
    uid: 65532,
  });
}

beforeAll(async () => {
  if (realNodeMissing()) return;
  work = await mkdtemp(join(tmpdir(), "wa-chart-"));
  for (const name of [ns, elsewhere]) {
    await kubectl(["create", "namespace", name]);
    await kubectl(["label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted"]);
  }
  await kubectl([
    "-n",
    ns,
    "create",
    "secret",
    "generic",
    "s3-keys",
    `--from-literal=access-key=${groundEnv("AGENT_S3_ACCESS_KEY")}`,
    `--from-literal=secret-key=${groundEnv("AGENT_S3_SECRET_KEY")}`,
  ]);
  const image = await ensureSandboxImage();
  const values = {
    image: { repository: image.slice(0, image.lastIndexOf(":")), tag: image.slice(image.lastIndexOf(":") + 1) },
    // The pod reaches the store as the Jobs do, through the bridge address.
    s3: { endpoint: groundEnv("AGENT_S3_INTERNAL_ENDPOINT"), bucket: groundEnv("AGENT_S3_BUCKET"), existingSecret: "s3-keys" },
    workspaces: {
      namespace: workspaces,
      createNamespace: true,
      defaultImage: groundEnv("AGENT_RUNTIME_DEFAULT_IMAGE"),
      storageJobImage: groundEnv("AGENT_RUNTIME_STORAGE_JOB_IMAGE"),
      volumeSize: "64Mi",
      nodeSelector: REAL_NODE_SCHEDULING.nodeSelector,
      tolerations: REAL_NODE_SCHEDULING.tolerations,
    },
    scheduling: { nodeSelector: REAL_NODE_SCHEDULING.nodeSelector, tolerations: REAL_NODE_SCHEDULING.tolerations },
    tests: { image: groundImage("NGINX") },
  };
  await writeFile(join(work, "values.yaml"), stringify(values));
  const install = await helm(["install", release, chart, "-n", ns, "--values", join(work, "values.yaml"), "--wait", "--timeout", "5m"]);
  if (install.exitCode !== 0) {
    const pods = (await kubectl(["-n", ns, "get", "pods", "-o", "wide"], { reject: false })).stdout;
    const logs = (await kubectl(["-n", ns, "logs", `deployment/${fullname}`, "--tail=40"], { reject: false })).all;
    throw new Error(`helm install failed:\n${install.all}\n${pods}\n${logs}`);
  }
}, 600_000);

afterAll(async () => {
  if (realNodeMissing() || !work) return;
  await helm(["uninstall", release, "-n", ns, "--wait", "--timeout", "2m"]);
  await kubectl(["delete", "namespace", ns, workspaces, elsewhere, "--wait=false", "--ignore-not-found"], { reject: false });
  await rm(work, { recursive: true, force: true });
});

describe("charts/workspace-agent on the real node", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("passes helm test: /health open, 401 without the key, 200 with it", async () => {
    const test = await helm(["test", release, "-n", ns, "--logs", "--timeout", "3m"]);
    expect(test.exitCode, test.all).toBe(0);
    expect(test.all).toContain("without the key: 401");
    expect(test.all).toContain("with the key: 200");
  });

  it("runs a workspace started through its Service, in the workspaces namespace, on a volume of the default class", async () => {
    const base = `http://${fullname}.${ns}.svc.cluster.local:8081/api/v1/workspaces`;
    const id = "5b1f3a6e-0d2c-4c8e-9d4a-2f6b8e1c7a90";
    const out = await inCluster(
      "client",
      [
        `curl -sS -o /dev/null -w 'provision %{http_code}\\n' -X POST -H "Authorization: Bearer $KEY" ${base}/${id}/provision`,
        `curl -sS -o /dev/null -w 'start %{http_code}\\n' -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"image":null}' ${base}/${id}/start`,
      ].join("\n"),
    );
    expect(out).toContain("provision 201");
    expect(out).toContain("start 200");
    await kubectl(["-n", workspaces, "rollout", "status", `deployment/codehub-ws-${id}`, "--timeout=180s"]);
    const pvc = await kubectlJson<{ status: { phase: string } }>(["-n", workspaces, "get", "pvc", `codehub-ws-${id}-home`]);
    expect(pvc.status.phase).toBe("Bound");
    const observed = await inCluster("observer", `curl -sS -H "Authorization: Bearer $KEY" ${base}`);
    const record = (
      JSON.parse(observed) as { workspaces: { workspace_id: string; container: { healthy: boolean } | null }[] }
    ).workspaces.find((w) => w.workspace_id === id);
    expect(record?.container?.healthy).toBe(true);
  });

  it("is refused outside its Role: other namespaces, cluster-wide objects, other Secrets (403 from the API server)", async () => {
    const allowed = await asAgent(["-n", workspaces, "get", "persistentvolumeclaims,deployments,services,jobs,pods"]);
    expect(allowed.exitCode, allowed.all).toBe(0);
    const refused: string[][] = [
      ["-n", elsewhere, "get", "persistentvolumeclaims"],
      ["-n", elsewhere, "create", "deployment", "x", "--image=example.invalid/x:1"],
      ["-n", ns, "get", "secrets"],
      ["-n", workspaces, "get", "secret", `${fullname}-auth`],
      ["-n", workspaces, "get", "secrets"],
      ["-n", workspaces, "create", "role", "x", "--verb=get", "--resource=pods"],
      ["get", "namespaces"],
      ["get", "nodes"],
      ["get", "persistentvolumes"],
      ["create", "namespace", uniqueName("wa-not-allowed")],
    ];
    for (const args of refused) {
      const result = await asAgent(args);
      expect(result.exitCode, args.join(" ")).not.toBe(0);
      expect(result.all, args.join(" ")).toMatch(/Forbidden|forbidden/);
    }
  });
});
