// The engine with exactly the rights charts/sandbox-access grants, on a real
// API server with RBAC and admission: a ServiceAccount, a token from
// `kubectl create token`, a kubeconfig built from it the way
// docs/permissions.md says. The whole lifecycle works with it; everything
// outside its sandboxes is refused with a real 403, from RBAC or from the
// admission policies, each with its own message.
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiException, PatchStrategy } from "@kubernetes/client-node";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type KubeConnection } from "../../src/adapters/kubernetes/client.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { SandboxError } from "../../src/domain/errors.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import type { Engine, EngineSettings } from "../../src/operations/engine.js";
import { extend } from "../../src/operations/extend.js";
import { list, logs, status } from "../../src/operations/status.js";
import { sweep } from "../../src/operations/sweep.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { eventually, kubectl, kubectlJson, namespaceGone, tool, uniqueName } from "../support/cluster.js";
import { groundSettings } from "../support/engine.js";
import { repoRoot } from "../support/helm.js";

const run = uniqueName("acc");
const NAME = `ksb-${run}`; // the access chart's name: ClusterRoles ksb-acc-xxxxxx:engine, :sandbox
const SYSTEM = `${run}-system`;
const PREFIX = `${run}-sbx-`;
const SA = "k8s-dev-sandbox";
const USERNAME = `system:serviceaccount:${SYSTEM}:${SA}`;
const FOREIGN = `${run}-foreign`; // someone else's namespace
const LOOKALIKE = `${PREFIX}lookalike`; // named like a sandbox, but not ours
const SANDBOX_ROLE = `${NAME}:sandbox`;

let work = "";
let kubeconfig = "";
let restricted: KubeConnection;
let worktree = "";

function helm(args: string[]) {
  return execa(tool("HELM"), args, { env: { KUBECONFIG: process.env.KUBECONFIG } });
}

async function installAccess(extra: string[] = []): Promise<void> {
  await helm([
    "upgrade",
    "--install",
    NAME,
    join(repoRoot, "charts", "sandbox-access"),
    "--namespace",
    SYSTEM,
    "--create-namespace",
    "--set",
    `name=${NAME}`,
    "--set",
    `namespacePrefix=${PREFIX}`,
    "--wait",
    ...extra,
  ]);
}

/** A kubeconfig for the ServiceAccount, made with the commands docs/permissions.md gives. */
async function serviceAccountKubeconfig(): Promise<string> {
  const admin = { KUBECONFIG: process.env.KUBECONFIG };
  const file = join(work, "sandbox.kubeconfig");
  const ca = join(work, "ca.crt");
  const k = (args: string[], env: Record<string, string | undefined>) => execa(tool("KUBECTL"), args, { env });
  const token = (await k(["-n", SYSTEM, "create", "token", SA, "--duration=1h"], admin)).stdout.trim();
  const server = (await k(["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"], admin)).stdout;
  const caData = (
    await k(["config", "view", "--minify", "--flatten", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"], admin)
  ).stdout;
  await execa("bash", ["-c", 'base64 -d > "$1"', "-", ca], { input: caData });
  const mine = { KUBECONFIG: file };
  await k(["config", "set-cluster", "sandbox", `--server=${server}`, `--certificate-authority=${ca}`, "--embed-certs"], mine);
  await k(["config", "set-credentials", "k8s-dev-sandbox", `--token=${token}`], mine);
  await k(["config", "set-context", "sandbox", "--cluster=sandbox", "--user=k8s-dev-sandbox"], mine);
  await k(["config", "use-context", "sandbox"], mine);
  return readFile(file, "utf8");
}

function engine(extra: Partial<EngineSettings> = {}): Engine & { log: MemoryLogger } {
  const log = new MemoryLogger();
  const settings = groundSettings(PREFIX, "access.example.test", { sandboxRole: SANDBOX_ROLE, ...extra });
  return Object.assign(createEngine({ settings, logger: log, holder: "access-test", kubeconfigContent: kubeconfig }), { log });
}

/** The API server's answer to a request the restricted identity makes. */
async function refusal(request: Promise<unknown>): Promise<{ code: number; message: string }> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the request was allowed").toBeInstanceOf(ApiException);
  const api = error as ApiException<unknown>;
  const body = typeof api.body === "string" ? JSON.parse(api.body) : api.body;
  return { code: api.code, message: String((body as { message?: string }).message) };
}

/**
 * The API server loads a new admission policy a moment after it is created:
 * wait until a request it must deny is denied by it.
 */
async function untilEnforced(policy: string, probe: () => Promise<unknown>): Promise<void> {
  await eventually(
    `policy ${policy} to be enforced`,
    async () => {
      const error = await probe().then(
        () => undefined,
        (e: unknown) => e,
      );
      return error instanceof ApiException && String(error.body).includes(`ValidatingAdmissionPolicy '${NAME}-${policy}'`);
    },
    30_000,
    200,
  );
}

const namespace = (name: string, labels: Record<string, string>) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
const OURS = {
  "app.kubernetes.io/managed-by": "k8s-dev-sandbox",
  "pod-security.kubernetes.io/enforce": "restricted",
};
const POLICY = (policy: string) =>
  new RegExp(`ValidatingAdmissionPolicy '${NAME}-${policy}' with binding '${NAME}-${policy}' denied request`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "access-"));
  worktree = await mkdtemp(join(tmpdir(), "access-worktree-"));
  await chmod(worktree, 0o755); // readable by the pod's user, as a developer's tree is
  await installAccess();
  kubeconfig = await serviceAccountKubeconfig();
  restricted = connect({ kubeconfigContent: kubeconfig });
  await untilEnforced("namespaces", () => restricted.core.createNamespace({ body: namespace(`${run}-probe`, OURS), dryRun: "All" }));
  for (const [name, labels] of [
    [FOREIGN, {}],
    [LOOKALIKE, { "pod-security.kubernetes.io/enforce": "restricted" }],
  ] as const) {
    await kubectl(["apply", "-f", "-"], { input: JSON.stringify(namespace(name, labels)) });
  }
}, 300_000);

afterAll(async () => {
  const { stdout } = await kubectl(["get", "namespaces", "-o", "name"]);
  const ours = stdout
    .split("\n")
    .map((l) => l.replace("namespace/", ""))
    .filter((n) => n.startsWith(`${run}-`));
  for (const name of ours) {
    if (name === SYSTEM) continue;
    await execa(tool("HELM"), ["uninstall", "sandbox", "-n", name, "--wait"], {
      env: { KUBECONFIG: process.env.KUBECONFIG },
      reject: false,
    });
    await kubectl(["delete", "namespace", name, "--wait=false"], { reject: false });
  }
  await execa(tool("HELM"), ["uninstall", NAME, "-n", SYSTEM, "--wait"], { env: { KUBECONFIG: process.env.KUBECONFIG }, reject: false });
  await kubectl(["delete", "namespace", SYSTEM, "--wait=false"], { reject: false });
  for (const name of ours) await namespaceGone(name, 120_000).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
  await rm(worktree, { recursive: true, force: true });
}, 300_000);

describe("the engine with exactly the rights of charts/sandbox-access", () => {
  it("is who the kubeconfig says: the ServiceAccount, nothing more", async () => {
    const review = await restricted.authentication.createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(USERNAME);
    expect(review.status?.userInfo?.groups).not.toContain("system:masters");
  });

  it("runs the whole lifecycle: deploy, redeploy, status, list, logs, extend, destroy", async () => {
    const drill = engine();
    const first = await deploy(drill, { branch: "feature/rights", commit: "a".repeat(40) });
    expect(first.result).toBe("deployed");
    const ns = first.identity.namespace;

    // Bound at creation: the sandbox role, to itself only, in this namespace only.
    const bindings = await kubectlJson<{ items: { metadata: { name: string }; roleRef: { name: string }; subjects: unknown[] }[] }>([
      "-n",
      ns,
      "get",
      "rolebindings",
    ]);
    expect(bindings.items).toHaveLength(1);
    expect(bindings.items[0]?.metadata.name).toMatch(/^k8s-dev-sandbox-[0-9a-f]{10}$/);
    expect(bindings.items[0]?.roleRef.name).toBe(SANDBOX_ROLE);
    expect(bindings.items[0]?.subjects).toEqual([{ kind: "ServiceAccount", name: SA, namespace: SYSTEM }]);

    // The engine's namespaces enforce Pod Security restricted, and it works: a root pod is refused.
    const labels = (await kubectlJson<{ metadata: { labels: Record<string, string> } }>(["get", "ns", ns])).metadata.labels;
    expect(labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/warn": "restricted",
    });
    const rootPod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "root", namespace: ns },
      spec: { containers: [{ name: "c", image: "x", securityContext: { runAsUser: 0 } }] },
    };
    const refused = await kubectl(["apply", "--dry-run=server", "-f", "-"], { input: JSON.stringify(rootPod), reject: false });
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted:latest"/);

    expect((await deploy(drill, { branch: "feature/rights", commit: "a".repeat(40) })).result).toBe("unchanged");
    const st = await status(drill, first.identity.key);
    expect(st).toMatchObject({ exists: true, ready: true });
    expect((await list(drill)).map((r) => r.key)).toContain(first.identity.key);
    expect((await logs(drill, first.identity.key, { tail: 5 })).length).toBeGreaterThan(0);
    const extended = await extend(drill, first.identity.key, 24 * 3600_000, "access-test");
    expect(extended.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime());
    const gone = await destroy(drill, first.identity.key, { waitGone: true });
    expect(gone.existed).toBe(true);
    expect((await kubectl(["get", "ns", ns], { reject: false })).exitCode).not.toBe(0);
  });

  it("sweeps an expired sandbox", async () => {
    const short = engine({ ttlMs: 1_000, maxTtlMs: 1_000 });
    const done = await deploy(short, { branch: "feature/expiring" });
    await new Promise((r) => setTimeout(r, 1_500));
    const swept = await sweep(engine());
    expect(swept.failed).toEqual([]);
    expect(swept.removed.map((r) => r.key)).toEqual([done.identity.key]);
    await namespaceGone(done.identity.namespace);
  });

  it("refuses local mode while the cluster allows no host paths", async () => {
    const local = engine({ mode: "local", localAddonsPath: worktree, localVolumesConfig: `${SYSTEM}/${NAME}-local-volumes` });
    const error = await deploy(local, { branch: "feature/local-refused" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SandboxError);
    expect((error as SandboxError).message).toMatch(/this cluster allows no host paths/);
  });
});

describe("and nothing else: each attempt gets a 403", () => {
  // One sandbox of its own, for the attempts to overstep inside it.
  let own: Promise<string> | undefined;
  const ownSandbox = () => {
    own ??= deploy(engine(), { branch: "feature/own" }).then((done) => done.identity.namespace);
    return own;
  };

  it("reading kube-system's secrets (RBAC)", async () => {
    const { code, message } = await refusal(restricted.core.listNamespacedSecret({ namespace: "kube-system" }));
    expect(code).toBe(403);
    expect(message).toBe(
      `secrets is forbidden: User "${USERNAME}" cannot list resource "secrets" in API group "" in the namespace "kube-system"`,
    );
  });

  it("reading secrets in a namespace it has no binding in (RBAC)", async () => {
    const { code, message } = await refusal(restricted.core.listNamespacedSecret({ namespace: LOOKALIKE }));
    expect(code).toBe(403);
    expect(message).toMatch(/cannot list resource "secrets"/);
  });

  it("deleting a foreign namespace (admission: name)", async () => {
    const { code, message } = await refusal(restricted.core.deleteNamespace({ name: FOREIGN }));
    expect(code).toBe(403);
    expect(message).toMatch(POLICY("namespaces"));
    expect(message).toMatch(new RegExp(`may only create, change or delete namespaces named ${PREFIX}\\*`));
    expect((await kubectlJson<{ status: { phase: string } }>(["get", "ns", FOREIGN])).status.phase).toBe("Active");
  });

  it("deleting a namespace named like a sandbox that is not one (admission: label)", async () => {
    const { code, message } = await refusal(restricted.core.deleteNamespace({ name: LOOKALIKE }));
    expect(code).toBe(403);
    expect(message).toMatch(/may only handle namespaces labelled app\.kubernetes\.io\/managed-by=k8s-dev-sandbox/);
  });

  it("relabelling a foreign namespace as ours (admission: name)", async () => {
    const patch = { metadata: { labels: { "app.kubernetes.io/managed-by": "k8s-dev-sandbox" } } };
    const { code, message } = await refusal(
      restricted.objects.patch(
        { apiVersion: "v1", kind: "Namespace", metadata: { name: FOREIGN, ...patch.metadata } },
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      ),
    );
    expect(code).toBe(403);
    expect(message).toMatch(POLICY("namespaces"));
  });

  it("relabelling a look-alike namespace to take it over (admission: it was not ours before)", async () => {
    const { code, message } = await refusal(
      restricted.objects.patch(
        { apiVersion: "v1", kind: "Namespace", metadata: { name: LOOKALIKE, labels: OURS } },
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      ),
    );
    expect(code).toBe(403);
    expect(message).toMatch(/may not take over a namespace that was not labelled managed-by k8s-dev-sandbox before/);
    const labels = (await kubectlJson<{ metadata: { labels: Record<string, string> } }>(["get", "ns", LOOKALIKE])).metadata.labels;
    expect(labels["app.kubernetes.io/managed-by"]).toBeUndefined();
  });

  it.each([
    { name: "without the prefix", ns: namespace(`${run}-elsewhere`, OURS), reason: /namespaces named/ },
    {
      name: "without the managed-by label",
      ns: namespace(`${PREFIX}unlabelled`, { "pod-security.kubernetes.io/enforce": "restricted" }),
      reason: /labelled app\.kubernetes\.io\/managed-by/,
    },
    {
      name: "enforcing privileged",
      ns: namespace(`${PREFIX}privileged`, { ...OURS, "pod-security.kubernetes.io/enforce": "privileged" }),
      reason: /enforce Pod Security restricted/,
    },
    {
      name: "enforcing baseline",
      ns: namespace(`${PREFIX}baseline`, { ...OURS, "pod-security.kubernetes.io/enforce": "baseline" }),
      reason: /enforce Pod Security restricted/,
    },
    {
      name: "enforcing nothing",
      ns: namespace(`${PREFIX}unenforced`, { "app.kubernetes.io/managed-by": "k8s-dev-sandbox" }),
      reason: /enforce Pod Security restricted/,
    },
    {
      name: "pinning an old restricted",
      ns: namespace(`${PREFIX}pinned`, { ...OURS, "pod-security.kubernetes.io/enforce-version": "v1.22" }),
      reason: /older version of restricted/,
    },
  ])("creating a namespace $name (admission)", async ({ ns, reason }) => {
    const { code, message } = await refusal(restricted.core.createNamespace({ body: ns }));
    expect(code).toBe(403);
    expect(message).toMatch(POLICY("namespaces"));
    expect(message).toMatch(reason);
  });

  it("lowering Pod Security on its own sandbox (admission)", async () => {
    const name = await ownSandbox();
    const { code, message } = await refusal(
      restricted.objects.patch(
        {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name, labels: { "pod-security.kubernetes.io/enforce": "privileged" } },
        },
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      ),
    );
    expect(code).toBe(403);
    expect(message).toMatch(/enforce Pod Security restricted/);
  });

  it("creating a hostPath PersistentVolume (RBAC: CI mode has no volume rights)", async () => {
    const pv = {
      metadata: { name: `${run}-root` },
      spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], hostPath: { path: "/" }, storageClassName: "" },
    };
    const { code, message } = await refusal(restricted.core.createPersistentVolume({ body: pv }));
    expect(code).toBe(403);
    expect(message).toBe(
      `persistentvolumes is forbidden: User "${USERNAME}" cannot create resource "persistentvolumes" in API group "" at the cluster scope`,
    );
  });

  it.each([
    {
      name: "binding the sandbox role in kube-system",
      ns: "kube-system",
      role: SANDBOX_ROLE,
      subject: "self",
      reason: POLICY("rolebindings"),
    },
    {
      name: "binding the sandbox role in a foreign namespace",
      ns: FOREIGN,
      role: SANDBOX_ROLE,
      subject: "self",
      reason: POLICY("rolebindings"),
    },
    {
      name: "binding the sandbox role to someone else",
      ns: "own",
      role: SANDBOX_ROLE,
      subject: "mallory",
      reason: /may bind the sandbox role only to itself/,
    },
    {
      name: "binding cluster-admin in its own sandbox",
      ns: "own",
      role: "cluster-admin",
      subject: "self",
      reason: /forbidden|may bind only the ClusterRole/,
    },
  ])("$name", async ({ ns, role, subject, reason }) => {
    const target = ns === "own" ? await ownSandbox() : ns;
    const body = {
      metadata: { name: `${run}-grab`, namespace: target },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
      subjects:
        subject === "self"
          ? [{ kind: "ServiceAccount", name: SA, namespace: SYSTEM }]
          : [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: subject }],
    };
    const { code, message } = await refusal(restricted.rbac.createNamespacedRoleBinding({ namespace: target, body }));
    expect(code).toBe(403);
    expect(message).toMatch(reason);
  });

  it("an Ingress with a server-snippet in its own sandbox (admission)", async () => {
    const ns = await ownSandbox();
    const ingress = {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: {
        name: "snippet",
        namespace: ns,
        annotations: { "nginx.ingress.kubernetes.io/server-snippet": "location / { return 200; }" },
      },
      spec: { rules: [{ host: "x.example.test" }] },
    };
    const { code, message } = await refusal(restricted.objects.create(ingress));
    expect(code).toBe(403);
    expect(message).toMatch(POLICY("ingresses"));
  });
});

describe("local mode, once the cluster's admin allows a directory", () => {
  beforeAll(async () => {
    await installAccess(["--set", "localVolumes.enabled=true", "--set", `localVolumes.allowedHostPaths[0]=${worktree}`]);
    const probe = {
      metadata: { name: `${run}-probe` },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadWriteOnce"],
        hostPath: { path: "/" },
        claimRef: { namespace: `${PREFIX}x`, name: "x" },
      },
    };
    await untilEnforced("volumes", () => restricted.core.createPersistentVolume({ body: probe, dryRun: "All" }));
  }, 300_000);

  it("mounts a work tree inside it, and destroy leaves no volume", async () => {
    const local = engine({ mode: "local", localAddonsPath: worktree, localVolumesConfig: `${SYSTEM}/${NAME}-local-volumes` });
    const done = await deploy(local, { branch: "feature/local" });
    expect(done.result).toBe("deployed");
    const volumes = await kubectlJson<{
      items: { metadata: { name: string; annotations?: Record<string, string> }; spec: { hostPath?: { path: string } } }[];
    }>(["get", "pv"]);
    // The chart's own volume (Helm's), not those the StorageClass provisions for the claims.
    const ours = volumes.items.filter((v) => v.metadata.annotations?.["meta.helm.sh/release-namespace"] === done.identity.namespace);
    expect(ours.map((v) => v.spec.hostPath?.path)).toEqual([worktree]);
    await destroy(local, done.identity.key, { waitGone: true });
    // destroy returns only when its volume is gone, not while it is still being deleted.
    for (const v of ours) expect((await kubectl(["get", "pv", v.metadata.name], { reject: false })).exitCode).not.toBe(0);
  });

  it("refuses a volume outside it, or for a namespace not its own (admission)", async () => {
    const pv = (name: string, path: string, claimNamespace: string) => ({
      metadata: { name: `${run}-${name}` },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadWriteOnce"],
        hostPath: { path, type: "Directory" },
        storageClassName: "",
        claimRef: { namespace: claimNamespace, name: "x" },
      },
    });
    for (const [name, path, claim, reason] of [
      ["root", "/", `${PREFIX}x`, /may only make host-path volumes inside/],
      ["beside", `${worktree}x`, `${PREFIX}x`, /may only make host-path volumes inside/],
      ["foreign", worktree, "kube-system", /may only handle volumes claimed in its own namespaces/],
    ] as const) {
      const { code, message } = await refusal(restricted.core.createPersistentVolume({ body: pv(name, path, claim) }));
      expect(code, name).toBe(403);
      expect(message, name).toMatch(POLICY("volumes"));
      expect(message, name).toMatch(reason);
    }
  });
});
