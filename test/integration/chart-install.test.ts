// The sandbox chart on a real API server (the test ground, or kind with
// GROUND_EXTERNAL=1): installed with --wait into namespaces that enforce Pod
// Security "restricted" and the chart's own ResourceQuota, in CI and local
// mode, two of each side by side; upgraded without losing its generated
// passwords; `helm test` run; uninstalled without leaving anything behind.
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, groundEnv } from "../support/cluster.js";
import { chartDir, helm3Binary, repoRoot } from "../support/helm.js";

const need = groundEnv;

const run = Date.now().toString(36).slice(-5);
// kwok's pods are ready at once; on a cluster with real pods (kind in CI) images are pulled and a database initialized.
const WAIT = `${Math.round((Number(process.env.GROUND_WAIT_TIMEOUT_MS) || 240_000) / 1000)}s`;
const RELEASE = "sandbox";

interface Sandbox {
  name: string;
  namespace: string;
  mode: "ci" | "local";
  helm: string;
  values: string[];
  set: Record<string, string>;
}

let kubectlPath = "";
let helmPath = "";
let worktree = "";
const sandboxes: Sandbox[] = [];

async function kubectl(args: string[], input?: string): Promise<string> {
  const result = await execa(kubectlPath, args, { input, reject: false });
  if (result.exitCode !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes JSON
async function kubectlJson(args: string[]): Promise<any> {
  return JSON.parse(await kubectl([...args, "-o", "json"]));
}

async function helm(sandbox: Sandbox, args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa(sandbox.helm, args, { reject: false, env: { KUBECONFIG: process.env.KUBECONFIG } });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function upgradeArgs(sandbox: Sandbox, extra: Record<string, string> = {}): string[] {
  const args = ["upgrade", "--install", RELEASE, chartDir, "--namespace", sandbox.namespace, "--wait", "--timeout", WAIT];
  for (const file of sandbox.values) args.push("--values", join(chartDir, file));
  for (const [key, value] of Object.entries({ ...sandbox.set, ...extra })) args.push("--set-string", `${key}=${value}`);
  return args;
}

/** A namespace as the engine makes it: Pod Security enforced, labelled as a sandbox. */
async function createNamespace(name: string, key: string): Promise<void> {
  const manifest = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "app.kubernetes.io/managed-by": "k8s-dev-sandbox",
        "k8s-dev-sandbox/key": key,
      },
    },
  };
  await kubectl(["apply", "-f", "-"], JSON.stringify(manifest));
}

async function secretValues(namespace: string): Promise<Record<string, string>> {
  const list = await kubectlJson(["get", "secrets", "-n", namespace, "-l", `app.kubernetes.io/instance=${RELEASE}`]);
  const out: Record<string, string> = {};
  for (const secret of list.items) {
    for (const [key, value] of Object.entries(secret.data ?? {})) out[`${secret.metadata.name}/${key}`] = String(value);
  }
  return out;
}

/** Everything namespaced that can be listed in the namespace, as "kind/name". */
async function everythingIn(namespace: string): Promise<string[]> {
  const kinds = (await kubectl(["api-resources", "--verbs=list", "--namespaced", "-o", "name"]))
    .split("\n")
    .filter((k) => k && !k.startsWith("events"));
  const out = await kubectl(["get", kinds.join(","), "-n", namespace, "--ignore-not-found", "-o", "name"]);
  return out.split("\n").filter(Boolean);
}

beforeAll(async () => {
  need("KUBECONFIG");
  kubectlPath = need("KUBECTL");
  helmPath = need("HELM");
  // The worktree local mode mounts: a copy of the sample addons, so the test
  // can check that uninstalling never touches it.
  worktree = mkdtempSync(join(tmpdir(), "chart-it-worktree-"));
  cpSync(join(repoRoot, "examples", "sample-addons"), worktree, { recursive: true });
  // Readable by the pod's user, as a developer's tree is (mkdtemp makes it 0700).
  chmodSync(worktree, 0o755);

  const helm3 = helm3Binary();
  const ciFiles = ["values-ci.yaml", "ci/ci-values.yaml"];
  const ciSet = (key: string) => ({
    "sandbox.key": key,
    "sandbox.host": `${key}.preview.example.com`,
    "sandbox.url": `https://${key}.preview.example.com`,
    "sandbox.commit": "1111111",
  });
  const localSet = (key: string) => ({
    "sandbox.key": key,
    "sandbox.host": `${key}.sandbox.localhost`,
    "sandbox.local.addonsHostPath": worktree,
    // What the engine passes from the cluster's local-volumes setting: the chart mounts nothing outside it.
    "sandbox.local.allowedHostPaths[0]": worktree,
    "sandbox.local.nodeName": "",
    "sandbox.commit": "1111111",
  });
  sandboxes.push(
    { name: "ci-a", namespace: `chart-it-${run}-ci-a`, mode: "ci", helm: helmPath, values: ciFiles, set: ciSet(`ci-a-${run}`) },
    // The second CI sandbox goes in with Helm 3: both majors must work.
    { name: "ci-b", namespace: `chart-it-${run}-ci-b`, mode: "ci", helm: helm3, values: ciFiles, set: ciSet(`ci-b-${run}`) },
    {
      name: "local-a",
      namespace: `chart-it-${run}-local-a`,
      mode: "local",
      helm: helmPath,
      values: ["ci/local-values.yaml"],
      set: localSet(`local-a-${run}`),
    },
    {
      name: "local-b",
      namespace: `chart-it-${run}-local-b`,
      mode: "local",
      helm: helmPath,
      values: ["ci/local-values.yaml"],
      set: localSet(`local-b-${run}`),
    },
  );
  for (const s of sandboxes) await createNamespace(s.namespace, s.set["sandbox.key"] ?? s.name);
});

afterAll(async () => {
  for (const s of sandboxes) {
    await execa(s.helm, ["uninstall", RELEASE, "-n", s.namespace, "--wait"], { reject: false });
    await execa(kubectlPath, ["delete", "namespace", s.namespace, "--wait=false", "--ignore-not-found"], { reject: false });
  }
  if (worktree) rmSync(worktree, { recursive: true, force: true });
});

describe("the namespaces enforce Pod Security restricted", () => {
  it("refuses a root pod (so the chart's pods below were really checked)", async () => {
    const ns = sandboxes[0]?.namespace ?? "";
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "root-probe", namespace: ns },
      spec: { containers: [{ name: "c", image: "busybox", securityContext: { runAsUser: 0 } }] },
    };
    const result = await execa(kubectlPath, ["apply", "--dry-run=server", "-f", "-"], { input: JSON.stringify(pod), reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/violates PodSecurity "restricted/);
  });
});

describe("install with --wait, two CI and two local sandboxes side by side", () => {
  it.each(["ci-a", "ci-b", "local-a", "local-b"])("%s installs and becomes ready", async (name) => {
    const s = sandboxes.find((x) => x.name === name) as Sandbox;
    const result = await helm(s, upgradeArgs(s));
    // "violates PodSecurity" refuses a pod; "would violate PodSecurity" is the warning for a workload's template.
    expect(result.stderr, result.stderr).not.toMatch(/Error|violates? PodSecurity/);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/STATUS: deployed/);

    // Every object of the release is there (the API server accepted them all).
    const manifest = (await helm(s, ["get", "manifest", RELEASE, "-n", s.namespace])).stdout;
    const missing = await execa(kubectlPath, ["get", "-n", s.namespace, "-f", "-", "-o", "name"], { input: manifest, reject: false });
    expect(missing.stderr).toBe("");

    const pods = await kubectlJson(["get", "pods", "-n", s.namespace, "-l", `app.kubernetes.io/instance=${RELEASE}`]);
    const components = pods.items
      .map((p: { metadata: { labels: Record<string, string> } }) => p.metadata.labels["app.kubernetes.io/component"])
      .sort();
    expect(components).toEqual(["nginx", "odoo", "postgres"]);
    for (const pod of pods.items) {
      const ready = pod.status.conditions?.find((c: { type: string }) => c.type === "Ready");
      expect(ready?.status, pod.metadata.name).toBe("True");
    }

    const claims = await kubectlJson(["get", "pvc", "-n", s.namespace]);
    expect(claims.items.length).toBe(s.mode === "local" ? 3 : 2);
    for (const claim of claims.items) expect(claim.status.phase, claim.metadata.name).toBe("Bound");

    // The chart's own quota is enforced and its pods fit in it.
    // The quota controller fills status.used asynchronously: wait for it to count the pods.
    const quota = await eventually("the quota to count the sandbox's pods", async () => {
      const q = (await kubectlJson(["get", "resourcequota", "-n", s.namespace])).items[0];
      return q?.status?.used?.pods === "3" ? q : undefined;
    });
    expect(quota.status.used.pods).toBe("3");
    expect(Number(quota.status.hard.pods)).toBeGreaterThanOrEqual(3);
  });

  it("binds each local sandbox to its own host-path volume, never to another's", async () => {
    const names = new Set<string>();
    for (const s of sandboxes.filter((x) => x.mode === "local")) {
      const claim = (await kubectlJson(["get", "pvc", "-n", s.namespace, "-l", "app.kubernetes.io/component=odoo"])).items.find(
        (c: { metadata: { name: string } }) => c.metadata.name.endsWith("-addons"),
      );
      const volume = await kubectlJson(["get", "pv", claim.spec.volumeName]);
      expect(volume.spec.hostPath.path).toBe(worktree);
      expect(volume.spec.claimRef.namespace).toBe(s.namespace);
      names.add(volume.metadata.name);
    }
    expect(names.size).toBe(2);
  });

  it("has no host path anywhere in the CI sandboxes", async () => {
    for (const s of sandboxes.filter((x) => x.mode === "ci")) {
      const manifest = (await helm(s, ["get", "manifest", RELEASE, "-n", s.namespace])).stdout;
      expect(manifest).not.toContain("hostPath");
      const claims = await kubectlJson(["get", "pvc", "-n", s.namespace]);
      for (const claim of claims.items) {
        const volume = await kubectlJson(["get", "pv", claim.spec.volumeName]);
        expect(volume.spec.storageClassName, claim.metadata.name).toBe("standard");
      }
    }
  });
});

describe("helm test", () => {
  it.each(["ci-a", "local-a"])("%s: the test hook is admitted and passes", async (name) => {
    const s = sandboxes.find((x) => x.name === name) as Sandbox;
    const result = await helm(s, ["test", RELEASE, "-n", s.namespace, "--timeout", "2m"]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/Phase:\s+Succeeded/);
  });
});

describe("upgrade", () => {
  it.each(["ci-a", "ci-b", "local-a"])("%s keeps every generated password and restarts only Odoo for a new commit", async (name) => {
    const s = sandboxes.find((x) => x.name === name) as Sandbox;
    const before = await secretValues(s.namespace);
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(6);
    const podsBefore = await kubectlJson(["get", "pods", "-n", s.namespace]);
    const uid = (component: string, list: typeof podsBefore) =>
      list.items.find(
        (p: { metadata: { labels: Record<string, string> } }) => p.metadata.labels["app.kubernetes.io/component"] === component,
      )?.metadata.uid;

    const result = await helm(s, upgradeArgs(s, { "sandbox.commit": "2222222" }));
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.exitCode).toBe(0);

    expect(await secretValues(s.namespace)).toEqual(before);
    const podsAfter = await kubectlJson(["get", "pods", "-n", s.namespace]);
    expect(uid("postgres", podsAfter)).toBe(uid("postgres", podsBefore));
    expect(uid("nginx", podsAfter)).toBe(uid("nginx", podsBefore));
    expect(uid("odoo", podsAfter)).not.toBe(uid("odoo", podsBefore));
  });
});

describe("uninstall", () => {
  // What Kubernetes itself keeps in every namespace (events expire on their
  // own), and the chart's Secrets, kept on purpose (helm.sh/resource-policy:
  // keep) so a reinstall over a kept PostgreSQL volume still has its password;
  // the engine's destroy removes them with the namespace.
  const NAMESPACE_DEFAULTS = [
    "configmap/kube-root-ca.crt",
    "serviceaccount/default",
    "secret/sandbox-odoo-dev-sandbox-basic-auth",
    "secret/sandbox-odoo-dev-sandbox-odoo",
    "secret/sandbox-odoo-dev-sandbox-postgres",
  ];

  it.each(["ci-a", "local-a"])("%s leaves nothing behind in its namespace", async (name) => {
    const s = sandboxes.find((x) => x.name === name) as Sandbox;
    const volumesBefore =
      s.mode === "local"
        ? (await kubectlJson(["get", "pv"])).items.filter(
            (v: { spec: { claimRef?: { namespace: string } } }) => v.spec.claimRef?.namespace === s.namespace,
          )
        : [];

    const result = await helm(s, ["uninstall", RELEASE, "-n", s.namespace, "--wait", "--timeout", "2m"]);
    expect(result.exitCode, result.stderr).toBe(0);

    // The PostgreSQL volume goes with its StatefulSet through the garbage
    // collector, a moment after helm returns.
    let left: string[] = [];
    for (let i = 0; i < 60; i++) {
      left = (await everythingIn(s.namespace)).filter((n) => !NAMESPACE_DEFAULTS.includes(n));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(left).toEqual([]);

    if (s.mode === "local") {
      // The host-path volume goes (its pv-protection finalizer lets it go a
      // moment after helm returns), and the worktree it pointed at is untouched.
      for (const v of volumesBefore) {
        await eventually(
          `volume ${v.metadata.name} to be deleted`,
          async () => /NotFound/.test((await execa(kubectlPath, ["get", "pv", v.metadata.name], { reject: false })).stderr),
          30_000,
          250,
        );
      }
      expect(existsSync(join(worktree, "sandbox_hello", "__manifest__.py"))).toBe(true);
      expect(readdirSync(worktree).length).toBeGreaterThan(0);
    }
  });
});
