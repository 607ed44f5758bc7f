// pgAdmin (pgadmin.enabled) deployed by the engine onto the ground's real
// node with the ground's pgadmin image (the real pgAdmin 4 9.18 from PyPI;
// test/ground/images/pgadmin): it starts under the chart's security context,
// answers through the ingress controller and nginx at /pgadmin4/ only with
// the sandbox's basic auth, its own login works with the generated account,
// and the account finds the sandbox's PostgreSQL preconfigured. Every answer
// comes from pgAdmin itself over HTTP; nothing is stubbed.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import type { Engine } from "../../src/operations/engine.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { eventually, groundEnv, kubectlJson, uniqueName } from "../support/cluster.js";
import { groundSettings } from "../support/engine.js";
import { execIn, groundImage, realNodeMissing } from "../support/real-node.js";

const PREFIX = "pga-";
const BASE_DOMAIN = "pgadmin.ground.test";
const REAL_NODE = "ground-real-0";
const RELEASE = "sandbox-odoo-dev-sandbox";
// Hostile on purpose, as in chart-real-pods: quotes, $, #, spaces.
const BASIC_AUTH_PASSWORD = `pg "dq" 'sq' $HOME #x`;
const BASIC_AUTH = `sandbox:${BASIC_AUTH_PASSWORD}`;

let work = "";
let key = "";
let namespace = "";
let host = "";
const run = uniqueName("p");

function engine(): Engine & { log: MemoryLogger } {
  const log = new MemoryLogger();
  const settings = groundSettings(PREFIX, BASE_DOMAIN, {
    repository: "ground/pgadmin",
    scheme: "http",
    waitTimeoutMs: 8 * 60_000,
    valuesFiles: [groundEnv("GROUND_REAL_NODE_VALUES"), join(work, "values.yaml")],
  });
  return Object.assign(createEngine({ settings, logger: log, holder: "chart-pgadmin" }), { log });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A browser's cookie jar, just enough for pgAdmin's session cookie. */
class Cookies {
  private readonly jar = new Map<string, string>();
  take(headers: Answer["headers"]): void {
    const set = headers["set-cookie"];
    for (const line of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair] = line.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (pair && eq > 0) this.jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  header(): string | undefined {
    return this.jar.size ? [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ") : undefined;
  }
}

/** Through the ingress controller's NodePort with the sandbox's Host header (fetch would replace Host). */
function throughIngress(
  path: string,
  options: {
    auth?: string;
    method?: string;
    form?: Record<string, string>;
    json?: unknown;
    cookies?: Cookies;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { Host: host, "User-Agent": "chart-pgadmin-test", ...options.headers };
  if (options.auth) headers.Authorization = `Basic ${Buffer.from(options.auth).toString("base64")}`;
  const cookie = options.cookies?.header();
  if (cookie) headers.Cookie = cookie;
  const body = options.form ? new URLSearchParams(options.form).toString() : options.json ? JSON.stringify(options.json) : undefined;
  if (body) {
    headers["Content-Type"] = options.form ? "application/x-www-form-urlencoded" : "application/json";
    headers["Content-Length"] = String(Buffer.byteLength(body));
  }
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(
      `${groundEnv("GROUND_INGRESS_URL")}${path}`,
      { method: options.method ?? "GET", headers, timeout: 30_000 },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          options.cookies?.take(res.headers);
          resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: text });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from the ingress for ${host}${path}`)));
    req.on("error", reject);
    req.end(body);
  });
}

async function secretValue(name: string, field: string): Promise<string> {
  const secret = await kubectlJson<{ data: Record<string, string> }>(["-n", namespace, "get", "secret", name]);
  const value = secret.data[field];
  if (!value) throw new Error(`Secret ${namespace}/${name} has no ${field}`);
  return Buffer.from(value, "base64").toString("utf8");
}

interface Pod {
  metadata: { name: string };
  spec: {
    nodeName?: string;
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; seccompProfile?: { type: string } };
    containers: {
      name: string;
      image: string;
      securityContext?: { allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[]; add?: string[] }; privileged?: boolean };
    }[];
  };
  status: { phase?: string; containerStatuses?: { name: string; ready: boolean }[] };
}

async function pgadminPod(): Promise<Pod> {
  return eventually("a ready pgAdmin pod", async () => {
    const list = await kubectlJson<{ items: Pod[] }>(["-n", namespace, "get", "pods", "-l", "app.kubernetes.io/component=pgadmin"]);
    const ready = list.items.filter((p) => p.status.containerStatuses?.every((s) => s.ready));
    return ready.length === 1 ? ready[0] : undefined;
  });
}

/** pgAdmin's login page embeds the form's CSRF token in the page's props. */
function csrfTokenOf(page: string): string {
  const match = /"csrfToken":\s*"([^"]+)"/.exec(page);
  if (!match?.[1]) throw new Error(`no csrfToken in pgAdmin's login page: ${page.slice(0, 300)}`);
  return match[1];
}

/** Logs in as pgAdmin's own account through the ingress; returns the session's cookies and where it was sent. */
async function logIn(email: string, password: string): Promise<{ cookies: Cookies; location: string }> {
  const cookies = new Cookies();
  const page = await throughIngress("/pgadmin4/login", { auth: BASIC_AUTH, cookies });
  expect(page.status).toBe(200);
  const answer = await throughIngress("/pgadmin4/authenticate/login", {
    auth: BASIC_AUTH,
    method: "POST",
    cookies,
    form: { csrf_token: csrfTokenOf(page.body), email, password, language: "en", internal_button: "Login" },
  });
  expect(answer.status, answer.body.slice(0, 500)).toBe(302);
  return { cookies, location: String(answer.headers.location ?? "") };
}

/** Why the tests cannot run here, if they cannot. */
function missing(): string | undefined {
  const node = realNodeMissing();
  if (node) return `needs the ground's real node: ${node}`;
  // A ground started before pgadmin was one of its images exports none.
  if (!process.env.GROUND_IMAGE_PGADMIN)
    return "the ground has no pgadmin image yet (started before it was one of its images): restart it with `npm run ground -- down` and `up`";
  return undefined;
}

beforeAll(async () => {
  if (missing()) return;
  work = await mkdtemp(join(tmpdir(), "chart-pgadmin-"));
  await writeFile(
    join(work, "values.yaml"),
    stringify({
      nginx: { basicAuth: { password: BASIC_AUTH_PASSWORD } },
      // The ground's image until the ground's own values name it (after its next start).
      pgadmin: { enabled: true, image: groundImage("PGADMIN") },
    }),
  );
  const deployer = engine();
  const result = await deploy(deployer, { branch: `pgadmin/${run}` });
  expect(result.result, deployer.log.lines.join("\n")).toBe("deployed");
  key = result.identity.key;
  namespace = result.identity.namespace;
  host = result.identity.host;
}, 10 * 60_000);

afterAll(async () => {
  if (missing()) return;
  if (key && process.env.KEEP_PGADMIN_SANDBOX !== "1")
    await destroy(engine(), key, { reason: "test", waitGone: true }).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe("pgAdmin on the real node", () => {
  beforeEach((ctx) => {
    const reason = missing();
    ctx.skip(reason !== undefined, reason);
  });

  it("runs the ground's pgAdmin image as uid 5050 with no capabilities, no privilege escalation and seccomp", async () => {
    const pod = await pgadminPod();
    expect(pod.spec.nodeName).toBe(REAL_NODE);
    const container = pod.spec.containers.find((c) => c.name === "pgadmin");
    expect(container?.image).toBe(groundImage("PGADMIN"));
    // What the chart asked for...
    expect(pod.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 5050,
      runAsGroup: 5050,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(container?.securityContext?.capabilities?.add).toBeUndefined();
    // ...and what the kernel applies to the running server (gunicorn is PID 1
    // after the entrypoint's exec): no effective, permitted or bounding
    // capability, no_new_privs set, seccomp in filter mode (2).
    const { code, out } = await execIn(namespace, pod.metadata.name, "pgadmin", ["cat", "/proc/1/status", "/proc/1/cmdline"]);
    expect(code, out).toBe(0);
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(out)?.[1];
    expect(field("Uid")).toBe("5050");
    expect(field("Gid")).toBe("5050");
    for (const set of ["CapEff", "CapPrm", "CapBnd", "CapAmb"]) expect(field(set), set).toBe("0000000000000000");
    expect(field("NoNewPrivs")).toBe("1");
    expect(field("Seccomp")).toBe("2");
    expect(out).toContain("gunicorn");
    // The account's password was for the first start only: the server's environment does not hold it.
    const environ = await execIn(namespace, pod.metadata.name, "pgadmin", ["cat", "/proc/1/environ"]);
    expect(environ.code, environ.out).toBe(0);
    const names = environ.out.split("\0").map((entry) => entry.split("=")[0]);
    expect(names).toContain("PGADMIN_DEFAULT_EMAIL");
    expect(names).not.toContain("PGADMIN_DEFAULT_PASSWORD");
  });

  it("answers at /pgadmin4/ through the ingress only with the sandbox's basic auth", async () => {
    expect((await throughIngress("/pgadmin4/misc/ping")).status).toBe(401);
    expect((await throughIngress("/pgadmin4/misc/ping", { auth: "sandbox:wrong" })).status).toBe(401);
    expect((await throughIngress("/pgadmin4/login")).status).toBe(401);
    const ping = await throughIngress("/pgadmin4/misc/ping", { auth: BASIC_AUTH });
    expect(ping.status).toBe(200);
    expect(ping.body).toBe("PING");
    // pgAdmin itself, unauthenticated: sent to its own login, under the
    // sub-path (X-Script-Name from nginx), never to a path outside it.
    const root = await throughIngress("/pgadmin4/", { auth: BASIC_AUTH });
    expect(root.status).toBe(302);
    expect(String(root.headers.location)).toMatch(/^(https?:\/\/[^/]+)?\/pgadmin4\/login/);
    const login = await throughIngress("/pgadmin4/login", { auth: BASIC_AUTH });
    expect(login.status).toBe(200);
    expect(login.body).toContain("/pgadmin4/authenticate/login");
  });

  it("logs in with the generated account from the Secret, and refuses a wrong password", async () => {
    const email = await secretValue(`${RELEASE}-pgadmin`, "email");
    const password = await secretValue(`${RELEASE}-pgadmin`, "password");
    expect(password.length).toBeGreaterThanOrEqual(16);

    const wrong = await logIn(email, `${password}x`);
    expect(wrong.location).toMatch(/\/pgadmin4\/login/);
    const refused = await throughIngress("/pgadmin4/browser/", { auth: BASIC_AUTH, cookies: wrong.cookies });
    expect(refused.status).toBe(302);
    expect(String(refused.headers.location)).toMatch(/\/pgadmin4\/login/);

    const right = await logIn(email, password);
    expect(right.location).toMatch(/\/pgadmin4\/browser\//);
    const browser = await throughIngress("/pgadmin4/browser/", { auth: BASIC_AUTH, cookies: right.cookies });
    expect(browser.status).toBe(200);
  });

  it("has the sandbox's PostgreSQL preconfigured for that account: host, port and user", async () => {
    const email = await secretValue(`${RELEASE}-pgadmin`, "email");
    const password = await secretValue(`${RELEASE}-pgadmin`, "password");
    const { cookies } = await logIn(email, password);
    // pgAdmin wants its CSRF token on every API call, as its own UI sends it
    // (the header and token its browser script carries).
    const script = await throughIngress("/pgadmin4/browser/js/utils.js", { auth: BASIC_AUTH, cookies });
    expect(script.status).toBe(200);
    const token = /pgAdmin\['csrf_token'\] = '([^']+)'/.exec(script.body)?.[1];
    expect(token, "the CSRF token in pgAdmin's utils.js").toBeTruthy();
    const json = async <T>(path: string): Promise<T> => {
      const r = await throughIngress(path, {
        auth: BASIC_AUTH,
        cookies,
        headers: { Accept: "application/json", "X-pgA-CSRFToken": token ?? "" },
      });
      expect(r.status, `${path}: ${r.body.slice(0, 300)}`).toBe(200);
      return JSON.parse(r.body) as T;
    };
    const groups = await json<{ data: { _id: string; label: string }[] }>("/pgadmin4/browser/server_group/nodes/");
    const group = groups.data.find((g) => g.label === "Sandbox");
    expect(group, JSON.stringify(groups.data)).toBeDefined();
    // The group's servers with their connection settings, as pgAdmin's properties panel reads them.
    const servers = await json<
      { id: number; name: string; host: string; port: number; db: string; username: string; "group-name": string }[]
    >(`/pgadmin4/browser/server/obj/${group?._id}/`);
    // The very host, port and role Odoo uses: the postgres Service and the
    // username in the Secret Odoo reads.
    const service = await kubectlJson<{ spec: { ports: { port: number }[] } }>(["-n", namespace, "get", "service", `${RELEASE}-postgres`]);
    const username = await secretValue(`${RELEASE}-postgres`, "username");
    expect(servers).toHaveLength(1);
    expect(servers[0]).toMatchObject({
      name: `sandbox ${key}`,
      "group-name": "Sandbox",
      host: `${RELEASE}-postgres`,
      port: service.spec.ports[0]?.port,
      db: "postgres",
      username,
    });

    // And it connects: pgAdmin reaches PostgreSQL through the chart's
    // NetworkPolicy with the database password the user types (never stored).
    const connect = await throughIngress(`/pgadmin4/browser/server/connect/${group?._id}/${servers[0]?.id}`, {
      auth: BASIC_AUTH,
      method: "POST",
      cookies,
      headers: { "X-pgA-CSRFToken": token ?? "", "Content-Type": "application/json" },
      json: { password: await secretValue(`${RELEASE}-postgres`, "password"), save_password: false },
    });
    expect(connect.status, connect.body.slice(0, 500)).toBe(200);
    expect(JSON.parse(connect.body)).toMatchObject({ success: 1, data: { connected: true } });
  });
});
