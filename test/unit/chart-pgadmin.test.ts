// pgAdmin in the chart: server mode with its own generated login, kept in a
// Secret; preconfigured with the sandbox's PostgreSQL; no postfix; Pod
// Security restricted; and never without nginx's basic auth in front
// (issue 9, item 17). That the pinned image starts under this security
// context is not observed here: the ground cannot pull it (see README).
import { describe, expect, it } from "vitest";
import { helmTemplate, helmTemplateRun, type K8sObject, restrictedViolations } from "../support/helm.js";

const on = { "pgadmin.enabled": true, "sandbox.key": "feature-x" };
const find = (objects: K8sObject[], kind: string, suffix: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));

describe("pgadmin.enabled", () => {
  it("refuses to render with nginx's basic auth off", async () => {
    const run = await helmTemplateRun({ set: { ...on, "nginx.basicAuth.enabled": false } });
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain("pgadmin.enabled needs nginx.basicAuth.enabled");
  });

  it("runs in server mode with a generated login from its own Secret, without postfix", async () => {
    const objects = await helmTemplate({ set: on });
    const secret = find(objects, "Secret", "-pgadmin");
    expect(Buffer.from(secret?.data.email, "base64").toString()).toBe("sandbox@example.com");
    expect(Buffer.from(secret?.data.password, "base64").toString()).toMatch(/^[A-Za-z0-9]{24}$/);
    const deployment = find(objects, "Deployment", "-pgadmin");
    const container = deployment?.spec.template.spec.containers[0];
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]),
    );
    expect(env.PGADMIN_CONFIG_SERVER_MODE).toBe("True");
    expect(env.PGADMIN_DISABLE_POSTFIX).toBe("true");
    expect(env.PGADMIN_DEFAULT_PASSWORD).toEqual({ secretKeyRef: { name: secret?.metadata.name, key: "password" } });
    expect(env.PGADMIN_DEFAULT_EMAIL).toEqual({ secretKeyRef: { name: secret?.metadata.name, key: "email" } });
    expect(JSON.stringify(container)).not.toContain("unused-in-desktop-mode");
    expect(restrictedViolations(deployment?.spec.template.spec)).toEqual([]);
    expect(container.securityContext.capabilities).toEqual({ drop: ["ALL"] });
    expect(container.image).toMatch(/^dpage\/pgadmin4:\d+\.\d+$/);
  });

  it("knows the sandbox's database server (servers.json), without its password", async () => {
    const objects = await helmTemplate({ set: on });
    const config = find(objects, "ConfigMap", "-pgadmin");
    const servers = JSON.parse(config?.data["servers.json"]);
    expect(servers.Servers["1"]).toMatchObject({
      Name: "sandbox feature-x",
      Host: "sbx-odoo-dev-sandbox-postgres",
      Port: 5432,
      MaintenanceDB: "postgres",
      Username: "odoo",
    });
    expect(JSON.stringify(servers)).not.toMatch(/password/i);
    const deployment = find(objects, "Deployment", "-pgadmin");
    const container = deployment?.spec.template.spec.containers[0];
    const file = container.env.find((e: { name: string }) => e.name === "PGADMIN_SERVER_JSON_FILE")?.value;
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === "servers");
    expect(file).toBe(`${mount.mountPath}/servers.json`);
  });

  it("takes a given login, and refuses one that is not an e-mail address", async () => {
    const objects = await helmTemplate({ set: { ...on, "pgadmin.email": "dev@acme.test", "pgadmin.password": "s3cret-pw" } });
    const secret = find(objects, "Secret", "-pgadmin");
    expect(Buffer.from(secret?.data.password, "base64").toString()).toBe("s3cret-pw");
    const bad = await helmTemplateRun({ set: { ...on, "pgadmin.email": "not-an-address" } });
    expect(bad.exitCode).not.toBe(0);
  });

  it("is served at /pgadmin4/ behind the same basic auth as Odoo", async () => {
    const objects = await helmTemplate({ set: on });
    const nginx = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-nginx"));
    const conf: string = Object.values(nginx?.data ?? {}).join("\n");
    expect(conf).toMatch(/location \/pgadmin4\/ \{[^}]*proxy_pass http:\/\/pgadmin\//);
    expect(conf).toMatch(/auth_basic /);
  });
});
