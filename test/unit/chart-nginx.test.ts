// The nginx config the chart renders passes `nginx -t` with Debian's nginx.
// The ConfigMap's files include each other by relative name, so they are
// checked exactly as rendered; only the upstream hosts (Service names that
// resolve inside the cluster alone) are pointed at 127.0.0.1.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { helmTemplate } from "../support/helm.js";

const NGINX = process.env.NGINX ?? "/usr/sbin/nginx";

const cases: { name: string; files: string[]; set: Record<string, string | number | boolean> }[] = [
  { name: "defaults", files: [], set: {} },
  { name: "CI mode", files: ["values-ci.yaml", "ci/ci-values.yaml"], set: {} },
  { name: "local mode", files: ["ci/local-values.yaml"], set: {} },
  { name: "full (pgAdmin, workers)", files: ["ci/full-values.yaml"], set: {} },
  { name: "basic auth off", files: [], set: { "nginx.basicAuth.enabled": false } },
  // https: real-IP module, the http->https redirect, HSTS and secure cookies.
  {
    name: "https sandbox URL",
    files: ["values-ci.yaml"],
    set: { "sandbox.host": "a.example.com", "sandbox.url": "https://a.example.com" },
  },
];

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function renderNginx(files: string[], set: Record<string, string | number | boolean>): Promise<Record<string, string>> {
  const objects = await helmTemplate({ valuesFiles: files, set });
  const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-nginx"));
  if (!configMap) throw new Error("no nginx ConfigMap rendered");
  return configMap.data as Record<string, string>;
}

describe.each(cases)("nginx config: $name", ({ files, set }) => {
  it("passes nginx -t", async () => {
    const data = await renderNginx(files, set);
    expect(Object.keys(data).sort()).toEqual(["nginx.conf", "sandbox.conf", "upstreams.conf"]);
    const dir = await mkdtemp(join(tmpdir(), "chart-nginx-"));
    dirs.push(dir);
    for (const [name, text] of Object.entries(data)) {
      const local = name === "upstreams.conf" ? text.replace(/server\s+[a-z0-9.-]+:(\d+);/g, "server 127.0.0.1:$1;") : text;
      await writeFile(join(dir, name), local);
    }
    // stdout to /dev/null: the config logs to /dev/stdout, which nginx cannot
    // open when it is a socket (as Node's child stdio is); errors go to
    // stderr through its file descriptor.
    const run = await execa(NGINX, ["-t", "-q", "-e", "stderr", "-p", `${dir}/`, "-c", join(dir, "nginx.conf")], {
      reject: false,
      stdout: "ignore",
    });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
  });

  it("follows Odoo's deployment guide", async () => {
    const data = await renderNginx(files, set);
    const server = data["sandbox.conf"] ?? "";
    expect(data["upstreams.conf"]).toMatch(/upstream odoo \{\s*server [a-z0-9-]+-odoo:8069;/);
    expect(server).toMatch(
      /location \/websocket \{[^}]*proxy_set_header Upgrade \$http_upgrade;[^}]*proxy_set_header Connection \$connection_upgrade;/,
    );
    expect(server).toMatch(/proxy_set_header X-Forwarded-Proto \$forwarded_proto;/);
    expect(server).toMatch(/proxy_read_timeout 720s;/);
    expect(server).toMatch(/client_max_body_size \d+m;/);
    expect(server).toMatch(/gzip on;/);
    expect(data["nginx.conf"]).toMatch(/map \$http_x_forwarded_proto \$forwarded_proto/);
    expect(data["nginx.conf"]).toMatch(/pid \/tmp\/nginx\.pid;/);
  });
});

describe("nginx and workers", () => {
  it("routes the websocket to 8072 only with prefork workers", async () => {
    expect((await renderNginx([], {}))["upstreams.conf"]).toMatch(/upstream odoo_chat \{\s*server \S+:8069;/);
    expect((await renderNginx([], { "odoo.workers": 2 }))["upstreams.conf"]).toMatch(/upstream odoo_chat \{\s*server \S+:8072;/);
  });
});
