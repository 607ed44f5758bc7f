// The chart, deployed by the engine, running for real on the ground's real
// node: PostgreSQL initializes, the init step creates the database, the Odoo
// stand-in answers through nginx and the ingress controller (Traefik, as on
// K3s) behind basic auth, NetworkPolicy keeps two sandboxes apart, an upgrade
// with a new image rolls, `helm test` passes, local mode shows a host edit in
// the pod at once, and destroy leaves nothing. kwok cannot prove any of this:
// its pods are status updates, not processes.
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import type { Engine, EngineSettings } from "../../src/operations/engine.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { eventually, groundEnv, kubectl, kubectlJson, namespaceGone, tool, uniqueName } from "../support/cluster.js";
import { groundSettings } from "../support/engine.js";
import { execIn, groundImage, realNodeMissing, requireRealNode, tcpProbe } from "../support/real-node.js";

const PREFIX = "real-sandbox-";
const BASE_DOMAIN = "real.ground.test";
const REAL_NODE = "ground-real-0";
// Hostile on purpose: spaces, both quotes, a shell variable, a comment sign.
const BASIC_AUTH_PASSWORD = `pa ss "dq" 'sq' $HOME #x`;
const DB_PASSWORD = `db pw $PATH 'a' "b" #c`;

interface Pod {
  metadata: { name: string; uid: string; labels: Record<string, string> };
  spec: { nodeName?: string };
  status: { podIP?: string; phase?: string; initContainerStatuses?: { name: string; state: { terminated?: { exitCode: number } } }[] };
}

let work = "";
let project = "";
let valuesFile = "";
let localVolumesConfig = "";
const run = uniqueName("r");

/** The engine builds only a checkout whose HEAD is the commit it deploys: commit, and deploy that. */
async function commitProject(message: string): Promise<string> {
  const git = (...args: string[]) => execa("git", ["-C", project, ...args]);
  await git("add", "-A");
  await git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "--allow-empty", "-m", message);
  return (await git("rev-parse", "HEAD")).stdout.trim();
}

function engine(extra: Partial<EngineSettings> = {}): Engine & { log: MemoryLogger } {
  const log = new MemoryLogger();
  const settings = groundSettings(PREFIX, BASE_DOMAIN, {
    repository: "ground/real-pods",
    scheme: "http",
    waitTimeoutMs: 6 * 60_000,
    valuesFiles: [groundEnv("GROUND_REAL_NODE_VALUES"), valuesFile],
    imageRepository: `${groundEnv("REGISTRY")}/real/shop-sandbox`,
    dockerfile: join(project, "Dockerfile.dev"),
    context: project,
    buildArgs: { ODOO_IMAGE: groundImage("ODOO") },
    ...extra,
  });
  return Object.assign(createEngine({ settings, logger: log, holder: "chart-real-pods", builder: "buildah" }), { log });
}

async function podsOf(namespace: string, component: string): Promise<Pod[]> {
  const list = await kubectlJson<{ items: Pod[] }>(["-n", namespace, "get", "pods", "-l", `app.kubernetes.io/component=${component}`]);
  return list.items.filter((p) => p.status.phase === "Running");
}

async function onePod(namespace: string, component: string): Promise<Pod> {
  return eventually(`a running ${component} pod in ${namespace}`, async () => {
    const pods = await podsOf(namespace, component);
    return pods.length === 1 ? pods[0] : undefined;
  });
}

/** Through the ingress controller's NodePort with the sandbox's Host header (fetch would replace Host with the URL's). */
function throughIngress(host: string, path: string, auth?: string): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { Host: host };
  if (auth) headers.Authorization = `Basic ${Buffer.from(auth).toString("base64")}`;
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(`${groundEnv("GROUND_INGRESS_URL")}${path}`, { headers, timeout: 15_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from the ingress for ${host}${path}`)));
    req.on("error", reject);
    req.end();
  });
}

async function sql(namespace: string, query: string): Promise<string> {
  const postgres = await onePod(namespace, "postgres");
  // The password is read from the container's own environment: never on a command line.
  const { code, out } = await execIn(namespace, postgres.metadata.name, "postgres", [
    "sh",
    "-c",
    'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d odoo -tAc "$1"',
    "sql",
    query,
  ]);
  if (code !== 0) throw new Error(`psql in ${namespace} failed: ${out}`);
  return out.trim();
}

beforeAll(async () => {
  if (realNodeMissing()) return;
  work = await mkdtemp(join(tmpdir(), "chart-real-pods-"));
  project = join(work, "project");
  await cp(resolve("examples/sample-addons"), join(project, "addons"), { recursive: true });
  await cp(resolve("Dockerfile.dev"), join(project, "Dockerfile.dev"));
  await execa("git", ["init", "-q", project]);
  valuesFile = join(work, "values.yaml");
  // Local mode mounts only host paths the cluster's admin allowed (charts/sandbox-access does this on a real cluster).
  const system = uniqueName("real-system");
  await kubectl(["create", "namespace", system]);
  await kubectl(["-n", system, "create", "configmap", "local-volumes", `--from-literal=allowedHostPaths=${work}`]);
  localVolumesConfig = `${system}/local-volumes`;
  await writeFile(valuesFile, stringify({ nginx: { basicAuth: { password: BASIC_AUTH_PASSWORD } }, postgres: { password: DB_PASSWORD } }));
});

afterAll(async () => {
  if (realNodeMissing()) return;
  const cleaner = engine();
  const { stdout } = await kubectl(["get", "namespaces", "-o", "name"]);
  for (const ns of stdout.split("\n").map((l) => l.replace("namespace/", ""))) {
    if (ns.startsWith(PREFIX)) await destroy(cleaner, ns.slice(PREFIX.length)).catch(() => undefined);
  }
  if (localVolumesConfig) await kubectl(["delete", "namespace", localVolumesConfig.split("/")[0] ?? "", "--wait=false"], { reject: false });
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the chart on the real node", () => {
  const a = { branch: `real/${run}-a`, key: "", namespace: "", host: "" };
  const b = { branch: `real/${run}-b`, key: "", namespace: "", host: "" };

  beforeEach((ctx) => requireRealNode(ctx));

  it("deploys two sandboxes whose pods really run, as the images' users", async () => {
    const commit = await commitProject("first");
    for (const sandbox of [a, b]) {
      const result = await deploy(engine(), { branch: sandbox.branch, commit });
      expect(result.result).toBe("deployed");
      sandbox.key = result.identity.key;
      sandbox.namespace = result.identity.namespace;
      sandbox.host = result.identity.host;
    }
    for (const component of ["postgres", "odoo", "nginx"]) {
      const pod = await onePod(a.namespace, component);
      expect(pod.spec.nodeName, `${component} must land on the real node`).toBe(REAL_NODE);
    }
    const uid = async (component: string, container: string) =>
      (await execIn(a.namespace, (await onePod(a.namespace, component)).metadata.name, container, ["id", "-u"])).out.trim();
    expect(await uid("postgres", "postgres")).toBe("999");
    expect(await uid("odoo", "odoo")).toBe("100");
    expect(await uid("nginx", "nginx")).toBe("101");
  });

  it("initialized PostgreSQL and the database through the init step, with a password full of quotes and $", async (ctx) => {
    ctx.skip(!a.namespace, "the deploy test did not run");
    const odoo = await onePod(a.namespace, "odoo");
    const init = odoo.status.initContainerStatuses?.find((s) => s.name === "init-db");
    expect(init?.state.terminated?.exitCode).toBe(0);
    expect(await sql(a.namespace, "SELECT state FROM ir_module_module WHERE name = 'base'")).toBe("installed");
    expect(await sql(a.namespace, "SELECT state FROM ir_module_module WHERE name = 'sandbox_hello'")).toBe("installed");
  });

  it("answers through the ingress controller and nginx, only with basic auth", async (ctx) => {
    ctx.skip(!a.namespace, "the deploy test did not run");
    const anonymous = await throughIngress(a.host, "/web/login");
    expect(anonymous.status).toBe(401);
    const wrong = await throughIngress(a.host, "/web/login", "sandbox:wrong");
    expect(wrong.status).toBe(401);
    const ok = await eventually("the login page through the ingress", async () => {
      const r = await throughIngress(a.host, "/web/login", `sandbox:${BASIC_AUTH_PASSWORD}`);
      return r.status === 200 ? r : undefined;
    });
    expect(ok.body).toMatch(/<form[^>]*login/i);
    const health = await throughIngress(a.host, "/web/health", `sandbox:${BASIC_AUTH_PASSWORD}`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "pass" });
    // Another sandbox's host is routed to that sandbox, with its own credentials.
    expect((await throughIngress(b.host, "/web/login", `sandbox:${BASIC_AUTH_PASSWORD}`)).status).toBe(200);
    expect((await throughIngress(`nobody.${BASE_DOMAIN}`, "/web/login")).status).toBe(404);
  });

  it("keeps the two sandboxes apart and lets nothing else out (NetworkPolicy, enforced)", async (ctx) => {
    ctx.skip(!a.namespace, "the deploy test did not run");
    const odooA = (await onePod(a.namespace, "odoo")).metadata.name;
    const targets = {
      postgresB: (await onePod(b.namespace, "postgres")).status.podIP ?? "",
      odooB: (await onePod(b.namespace, "odoo")).status.podIP ?? "",
      nginxB: (await onePod(b.namespace, "nginx")).status.podIP ?? "",
    };
    const postgresServiceA = `sandbox-odoo-dev-sandbox-postgres.${a.namespace}.svc.cluster.local`;
    // Positive controls first: without them, "closed" could mean "broken".
    expect(await tcpProbe(a.namespace, odooA, "odoo", postgresServiceA, 5432)).toBe("open");
    const odooBName = (await onePod(b.namespace, "odoo")).metadata.name;
    expect(await tcpProbe(b.namespace, odooBName, "odoo", `sandbox-odoo-dev-sandbox-postgres.${b.namespace}.svc.cluster.local`, 5432)).toBe(
      "open",
    );
    // DNS: a Service name of another namespace still resolves (the answer is then closed, not unresolved).
    expect(await tcpProbe(a.namespace, odooA, "odoo", `sandbox-odoo-dev-sandbox-postgres.${b.namespace}.svc.cluster.local`, 5432)).not.toBe(
      "unresolved",
    );
    expect(await tcpProbe(a.namespace, odooA, "odoo", `sandbox-odoo-dev-sandbox-postgres.${b.namespace}.svc.cluster.local`, 5432)).not.toBe(
      "open",
    );
    expect(await tcpProbe(a.namespace, odooA, "odoo", targets.postgresB, 5432)).not.toBe("open");
    expect(await tcpProbe(a.namespace, odooA, "odoo", targets.odooB, 8069)).not.toBe("open");
    expect(await tcpProbe(a.namespace, odooA, "odoo", targets.nginxB, 8080)).not.toBe("open");
    expect(await tcpProbe(b.namespace, odooBName, "odoo", (await onePod(a.namespace, "odoo")).status.podIP ?? "", 8069)).not.toBe("open");
    // Nothing else: not the API server, neither by Service nor by address.
    const apiserver = new URL(
      (await kubectlJson<{ clusters: { cluster: { server: string } }[] }>(["config", "view", "--raw"])).clusters[0]?.cluster.server ?? "",
    );
    expect(await tcpProbe(a.namespace, odooA, "odoo", "kubernetes.default.svc.cluster.local", 443)).not.toBe("open");
    expect(await tcpProbe(a.namespace, odooA, "odoo", apiserver.hostname, Number(apiserver.port))).not.toBe("open");
  });

  it("passes helm test: a test pod reaches Odoo through nginx", async (ctx) => {
    ctx.skip(!a.namespace, "the deploy test did not run");
    const { exitCode, stdout, stderr } = await execa(tool("HELM"), ["test", "sandbox", "-n", a.namespace, "--timeout", "3m", "--logs"], {
      env: { KUBECONFIG: process.env.KUBECONFIG },
      reject: false,
    });
    expect(exitCode, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toMatch(/Phase:\s+Succeeded/);
  });

  it("rolls Odoo to a new image when the code changes, and updates the module", async (ctx) => {
    ctx.skip(!a.namespace, "the deploy test did not run");
    const before = await onePod(a.namespace, "odoo");
    await writeFile(join(project, "addons", "sandbox_hello", "CHANGED.txt"), `change ${run}\n`);
    const result = await deploy(engine(), { branch: a.branch, commit: await commitProject("second") });
    expect(result.result).toBe("deployed");
    expect(result.imageReused).toBe(false);
    const after = await eventually("a new Odoo pod", async () => {
      const pods = await podsOf(a.namespace, "odoo");
      return pods.length === 1 && pods[0]?.metadata.uid !== before.metadata.uid ? pods[0] : undefined;
    });
    const { out } = await execIn(a.namespace, after.metadata.name, "odoo", ["cat", "/mnt/extra-addons/sandbox_hello/CHANGED.txt"]);
    expect(out.trim()).toBe(`change ${run}`);
    expect(await sql(a.namespace, "SELECT value FROM ir_config_parameter WHERE key = 'k8s_dev_sandbox.revision'")).toContain(
      result.image ?? "no image",
    );
  });

  it("destroys a sandbox and leaves nothing behind, its volumes included", async (ctx) => {
    ctx.skip(!b.namespace, "the deploy test did not run");
    const claims = await kubectlJson<{ items: { spec: { volumeName: string } }[] }>(["-n", b.namespace, "get", "pvc"]);
    const volumes = claims.items.map((c) => c.spec.volumeName).filter(Boolean);
    expect(volumes.length).toBeGreaterThan(0);
    await destroy(engine(), b.key, { reason: "test", waitGone: true });
    await namespaceGone(b.namespace);
    await eventually(
      "the sandbox's volumes to be deleted",
      async () => {
        for (const pv of volumes) if ((await kubectl(["get", "pv", pv], { reject: false })).exitCode === 0) return false;
        return true;
      },
      60_000,
    );
  });
});

describe("local mode on the real node", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("mounts the work tree: an edit on the host is in the container at once", async () => {
    const tree = join(work, "tree");
    await cp(resolve("examples/sample-addons"), join(tree, "addons"), { recursive: true });
    const local = engine({ mode: "local", localAddonsPath: join(tree, "addons"), imageRepository: undefined, localVolumesConfig });
    const result = await deploy(local, { branch: `real/${run}-local` });
    expect(result.result).toBe("deployed");
    const namespace = result.identity.namespace;
    const odoo = await onePod(namespace, "odoo");
    expect(odoo.spec.nodeName).toBe(REAL_NODE);
    const marker = `edited ${Date.now()}`;
    await writeFile(join(tree, "addons", "sandbox_hello", "live.txt"), `${marker}\n`);
    const seen = await execIn(namespace, odoo.metadata.name, "odoo", ["cat", "/mnt/extra-addons/sandbox_hello/live.txt"]);
    expect(seen.out.trim()).toBe(marker);
    // Read-only by default: the pod cannot write into the developer's tree.
    const write = await execIn(namespace, odoo.metadata.name, "odoo", ["sh", "-c", "echo x > /mnt/extra-addons/sandbox_hello/pod.txt"]);
    expect(write.code).not.toBe(0);
    await destroy(local, result.identity.key, { reason: "test", waitGone: true });
  });
});
