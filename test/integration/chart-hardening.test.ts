// Issue 9's chart items on real pods (the ground's real node, Traefik as on
// K3s, kube-router enforcing NetworkPolicy): the chart's default policy
// admits Traefik; Odoo connects as a NOSUPERUSER role with a hostile
// password that is in no command line; the admin login is the generated
// one; Odoo sees the client's address, not a proxy's; the websocket reaches
// the gevent port with workers, through nginx and without it; https brings
// HSTS, the redirect and secure cookies; a slow start is not killed; a
// reinstall over a kept PostgreSQL volume works. The rendered side of the
// same items is test/unit/chart-hardening.test.ts.
//
// Two sandboxes, reused by every test (a 2-core machine): "front" (nginx,
// workers, https URL) and "direct" (no nginx, workers, http URL, a slow
// registry load, PostgreSQL's volume kept on uninstall).
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import type { Engine, EngineSettings } from "../../src/operations/engine.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { eventually, groundEnv, kubectl, kubectlJson, tool, uniqueName } from "../support/cluster.js";
import { groundSettings } from "../support/engine.js";
import { execIn, groundImage, realNodeMissing, requireRealNode } from "../support/real-node.js";

const PREFIX = "hard-sandbox-";
const BASE_DOMAIN = "hard.ground.test";
// Hostile on purpose: spaces, both quotes, a shell variable, a comment sign, a colon (.pgpass), a backslash.
const DB_PASSWORD = `db pw $PATH 'a' "b" #c :d \\e`;
const BASIC_AUTH_PASSWORD = "basic-auth-pw";
const SPOOFED = "203.0.113.77";

interface Pod {
  metadata: { name: string };
  status: {
    podIP?: string;
    phase?: string;
    containerStatuses?: { name: string; restartCount: number; ready: boolean }[];
  };
}
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}
interface Sandbox {
  name: "front" | "direct";
  scheme: "http" | "https";
  values: Record<string, unknown>;
  key: string;
  namespace: string;
  host: string;
}

let work = "";
let project = "";
let commit = "";
let nodeValues = "";
const run = uniqueName("h");

const front: Sandbox = {
  name: "front",
  scheme: "https",
  values: {
    odoo: { workers: 2, init: { modules: ["bus"] } },
    nginx: { basicAuth: { password: BASIC_AUTH_PASSWORD } },
    postgres: { password: DB_PASSWORD },
  },
  key: "",
  namespace: "",
  host: "",
};
const direct: Sandbox = {
  name: "direct",
  scheme: "http",
  values: {
    // A slow registry load at every start: the startup probe must cover it,
    // and liveness must not count it.
    odoo: { workers: 2, init: { modules: ["bus"] }, extraEnv: [{ name: "ODOO_STANDIN_LOAD_SECONDS", value: "12" }] },
    nginx: { enabled: false },
    postgres: { password: DB_PASSWORD, persistence: { deleteOnUninstall: false } },
  },
  key: "",
  namespace: "",
  host: "",
};

async function engineFor(sandbox: Sandbox, extra: Partial<EngineSettings> = {}): Promise<Engine> {
  const file = join(work, `${sandbox.name}.yaml`);
  await writeFile(file, stringify(sandbox.values));
  const settings = groundSettings(PREFIX, BASE_DOMAIN, {
    repository: "ground/hardening",
    scheme: sandbox.scheme,
    waitTimeoutMs: 6 * 60_000,
    valuesFiles: [nodeValues, file],
    imageRepository: `${groundEnv("REGISTRY")}/hard/shop-sandbox`,
    dockerfile: join(project, "Dockerfile.dev"),
    context: project,
    buildArgs: { ODOO_IMAGE: groundImage("ODOO") },
    ...extra,
  });
  return createEngine({ settings, logger: new MemoryLogger(), holder: "chart-hardening", builder: "buildah" });
}

async function onePod(namespace: string, component: string): Promise<Pod> {
  return eventually(`a running ${component} pod in ${namespace}`, async () => {
    const list = await kubectlJson<{ items: Pod[] }>(["-n", namespace, "get", "pods", "-l", `app.kubernetes.io/component=${component}`]);
    const pods = list.items.filter((p) => p.status.phase === "Running");
    return pods.length === 1 ? pods[0] : undefined;
  });
}

async function httpsBase(): Promise<string> {
  if (process.env.GROUND_INGRESS_HTTPS_URL) return process.env.GROUND_INGRESS_HTTPS_URL;
  // A ground started before it exported the https URL: Traefik's websecure NodePort.
  const svc = await kubectlJson<{ spec: { ports: { name?: string; port: number; nodePort: number }[] } }>([
    "-n",
    "kube-system",
    "get",
    "svc",
    "traefik",
  ]);
  const port = svc.spec.ports.find((p) => p.port === 443)?.nodePort;
  return `https://127.0.0.1:${port}`;
}

/** Through Traefik with the sandbox's Host (node:http: fetch would replace Host), over http or https (self-signed default cert). */
function through(
  sandbox: Sandbox,
  path: string,
  options: { scheme?: "http" | "https"; method?: string; headers?: Record<string, string>; body?: string; base?: string } = {},
): Promise<Answer> {
  const scheme = options.scheme ?? sandbox.scheme;
  const headers: Record<string, string> = { Host: sandbox.host, ...options.headers };
  if (sandbox === front) headers.Authorization = `Basic ${Buffer.from(`sandbox:${BASIC_AUTH_PASSWORD}`).toString("base64")}`;
  if (options.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(options.body));
  const base = options.base ?? groundEnv("GROUND_INGRESS_URL");
  return new Promise((resolvePromise, reject) => {
    const req = (scheme === "https" ? httpsRequest : httpRequest)(
      `${base}${path}`,
      {
        method: options.method ?? "GET",
        headers,
        timeout: 15_000,
        ...(scheme === "https" ? { servername: sandbox.host, rejectUnauthorized: false } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from the ingress for ${sandbox.host}${path}`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A websocket handshake on /websocket: the status line the server answers (101 = upgraded). */
function websocketHandshake(sandbox: Sandbox, base: string): Promise<number> {
  const headers: Record<string, string> = {
    Host: sandbox.host,
    Connection: "Upgrade",
    Upgrade: "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    Origin: `${sandbox.scheme}://${sandbox.host}`,
  };
  if (sandbox === front) headers.Authorization = `Basic ${Buffer.from(`sandbox:${BASIC_AUTH_PASSWORD}`).toString("base64")}`;
  const tls = base.startsWith("https:");
  return new Promise((resolvePromise, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(`${base}/websocket`, {
      headers,
      timeout: 15_000,
      ...(tls ? { servername: sandbox.host, rejectUnauthorized: false } : {}),
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolvePromise(res.statusCode ?? 0);
    });
    req.on("response", (res) => {
      res.resume();
      resolvePromise(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("no websocket answer")));
    req.on("error", reject);
    req.end();
  });
}

async function baseFor(sandbox: Sandbox): Promise<string> {
  return sandbox.scheme === "https" ? httpsBase() : groundEnv("GROUND_INGRESS_URL");
}

/** The Odoo login flow of the stand-in (Odoo's form): the CSRF token and session cookie, then POST. */
async function login(sandbox: Sandbox, password: string): Promise<Answer> {
  const base = await baseFor(sandbox);
  const page = await through(sandbox, "/web/login", { base });
  expect(page.status, page.body.slice(0, 300)).toBe(200);
  const csrf = page.body.match(/name="csrf_token" value="([^"]+)"/)?.[1] ?? "";
  const cookie = String(page.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
  const body = new URLSearchParams({ login: "admin", password, csrf_token: csrf, redirect: "" }).toString();
  return through(sandbox, "/web/login", {
    base,
    method: "POST",
    body,
    headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
  });
}

async function secretValue(namespace: string, secret: string, key: string): Promise<string> {
  const { stdout } = await kubectl(["-n", namespace, "get", "secret", secret, "-o", `jsonpath={.data.${key}}`]);
  return Buffer.from(stdout, "base64").toString("utf8");
}

/** psql as the sandbox PostgreSQL's superuser, its password read inside the container. */
async function superSql(namespace: string, query: string): Promise<string> {
  const postgres = await onePod(namespace, "postgres");
  const { code, out } = await execIn(namespace, postgres.metadata.name, "postgres", [
    "sh",
    "-c",
    'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d postgres -tAc "$1"',
    "sql",
    query,
  ]);
  if (code !== 0) throw new Error(`psql in ${namespace} failed: ${out}`);
  return out.trim();
}

/** The address Odoo logged for the request carrying `marker` (werkzeug's line starts with it). */
async function addressOdooSaw(namespace: string, marker: string): Promise<string> {
  return eventually(`Odoo's log line for ${marker}`, async () => {
    const odoo = await onePod(namespace, "odoo");
    const { stdout } = await kubectl(["-n", namespace, "logs", odoo.metadata.name, "-c", "odoo", "--since=10m"]);
    return stdout.match(new RegExp(`werkzeug: (\\S+) - - \\[[^\\]]*\\] "GET [^"]*${marker}`))?.[1];
  });
}

beforeAll(async () => {
  if (realNodeMissing()) return;
  work = await mkdtemp(join(tmpdir(), "chart-hardening-"));
  project = join(work, "project");
  await cp(resolve("examples/sample-addons"), join(project, "addons"), { recursive: true });
  await cp(resolve("Dockerfile.dev"), join(project, "Dockerfile.dev"));
  const git = (...args: string[]) => execa("git", ["-C", project, ...args]);
  await execa("git", ["init", "-q", project]);
  await git("add", "-A");
  await git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "first");
  commit = (await git("rev-parse", "HEAD")).stdout.trim();
  // The ground's values put the chart on the real node with its images, and
  // name Traefik for the NetworkPolicy; left out here, so the chart's own
  // defaults must admit Traefik (K3s's), as they must on a user's K3s.
  const ground = parse(await readFile(groundEnv("GROUND_REAL_NODE_VALUES"), "utf8")) as Record<string, unknown>;
  delete ground.networkPolicy;
  nodeValues = join(work, "node-values.yaml");
  await writeFile(nodeValues, stringify(ground));
});

afterAll(async () => {
  if (realNodeMissing()) return;
  for (const sandbox of [front, direct]) {
    if (sandbox.key) await destroy(await engineFor(sandbox), sandbox.key, { reason: "test", waitGone: false }).catch(() => undefined);
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the chart's hardening on the real node", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("deploys both sandboxes with the chart's own NetworkPolicy defaults, and Traefik reaches them", async () => {
    for (const sandbox of [front, direct]) {
      const result = await deploy(await engineFor(sandbox), { branch: `hard/${run}-${sandbox.name}`, commit });
      expect(result.result).toBe("deployed");
      sandbox.key = result.identity.key;
      sandbox.namespace = result.identity.namespace;
      sandbox.host = result.identity.host;
    }
    const [a, b] = await Promise.all(
      [front, direct].map(async (s) =>
        eventually(`${s.name} answering through Traefik`, async () => {
          const r = await through(s, "/web/health", { base: await baseFor(s) });
          return r.status === 200 ? r : undefined;
        }),
      ),
    );
    expect(JSON.parse(a?.body ?? "")).toEqual({ status: "pass" });
    expect(JSON.parse(b?.body ?? "")).toEqual({ status: "pass" });
  });

  it("connects Odoo as a NOSUPERUSER CREATEDB role owning its database, with a hostile password in no command line", async (ctx) => {
    ctx.skip(!front.namespace, "the deploy test did not run");
    const odoo = await onePod(front.namespace, "odoo");
    // One exec: the password is read from the rendered file, then looked for in every
    // process's argv (this script's own excepted) and environment we may read.
    const script = [
      "import configparser, json, os, stat",
      "p = configparser.RawConfigParser(); p.read('/run/odoo/odoo.conf')",
      "pw = p.get('options', 'db_password')",
      "me = str(os.getpid())",
      "argv, env, odoo = [], [], 0",
      "for pid in filter(str.isdigit, os.listdir('/proc')):",
      "    try:",
      "        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().decode(errors='replace')",
      "        if 'odoo' in cmd and pid != me: odoo += 1",
      "        if pw in cmd.replace(chr(0), ' ') and pid != me: argv.append(cmd)",
      "        if pw in open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace'): env.append(pid)",
      "    except OSError: pass",
      "mode = lambda f: oct(stat.S_IMODE(os.stat(f).st_mode))",
      "print(json.dumps({'pw': pw, 'argv': argv, 'env': env, 'odoo': odoo, 'conf': mode('/run/odoo/odoo.conf'), 'pgpass': mode('/run/odoo/pgpass')}))",
    ].join("\n");
    const [procs, role, owner, whoami] = await Promise.all([
      execIn(front.namespace, odoo.metadata.name, "odoo", ["python3", "-c", script]),
      superSql(front.namespace, "SELECT rolsuper || ',' || rolcreatedb FROM pg_roles WHERE rolname = 'odoo'"),
      superSql(front.namespace, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'odoo'"),
      // psql in the Odoo container with nothing but the rendered password file.
      execIn(front.namespace, odoo.metadata.name, "odoo", [
        "psql",
        "-X",
        "-w",
        "-d",
        "postgres",
        "-tAc",
        "SELECT current_user, current_setting('is_superuser')",
      ]),
    ]);
    const seen = JSON.parse(procs.out.trim().split("\n")[0] ?? "{}");
    expect(seen.pw).toBe(DB_PASSWORD);
    expect(seen.odoo).toBeGreaterThan(0);
    expect(seen.argv).toEqual([]);
    expect(seen.env).toEqual([]);
    expect(seen.conf).toBe("0o600");
    expect(seen.pgpass).toBe("0o600");
    expect(role).toBe("false,true");
    expect(owner).toBe("odoo");
    expect(whoami.out.trim()).toBe("odoo|off");
  });

  it("logs in admin only with the generated password (admin/admin is refused)", async (ctx) => {
    ctx.skip(!front.namespace, "the deploy test did not run");
    const password = await secretValue(front.namespace, "sandbox-odoo-dev-sandbox-odoo", "admin-login-password");
    expect(password).toMatch(/^[A-Za-z0-9]{24}$/);
    const [wrong, right] = await Promise.all([login(front, "admin"), login(front, password)]);
    expect(wrong.status).toBe(200);
    expect(wrong.body).toContain("Wrong login/password");
    expect(right.status, right.body.slice(0, 300)).toBe(303);
  });

  it("gives Odoo the client's address, never a proxy's nor a spoofed one, with nginx and without", async (ctx) => {
    ctx.skip(!front.namespace || !direct.namespace, "the deploy test did not run");
    const markers = { front: `ip-${randomBytes(4).toString("hex")}`, direct: `ip-${randomBytes(4).toString("hex")}` };
    for (const s of [front, direct]) {
      const r = await through(s, `/web/health?probe=${markers[s.name]}`, {
        base: await baseFor(s),
        headers: { "X-Forwarded-For": SPOOFED },
      });
      expect(r.status).toBe(200);
    }
    const [viaNginx, viaTraefik] = await Promise.all([
      addressOdooSaw(front.namespace, markers.front),
      addressOdooSaw(direct.namespace, markers.direct),
    ]);
    const traefik = await kubectlJson<{ items: Pod[] }>(["-n", "kube-system", "get", "pods", "-l", "app.kubernetes.io/name=traefik"]);
    const proxies = [...traefik.items.map((p) => p.status.podIP), (await onePod(front.namespace, "nginx")).status.podIP];
    expect(proxies.length).toBeGreaterThan(1);
    for (const address of [viaNginx, viaTraefik]) {
      expect(address).toMatch(/^[0-9a-f.:]+$/);
      expect(proxies).not.toContain(address);
      expect(address).not.toBe(SPOOFED);
    }
    // The same client, whichever way the request came.
    expect(viaNginx).toBe(viaTraefik);
  });

  it("upgrades /websocket to the gevent port with workers, through Traefik and nginx and through Traefik alone", async (ctx) => {
    ctx.skip(!front.namespace || !direct.namespace, "the deploy test did not run");
    // With workers > 0, the stand-in (like Odoo) refuses /websocket on 8069 with 500: 101 means 8072.
    const [viaNginx, viaTraefik] = await Promise.all([
      websocketHandshake(front, await httpsBase()),
      websocketHandshake(direct, groundEnv("GROUND_INGRESS_URL")),
    ]);
    expect(viaNginx).toBe(101);
    expect(viaTraefik).toBe(101);
  });

  it("serves an https sandbox with HSTS and secure cookies, and redirects its http", async (ctx) => {
    ctx.skip(!front.namespace, "the deploy test did not run");
    const [secure, plain, nginxHealth] = await Promise.all([
      through(front, "/web/login", { base: await httpsBase() }),
      through(front, "/web/login?x=1", { scheme: "http" }),
      through(front, "/nginx-health", { base: await httpsBase() }),
    ]);
    expect(secure.status).toBe(200);
    expect(secure.headers["strict-transport-security"]).toBe("max-age=31536000");
    const cookies = secure.headers["set-cookie"] ?? [];
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie).toMatch(/;\s*secure/i);
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://${front.host}/web/login?x=1`);
    expect(nginxHealth.status).toBe(200);
    // The http sandbox gets none of it.
    const direct200 = await through(direct, "/web/login");
    expect(direct200.status).toBe(200);
    expect(direct200.headers["strict-transport-security"]).toBeUndefined();
  });

  it("lets a slow start finish: the startup probe covers it and liveness does not restart Odoo", async (ctx) => {
    ctx.skip(!direct.namespace, "the deploy test did not run");
    const odoo = await onePod(direct.namespace, "odoo");
    const status = odoo.status.containerStatuses?.find((c) => c.name === "odoo");
    expect(status?.ready).toBe(true);
    expect(status?.restartCount).toBe(0);
    const { stdout } = await kubectl(["-n", direct.namespace, "logs", odoo.metadata.name, "-c", "odoo"]);
    expect(stdout).toMatch(/Registry loaded in (1\d|2\d)\.\d+s/);
  });

  it("reinstalls over the kept PostgreSQL volume with the kept Secrets (as after recoverPending's uninstall)", async (ctx) => {
    ctx.skip(!direct.namespace, "the deploy test did not run");
    const before = await secretValue(direct.namespace, "sandbox-odoo-dev-sandbox-postgres", "password");
    const uninstall = await execa(tool("HELM"), ["uninstall", "sandbox", "-n", direct.namespace, "--wait", "--timeout", "2m"], {
      env: { KUBECONFIG: process.env.KUBECONFIG },
      reject: false,
    });
    expect(uninstall.exitCode, uninstall.stderr).toBe(0);
    const kept = await kubectlJson<{ items: { metadata: { name: string } }[] }>(["-n", direct.namespace, "get", "secrets,pvc"]);
    const names = kept.items.map((i) => i.metadata.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "sandbox-odoo-dev-sandbox-postgres",
        "sandbox-odoo-dev-sandbox-odoo",
        "data-sandbox-odoo-dev-sandbox-postgres-0",
      ]),
    );
    const result = await deploy(await engineFor(direct), { branch: `hard/${run}-direct`, commit });
    expect(result.result).toBe("deployed");
    expect(await secretValue(direct.namespace, "sandbox-odoo-dev-sandbox-postgres", "password")).toBe(before);
    const health = await eventually("the reinstalled sandbox answering", async () => {
      const r = await through(direct, "/web/health?db_server_status=1");
      return r.status === 200 ? r : undefined;
    });
    expect(JSON.parse(health.body)).toEqual({ status: "pass", db_server_status: true });
    // The data survived: the database was not initialized again.
    const odoo = await onePod(direct.namespace, "odoo");
    const { stdout } = await kubectl(["-n", direct.namespace, "logs", odoo.metadata.name, "-c", "init-db"]);
    expect(stdout).toContain("is already initialized");
  });
});
