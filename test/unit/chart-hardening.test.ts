// Issue 9's chart items, checked on the rendered manifests (the real-pod side
// is test/integration/chart-hardening.test.ts): the ingress controllers the
// NetworkPolicy admits, probes that let a long install finish, Odoo as a
// NOSUPERUSER role whose password is never on a command line, a generated
// admin login, real client addresses, prefork limits, kept Secrets and TLS.
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { chartDir, helmTemplate, helmTemplateRun, type K8sObject } from "../support/helm.js";

const HOSTILE = `db pw $PATH 'a' "b" #c %(x)s \\ :colon`;

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "chart-hardening-"));
  dirs.push(dir);
  return dir;
}
/** Values that --set cannot carry (spaces, quotes, commas) go through a file. */
async function valuesFile(values: Record<string, unknown>): Promise<string> {
  const file = join(await tempDir(), "values.yaml");
  await writeFile(file, stringify(values));
  return file;
}

const one = (objects: K8sObject[], kind: string, suffix: string): K8sObject => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
  if (found.length !== 1) throw new Error(`expected one ${kind} *${suffix}, found ${found.length}`);
  return found[0] as K8sObject;
};
const decode = (secret: K8sObject, key: string): string => Buffer.from(String(secret.data?.[key] ?? ""), "base64").toString("utf8");
// biome-ignore lint/suspicious/noExplicitAny: a pod spec
const allContainers = (spec: any): any[] => [...(spec.initContainers ?? []), ...spec.containers];
const CI = ["values-ci.yaml", "ci/ci-values.yaml"];

describe("ingress controllers and class (item 9)", () => {
  it("admits ingress-nginx and K3s's Traefik by default, plus a controller given the old way", async () => {
    const legacy = await valuesFile({
      networkPolicy: {
        ingressController: {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "haproxy" } },
          podSelector: { matchLabels: { app: "haproxy" } },
        },
      },
    });
    for (const [files, expected] of [
      [CI, ["ingress-nginx", "kube-system"]],
      [
        [...CI, legacy],
        ["ingress-nginx", "kube-system", "haproxy"],
      ],
    ] as const) {
      const policy = one(await helmTemplate({ valuesFiles: [...files] }), "NetworkPolicy", "-allow-nginx");
      const peers = policy.spec.ingress[0].from.filter((p: { namespaceSelector?: unknown }) => p.namespaceSelector);
      expect(
        peers.map(
          (p: { namespaceSelector: { matchLabels: Record<string, string> } }) =>
            p.namespaceSelector.matchLabels["kubernetes.io/metadata.name"],
        ),
      ).toEqual(expected);
    }
    const policy = one(await helmTemplate({ valuesFiles: CI }), "NetworkPolicy", "-allow-nginx");
    expect(policy.spec.ingress[0].from[1].podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": "traefik" } });
  });

  it('writes no ingressClassName for className "" (the default class), and the name when given', async () => {
    const host = { "sandbox.host": "a.example.com" };
    const plain = one(await helmTemplate({ valuesFiles: ["values-ci.yaml"], set: host }), "Ingress", "");
    expect(plain.spec).not.toHaveProperty("ingressClassName");
    const named = one(await helmTemplate({ valuesFiles: CI, set: { ...host, "ingress.className": "traefik" } }), "Ingress", "");
    expect(named.spec.ingressClassName).toBe("traefik");
  });
});

describe("the database password and role (item 11)", () => {
  it("never puts the password in the Odoo containers' command line or environment, only in the config step", async () => {
    const objects = await helmTemplate({ valuesFiles: [...CI, await valuesFile({ postgres: { password: HOSTILE } })] });
    const pod = one(objects, "Deployment", "-odoo").spec.template.spec;
    expect(pod.initContainers.map((c: { name: string }) => c.name)).toEqual(["config", "init-db"]);
    for (const container of allContainers(pod)) {
      const text = JSON.stringify([container.command, container.args]);
      expect(text, container.name).not.toContain("db pw");
      expect(text, container.name).not.toMatch(/db_password|--db_password|-w\b/);
      const fromPassword = (container.env ?? []).filter(
        (e: { valueFrom?: { secretKeyRef?: { name: string; key: string } } }) =>
          e.valueFrom?.secretKeyRef?.name.endsWith("-postgres") && e.valueFrom.secretKeyRef.key === "password",
      );
      expect(
        fromPassword.map((e: { name: string }) => e.name),
        container.name,
      ).toEqual(container.name === "config" ? ["DB_PASSWORD"] : []);
      for (const name of ["PASSWORD", "PGPASSWORD"])
        expect(
          container.env.some((e: { name: string }) => e.name === name),
          `${container.name} ${name}`,
        ).toBe(false);
    }
    const odoo = pod.containers[0];
    expect(odoo.env).toContainEqual({ name: "ODOO_RC", value: "/run/odoo/odoo.conf" });
    expect(odoo.env).toContainEqual({ name: "PGPASSFILE", value: "/run/odoo/pgpass" });
    expect(odoo.volumeMounts).toContainEqual({ name: "run-config", mountPath: "/run/odoo", readOnly: true });
    expect(odoo.volumeMounts.some((m: { name: string }) => m.name === "config")).toBe(false);
    expect(pod.volumes).toContainEqual({ name: "run-config", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } });
    // The Secret's odoo.conf is the template: the password is added in the pod.
    expect(decode(one(objects, "Secret", "-odoo"), "odoo.conf")).not.toMatch(/db_password/);
  });

  it("renders odoo.conf and the libpq password file 0600, and any password reads back as given", async () => {
    const dir = await tempDir();
    const template = join(dir, "template.conf");
    const objects = await helmTemplate({ valuesFiles: CI });
    await writeFile(template, decode(one(objects, "Secret", "-odoo"), "odoo.conf"));
    const script = join(chartDir, "files", "render-odoo-conf.sh");
    const env = { CONF_TEMPLATE: template, CONF_OUT: join(dir, "odoo.conf"), PGPASS_OUT: join(dir, "pgpass"), DB_PASSWORD: HOSTILE };
    await execa("bash", [script], { env });
    for (const file of [env.CONF_OUT, env.PGPASS_OUT]) expect(((await stat(file)).mode & 0o777).toString(8)).toBe("600");
    // Read back the way Odoo reads it: RawConfigParser (no interpolation, no inline comments).
    const read = await execa("python3", [
      "-c",
      "import configparser,sys; p=configparser.RawConfigParser(); p.read(sys.argv[1]); sys.stdout.write(p.get('options','db_password'))",
      env.CONF_OUT,
    ]);
    expect(read.stdout).toBe(HOSTILE);
    expect(await readFile(env.PGPASS_OUT, "utf8")).toBe(`*:*:*:*:${HOSTILE.replaceAll("\\", "\\\\").replaceAll(":", "\\:")}\n`);
  });

  it("makes postgres the superuser and Odoo's role NOSUPERUSER CREATEDB, from the initdb script", async () => {
    const objects = await helmTemplate({ valuesFiles: CI });
    const pod = one(objects, "StatefulSet", "-postgres").spec.template.spec;
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]),
    );
    expect(env.POSTGRES_USER).toBe("postgres");
    expect(env.POSTGRES_PASSWORD).toEqual({ secretKeyRef: { name: expect.stringMatching(/-postgres$/), key: "superuser-password" } });
    expect(env.ODOO_DB_USER).toBe("odoo");
    expect(env.ODOO_DB_PASSWORD).toEqual({ secretKeyRef: { name: expect.stringMatching(/-postgres$/), key: "password" } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: "initdb", mountPath: "/docker-entrypoint-initdb.d", readOnly: true });
    const script = one(objects, "ConfigMap", "-postgres-init").data["10-odoo-role.sh"];
    expect(script).toMatch(/CREATE ROLE :"user" LOGIN NOSUPERUSER CREATEDB .* PASSWORD :'password';/);
    const secret = one(objects, "Secret", "-postgres");
    expect(decode(secret, "superuser-password")).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(decode(secret, "superuser-password")).not.toBe(decode(secret, "password"));
  });

  it("refuses passwords odoo.conf cannot hold (blanks at either end, line breaks)", async () => {
    for (const password of [" leading", "trailing ", "two\nlines"]) {
      const run = await helmTemplateRun({ valuesFiles: [...CI, await valuesFile({ postgres: { password } })] });
      expect(run.exitCode, JSON.stringify(password)).not.toBe(0);
    }
  });
});

describe("Odoo's admin login (item 12)", () => {
  it("generates the admin user's password into the Secret and hands it to the init step only", async () => {
    const objects = await helmTemplate({ valuesFiles: CI });
    const secret = one(objects, "Secret", "-odoo");
    expect(decode(secret, "admin-login-password")).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(decode(secret, "admin-login-password")).not.toBe(decode(secret, "admin-password"));
    const pod = one(objects, "Deployment", "-odoo").spec.template.spec;
    for (const container of allContainers(pod)) {
      const refs = (container.env ?? []).filter(
        (e: { valueFrom?: { secretKeyRef?: { key: string } } }) => e.valueFrom?.secretKeyRef?.key === "admin-login-password",
      );
      expect(refs.length, container.name).toBe(container.name === "init-db" ? 1 : 0);
    }
    const given = await helmTemplate({ valuesFiles: CI, set: { "odoo.adminLoginPassword": "given-login-pw" } });
    expect(decode(one(given, "Secret", "-odoo"), "admin-login-password")).toBe("given-login-pw");
  });

  it("sets it once, when the database is created, and NOTES says where to read it", async () => {
    const script = await readFile(join(chartDir, "files", "init-db.sh"), "utf8");
    expect(script).toMatch(/run_odoo --init="\$\(join_commas base "\$\{own\[@\]\}"\)"\n\s+set_admin_password/);
    expect(script.match(/set_admin_password$/gm)?.length).toBe(1);
    const notes = await readFile(join(chartDir, "templates", "NOTES.txt"), "utf8");
    expect(notes).not.toMatch(/admin \/ admin/);
    expect(notes).toContain("{.data.admin-login-password}");
  });
});

describe("real client addresses (item 13)", () => {
  it("believes X-Forwarded-For only from the configured addresses and passes Odoo one address", async () => {
    const objects = await helmTemplate({ valuesFiles: [...CI, await valuesFile({ nginx: { realIpFrom: ["10.42.0.0/16"] } })] });
    const conf = one(objects, "ConfigMap", "-nginx").data;
    expect(conf["nginx.conf"]).toMatch(/set_real_ip_from 10\.42\.0\.0\/16;/);
    expect(conf["nginx.conf"].match(/set_real_ip_from/g)).toHaveLength(1);
    expect(conf["nginx.conf"]).toMatch(/real_ip_header X-Forwarded-For;/);
    // Odoo's locations: the client's address alone (Odoo's proxy_mode takes the last entry).
    const odooLocations = conf["sandbox.conf"].split(/location /).filter((l: string) => /proxy_pass http:\/\/odoo/.test(l));
    expect(odooLocations).toHaveLength(2);
    for (const location of odooLocations) {
      expect(location).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
      expect(location).not.toContain("$proxy_add_x_forwarded_for");
    }
  });
});

describe("prefork workers (item 14)", () => {
  const conf = async (values: Record<string, unknown>) =>
    decode(one(await helmTemplate({ valuesFiles: [...CI, await valuesFile(values)] }), "Secret", "-odoo"), "odoo.conf");

  it("shares the container's memory limit between Odoo's processes and aligns limit_time_real with the proxy", async () => {
    const text = await conf({
      odoo: { workers: 2, maxCronThreads: 1, resources: { limits: { memory: "2Gi" } } },
      nginx: { proxyTimeoutSeconds: 600 },
    });
    const value = (key: string) => Number(text.match(new RegExp(`^${key} = (\\d+)$`, "m"))?.[1]);
    // 2 HTTP workers + 1 cron worker + the gevent process, 90 % of the limit.
    expect(value("limit_memory_hard")).toBe(Math.floor((2 * 1024 ** 3 * 9) / 40));
    expect(value("limit_memory_soft")).toBe(Math.floor((value("limit_memory_hard") * 4) / 5));
    expect(value("limit_memory_hard") * 4).toBeLessThan(2 * 1024 ** 3);
    expect(value("limit_time_real")).toBe(600);
    expect(text).toMatch(/^gevent_port = 8072$/m);
  });

  it("leaves them out without workers, and lets odoo.extraConfig set them", async () => {
    expect(await conf({ odoo: { workers: 0 } })).not.toMatch(/limit_memory|limit_time_real/);
    const text = await conf({ odoo: { workers: 2, extraConfig: { limit_memory_hard: 1000000000 } } });
    expect(text.match(/^limit_memory_hard = .*$/gm)).toEqual(["limit_memory_hard = 1000000000"]);
  });

  it("routes /websocket to the gevent port in the Ingress when there is no nginx", async () => {
    const set = { "sandbox.host": "a.example.com", "odoo.workers": 2, "nginx.enabled": false };
    const ingress = one(await helmTemplate({ valuesFiles: CI, set }), "Ingress", "");
    const paths = ingress.spec.rules[0].http.paths.map(
      (p: { path: string; backend: { service: { name: string; port: { name: string } } } }) => [p.path, p.backend.service.port.name],
    );
    expect(paths).toEqual([
      ["/websocket", "gevent"],
      ["/", "http"],
    ]);
    // ...and the NetworkPolicy lets the ingress controller reach that port.
    const policy = one(await helmTemplate({ valuesFiles: CI, set }), "NetworkPolicy", "-allow-odoo");
    expect(policy.spec.ingress[0].ports).toEqual([
      { protocol: "TCP", port: 8069 },
      { protocol: "TCP", port: 8072 },
    ]);
    const threaded = one(await helmTemplate({ valuesFiles: CI, set: { ...set, "odoo.workers": 0 } }), "Ingress", "");
    expect(threaded.spec.rules[0].http.paths).toHaveLength(1);
  });

  it("refuses another postgres.port for the sandbox's own PostgreSQL (its headless Service cannot remap it)", async () => {
    const own = await helmTemplateRun({ valuesFiles: CI, set: { "postgres.port": 5433 } });
    expect(own.exitCode).not.toBe(0);
    expect(own.stderr).toMatch(/port/);
    const external = await helmTemplateRun({
      valuesFiles: ["values-ci.yaml", "ci/external-db-values.yaml"],
      set: { "postgres.port": 5433 },
    });
    expect(external.exitCode, external.stderr).toBe(0);
  });
});

describe("kept Secrets (item 15)", () => {
  it("keeps every Secret holding a generated password when the release is uninstalled", async () => {
    const objects = await helmTemplate({ valuesFiles: CI });
    const secrets = objects.filter((o) => o.kind === "Secret");
    expect(secrets.map((s) => s.metadata.name.replace(/^sbx-odoo-dev-sandbox-/, "")).sort()).toEqual(["basic-auth", "odoo", "postgres"]);
    for (const secret of secrets) expect(secret.metadata.annotations?.["helm.sh/resource-policy"], secret.metadata.name).toBe("keep");
  });
});

describe("TLS from the sandbox URL (item 16)", () => {
  const render = (set: Record<string, string>) =>
    helmTemplate({ valuesFiles: ["values-ci.yaml"], set: { "sandbox.host": "a.example.com", ...set } });

  it("stays plain for an http URL", async () => {
    const objects = await render({ "sandbox.url": "http://a.example.com" });
    expect(one(objects, "Ingress", "").spec.tls).toBeUndefined();
    const conf = one(objects, "ConfigMap", "-nginx").data["sandbox.conf"];
    expect(conf).not.toMatch(/Strict-Transport-Security|redirect_to_https|proxy_cookie_flags/);
  });

  it("turns on the TLS block, the redirect, HSTS and secure cookies for an https URL", async () => {
    const objects = await render({ "sandbox.url": "https://a.example.com" });
    // No Secret, no issuer: the controller's default certificate.
    expect(one(objects, "Ingress", "").spec.tls).toEqual([{ hosts: ["a.example.com"] }]);
    const data = one(objects, "ConfigMap", "-nginx").data;
    expect(data["nginx.conf"]).toMatch(/map \$http_x_forwarded_proto \$redirect_to_https \{\s+http 1;\s+default 0;\s+\}/);
    expect(data["sandbox.conf"]).toMatch(/if \(\$redirect_to_https\) \{\s+return 308 https:\/\/\$host\$request_uri;/);
    expect(data["sandbox.conf"]).toContain('add_header Strict-Transport-Security "max-age=31536000" always;');
    expect(data["sandbox.conf"]).toContain("proxy_cookie_flags ~ secure;");
  });

  it("names a Secret for cert-manager's issuer, or the one given", async () => {
    const issued = one(await render({ "sandbox.url": "https://a.example.com", "ingress.tls.clusterIssuer": "letsencrypt" }), "Ingress", "");
    expect(issued.metadata.annotations?.["cert-manager.io/cluster-issuer"]).toBe("letsencrypt");
    expect(issued.spec.tls).toEqual([{ hosts: ["a.example.com"], secretName: "sbx-odoo-dev-sandbox-tls" }]);
    // An issuer already set the old way, in ingress.annotations, still gets its Secret named.
    const annotated = one(
      await render({ "sandbox.url": "https://a.example.com", "ingress.annotations.cert-manager\\.io/issuer": "local-ca" }),
      "Ingress",
      "",
    );
    expect(annotated.spec.tls).toEqual([{ hosts: ["a.example.com"], secretName: "sbx-odoo-dev-sandbox-tls" }]);
    const given = one(await render({ "ingress.tls.enabled": "true", "ingress.tls.secretName": "wildcard" }), "Ingress", "");
    expect(given.spec.tls).toEqual([{ hosts: ["a.example.com"], secretName: "wildcard" }]);
    expect(given.metadata.annotations).not.toHaveProperty("cert-manager.io/cluster-issuer");
  });
});
