// values.schema.json (and the few template checks the schema cannot express)
// turn bad values away at install time, each with a message naming the value.
import { describe, expect, it } from "vitest";
import { helmBinaries, helmTemplateRun } from "../support/helm.js";

interface Rejection {
  name: string;
  set: Record<string, string | number>;
  /** Values files under the set (relative to the chart). */
  files?: string[];
  /** What the error must name: the value's path and/or an explanation. */
  message: RegExp;
}

const rejected: Rejection[] = [
  { name: "unknown mode", set: { "sandbox.mode": "prod" }, message: /sandbox\/mode.*one of 'local', 'ci'/ },
  { name: "ttl in words", set: { "sandbox.ttl": "7 days" }, message: /sandbox\/ttl.*'7 days'/ },
  { name: "ttl without unit", set: { "sandbox.ttl": "168" }, message: /sandbox\/ttl/ },
  { name: "negative ttl", set: { "sandbox.ttl": "-1h" }, message: /sandbox\/ttl/ },
  { name: "host with upper case and underscore", set: { "sandbox.host": "Bad_Host.example.com" }, message: /sandbox\/host.*Bad_Host/ },
  { name: "host with a scheme", set: { "sandbox.host": "https://x.example.com" }, message: /sandbox\/host/ },
  { name: "host label over 63 characters", set: { "sandbox.host": `${"a".repeat(64)}.example.com` }, message: /sandbox\/host/ },
  { name: "key that is no DNS label", set: { "sandbox.key": "Feature/Login" }, message: /sandbox\/key/ },
  { name: "url without scheme", set: { "sandbox.url": "preview.example.com" }, message: /sandbox\/url/ },
  { name: "pull request zero", set: { "sandbox.pullRequest": 0 }, message: /sandbox\/pullRequest/ },
  { name: "relative addons host path", set: { "sandbox.local.addonsHostPath": "addons" }, message: /sandbox\/local\/addonsHostPath/ },
  { name: "negative cpu request", set: { "odoo.resources.requests.cpu": -1 }, message: /odoo\/resources\/requests\/cpu/ },
  { name: "negative cpu as text", set: { "odoo.resources.limits.cpu": "-500m" }, message: /odoo\/resources\/limits\/cpu/ },
  { name: "negative memory", set: { "postgres.resources.requests.memory": "-1Gi" }, message: /postgres\/resources\/requests\/memory/ },
  { name: "memory in an unknown unit", set: { "nginx.resources.limits.memory": "1GB" }, message: /nginx\/resources\/limits\/memory/ },
  {
    name: "request above its limit",
    set: { "odoo.resources.requests.memory": "4Gi" },
    message: /odoo: the memory request \(4Gi\) is larger than its limit \(2Gi\)/,
  },
  { name: "negative storage", set: { "postgres.persistence.size": "-5Gi" }, message: /postgres\/persistence\/size/ },
  { name: "image with a space", set: { "odoo.image": "odoo 18.0" }, message: /odoo\/image/ },
  { name: "empty image", set: { "odoo.image": "" }, message: /odoo\/image/ },
  { name: "short admin password", set: { "odoo.adminPassword": "admin" }, message: /odoo\/adminPassword/ },
  { name: "module name with a dash", set: { "odoo.init.modules[0]": "sale-management" }, message: /odoo\/init\/modules\/0/ },
  { name: "negative workers", set: { "odoo.workers": -1 }, message: /odoo\/workers/ },
  { name: "unknown log level", set: { "odoo.logLevel": "verbose" }, message: /odoo\/logLevel/ },
  { name: "root uid", set: { "odoo.uid": 0 }, message: /odoo\/uid/ },
  { name: "option the chart owns", set: { "odoo.extraConfig.db_host": "x" }, message: /odoo\.extraConfig\.db_host is set by the chart/ },
  { name: "postgres superuser", set: { "postgres.username": "postgres" }, message: /postgres\.username must not be "postgres"/ },
  {
    name: "external database without host",
    set: { "postgres.enabled": "false", "postgres.password": "secret-enough" },
    message: /postgres\.host is required/,
  },
  { name: "privileged nginx port", set: { "nginx.containerPort": 80 }, message: /nginx\/containerPort/ },
  { name: "basic auth user with a colon", set: { "nginx.basicAuth.username": "a:b" }, message: /nginx\/basicAuth\/username/ },
  {
    name: "pgadmin without nginx",
    set: { "pgadmin.enabled": "true", "nginx.enabled": "false" },
    message: /pgadmin\.enabled needs nginx\.enabled/,
  },
  { name: "misspelt key", set: { "odoo.imagee": "odoo:18.0" }, message: /odoo.*imagee/ },
  // Annotations that reach the Ingress must not reconfigure the controller or who gets in.
  ...[
    "nginx.ingress.kubernetes.io/server-snippet",
    "nginx.ingress.kubernetes.io/configuration-snippet",
    "nginx.ingress.kubernetes.io/stream-snippet",
    "nginx.ingress.kubernetes.io/modsecurity-snippet",
    "nginx.ingress.kubernetes.io/auth-url",
    "nginx.ingress.kubernetes.io/auth-signin",
    "nginx.ingress.kubernetes.io/auth-type",
    "nginx.ingress.kubernetes.io/auth-snippet",
    "nginx.ingress.kubernetes.io/enable-global-auth",
    "nginx.ingress.kubernetes.io/satisfy",
    "nginx.ingress.kubernetes.io/mirror-target",
    "haproxy.org/backend-config-snippet",
    "server-snippet",
  ].flatMap((key) => {
    const escaped = key.replaceAll(".", "\\.");
    const path = key.replaceAll("/", "~1").replaceAll(".", "\\.");
    return [
      {
        name: `ingress annotation ${key}`,
        set: { [`ingress.annotations.${escaped}`]: "x" },
        message: new RegExp(`/ingress/annotations/${path}'?: false schema`),
      },
      {
        name: `common annotation ${key}`,
        set: { [`commonAnnotations.${escaped}`]: "x" },
        message: new RegExp(`/commonAnnotations/${path}'?: false schema`),
      },
    ];
  }),
  // A host path is as strong as the node's filesystem: only inside what the cluster allows.
  {
    name: "the node's root as the addons path",
    files: ["ci/local-values.yaml"],
    set: { "sandbox.local.addonsHostPath": "/" },
    message: /sandbox\.local\.addonsHostPath "\/" is not inside sandbox\.local\.allowedHostPaths \[\/home\/dev\/src\]/,
  },
  {
    name: "an addons path beside an allowed one",
    files: ["ci/local-values.yaml"],
    set: { "sandbox.local.addonsHostPath": "/home/dev/srcx" },
    message: /"\/home\/dev\/srcx" is not inside sandbox\.local\.allowedHostPaths/,
  },
  {
    name: "an addons path climbing out of an allowed one",
    files: ["ci/local-values.yaml"],
    set: { "sandbox.local.addonsHostPath": "/home/dev/src/../../../etc" },
    message: /sandbox\/local\/addonsHostPath/,
  },
  {
    name: "/ as an allowed host path",
    files: ["ci/local-values.yaml"],
    set: { "sandbox.local.allowedHostPaths[0]": "/" },
    message: /sandbox\/local\/allowedHostPaths\/0/,
  },
  {
    name: "a host path with no allowed paths at all",
    files: ["ci/local-values.yaml"],
    set: { "sandbox.local.allowedHostPaths": "null" },
    message: /is not inside sandbox\.local\.allowedHostPaths/,
  },
  { name: "unknown top-level key", set: { "odo.image": "odoo:18.0" }, message: /odo/ },
];

const accepted: { name: string; set: Record<string, string | number>; files?: string[] }[] = [
  { name: "ttl 48h", set: { "sandbox.ttl": "48h" } },
  { name: "ttl 90m", set: { "sandbox.ttl": "90m" } },
  { name: "ttl 3d", set: { "sandbox.ttl": "3d" } },
  { name: "ttl 1w", set: { "sandbox.ttl": "1w" } },
  { name: "ttl 1d12h (the engine's canonical form)", set: { "sandbox.ttl": "1d12h" } },
  { name: "cpu in cores", set: { "odoo.resources.limits.cpu": 1.5 } },
  { name: "memory in G", set: { "odoo.resources.limits.memory": "3G" } },
  { name: "host with a sandbox key", set: { "sandbox.host": "feature-login-3f2a1c.preview.example.com" } },
  { name: "pull request number", set: { "sandbox.pullRequest": 42 } },
  { name: "cert-manager's annotation", set: { "ingress.annotations.cert-manager\\.io/cluster-issuer": "letsencrypt" } },
  { name: "ingress-nginx's body size", set: { "ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/proxy-body-size": "64m" } },
  {
    name: "an allow-list of source ranges",
    set: { "commonAnnotations.nginx\\.ingress\\.kubernetes\\.io/whitelist-source-range": "10.0.0.0/8" },
  },
  { name: "the addons path itself allowed", files: ["ci/local-values.yaml"], set: { "sandbox.local.addonsHostPath": "/home/dev/src" } },
];

describe.each(helmBinaries())("$name", ({ path: helm }) => {
  describe("values.schema.json rejects bad values with a message naming them", () => {
    it.concurrent.each(rejected)("$name", async ({ set, files, message }) => {
      const run = await helmTemplateRun({ set, valuesFiles: files, helm });
      expect(run.exitCode, run.stdout.slice(0, 200)).not.toBe(0);
      expect(run.stderr).toMatch(message);
    });
  });

  describe("values.schema.json accepts good values", () => {
    it.concurrent.each(accepted)("$name", async ({ set, files }) => {
      const run = await helmTemplateRun({ set, valuesFiles: files, helm });
      expect(run.stderr).toBe("");
      expect(run.exitCode).toBe(0);
    });
  });
});
