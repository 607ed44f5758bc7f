// What the chart renders, checked object by object for every value set:
// labels, Pod Security "restricted", probes, isolation, the quota covering
// the chart's own pods, basic auth by default, and mode-specific volumes.
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import {
  type Footprint,
  helmTemplate,
  helmTemplateRun,
  type K8sObject,
  parseBytes,
  parseCpu,
  podFootprint,
  podTemplates,
  restrictedViolations,
} from "../support/helm.js";

interface Case {
  name: string;
  files: string[];
  set?: Record<string, string | number | boolean>;
  mode: "ci" | "local";
  nginx: boolean;
  quota: boolean;
}

const cases: Case[] = [
  { name: "defaults", files: [], mode: "local", nginx: true, quota: true },
  { name: "CI mode (values-ci + engine values)", files: ["values-ci.yaml", "ci/ci-values.yaml"], mode: "ci", nginx: true, quota: true },
  { name: "local mode", files: ["ci/local-values.yaml"], mode: "local", nginx: true, quota: true },
  { name: "full", files: ["values-ci.yaml", "ci/full-values.yaml"], mode: "ci", nginx: true, quota: true },
  { name: "external database", files: ["values-ci.yaml", "ci/external-db-values.yaml"], mode: "ci", nginx: true, quota: true },
  { name: "minimal", files: ["ci/minimal-values.yaml"], mode: "ci", nginx: false, quota: false },
];

const rendered = new Map<string, Promise<K8sObject[]>>();
function render(c: Case): Promise<K8sObject[]> {
  let objects = rendered.get(c.name);
  if (!objects) {
    objects = helmTemplate({ valuesFiles: c.files, set: c.set ?? {} });
    rendered.set(c.name, objects);
  }
  return objects;
}

const find = (objects: K8sObject[], kind: string, suffix = "") =>
  objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
const one = (objects: K8sObject[], kind: string, suffix = ""): K8sObject => {
  const found = find(objects, kind, suffix);
  if (found.length !== 1) throw new Error(`expected one ${kind} *${suffix}, found ${found.length}`);
  return found[0] as K8sObject;
};
const decode = (secret: K8sObject, key: string): string => Buffer.from(String(secret.data?.[key] ?? ""), "base64").toString("utf8");
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const RECOMMENDED = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
  "app.kubernetes.io/managed-by",
  "helm.sh/chart",
];

describe.each(cases)("$name", (c) => {
  it("puts the recommended labels on every object and every pod", async () => {
    for (const o of await render(c)) {
      for (const label of RECOMMENDED) expect(o.metadata.labels?.[label], `${o.kind}/${o.metadata.name} ${label}`).toBeTruthy();
    }
    for (const pod of podTemplates(await render(c))) {
      for (const label of [...RECOMMENDED, "app.kubernetes.io/component"]) expect(pod.labels[label], `${pod.owner} ${label}`).toBeTruthy();
    }
  });

  it("keeps names within 63 characters", async () => {
    for (const o of await render(c)) expect(o.metadata.name.length, `${o.kind}/${o.metadata.name}`).toBeLessThanOrEqual(63);
  });

  it("passes Pod Security restricted in every pod, and never mounts the API token", async () => {
    const pods = podTemplates(await render(c));
    expect(pods.length).toBeGreaterThanOrEqual(2);
    for (const pod of pods) {
      expect(restrictedViolations(pod.spec), pod.owner).toEqual([]);
      expect(pod.spec.automountServiceAccountToken, pod.owner).toBe(false);
      expect(pod.spec.enableServiceLinks, pod.owner).toBe(false);
      expect(pod.spec.securityContext?.runAsUser, pod.owner).toBeGreaterThan(0);
      for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
        expect(container.securityContext?.readOnlyRootFilesystem, `${pod.owner} ${container.name}`).toBeTypeOf("boolean");
        expect(() => podFootprint({ containers: [container] }), `${pod.owner} ${container.name} resources`).not.toThrow();
      }
    }
    const serviceAccount = one(await render(c), "ServiceAccount");
    expect(serviceAccount.automountServiceAccountToken).toBe(false);
  });

  it("probes Odoo on /web/health with a startup probe, and liveness only on the port", async () => {
    const odoo = one(await render(c), "Deployment", "-odoo");
    const container = odoo.spec.template.spec.containers.find((x: { name: string }) => x.name === "odoo");
    for (const probe of ["startupProbe", "readinessProbe"]) {
      expect(container[probe]?.httpGet?.path, probe).toBe("/web/health");
    }
    // An HTTP liveness probe kills Odoo while a long install keeps it busy.
    expect(container.livenessProbe.httpGet).toBeUndefined();
    expect(container.livenessProbe.tcpSocket).toEqual({ port: "http" });
    // Generous: 450 x 2 s before a cold start counts as failed.
    expect(container.startupProbe.failureThreshold * container.startupProbe.periodSeconds).toBeGreaterThanOrEqual(600);
    expect(odoo.spec.strategy.type).toBe("Recreate");
  });

  it("initializes the database in an init container that is valid bash", async () => {
    const objects = await render(c);
    const odoo = one(objects, "Deployment", "-odoo");
    const init = odoo.spec.template.spec.initContainers.find((x: { name: string }) => x.name === "init-db");
    expect(init.command).toEqual(["/bin/bash", "/opt/sandbox/init-db.sh"]);
    const script = one(objects, "ConfigMap", "-odoo-scripts").data["init-db.sh"];
    const check = await execa("bash", ["-n"], { input: script, reject: false });
    expect(check.stderr).toBe("");
    expect(check.exitCode).toBe(0);
  });

  it("writes odoo.conf for one database behind a proxy", async () => {
    const conf = decode(one(await render(c), "Secret", "-odoo"), "odoo.conf");
    expect(conf).toMatch(/^proxy_mode = True$/m);
    expect(conf).toMatch(/^list_db = False$/m);
    expect(conf).toMatch(/^dbfilter = \^\S+\$$/m);
    expect(conf).toMatch(/^admin_passwd = \S{8,}$/m);
    expect(conf).not.toMatch(/^db_password/m);
    expect(conf).not.toMatch(/^db_user = postgres$/m);
  });

  it("denies all traffic by default and allows only named paths", async () => {
    const objects = await render(c);
    const policies = find(objects, "NetworkPolicy");
    if (c.name === "minimal") {
      expect(policies).toEqual([]);
      return;
    }
    const deny = policies.filter((p) => Object.keys(p.spec.podSelector).length === 0);
    expect(deny).toHaveLength(1);
    expect(deny[0]?.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(deny[0]?.spec.ingress).toBeUndefined();
    expect(deny[0]?.spec.egress).toBeUndefined();
    // Every allow policy selects pods the chart runs.
    const pods = podTemplates(objects);
    for (const policy of policies.filter((p) => p !== deny[0])) {
      const selector = policy.spec.podSelector.matchLabels as Record<string, string>;
      expect(
        pods.some((p) => selects(selector, p.labels)),
        policy.metadata.name,
      ).toBe(true);
    }
  });

  it("routes every Service to pods the chart runs", async () => {
    const objects = await render(c);
    const pods = podTemplates(objects);
    for (const service of find(objects, "Service")) {
      expect(
        pods.some((p) => selects(service.spec.selector, p.labels)),
        service.metadata.name,
      ).toBe(true);
    }
  });

  it("puts basic auth in front of Odoo (unless nginx is off)", async () => {
    const objects = await render(c);
    if (!c.nginx) {
      expect(find(objects, "Deployment", "-nginx")).toEqual([]);
      return;
    }
    const conf = one(objects, "ConfigMap", "-nginx").data["sandbox.conf"] as string;
    expect(conf).toMatch(/auth_basic "[^"]+";/);
    expect(conf).toMatch(/auth_basic_user_file \/etc\/nginx\/auth\/htpasswd;/);
    const secret = one(objects, "Secret", "-basic-auth");
    const [user, hash] = decode(secret, "htpasswd").trim().split(":");
    expect(user).toBe(decode(secret, "username"));
    // The hash really is the password's (bcrypt through the system's crypt()).
    const crypt = await execa("perl", ["-e", "print crypt($ARGV[0], $ARGV[1])", decode(secret, "password"), hash ?? ""]);
    expect(crypt.stdout).toBe(hash);
  });

  it("mounts a host path only in local mode", async () => {
    const objects = await render(c);
    const json = JSON.stringify(objects);
    const odoo = one(objects, "Deployment", "-odoo");
    const args: string[] = odoo.spec.template.spec.containers[0].args;
    if (c.mode === "ci") {
      expect(json).not.toContain("hostPath");
      expect(find(objects, "PersistentVolume")).toEqual([]);
      expect(args.some((a) => a.startsWith("--dev"))).toBe(false);
      return;
    }
    expect(args).toContain("--dev=all");
    const pv = find(objects, "PersistentVolume");
    if (c.name === "defaults") {
      // No worktree given: nothing mounted.
      expect(pv).toEqual([]);
      return;
    }
    expect(pv).toHaveLength(1);
    const volume = pv[0] as K8sObject;
    expect(volume.spec.hostPath).toEqual({ path: "/home/dev/src/shop/addons", type: "Directory" });
    expect(volume.spec.persistentVolumeReclaimPolicy).toBe("Retain");
    const claim = one(objects, "PersistentVolumeClaim", "-addons");
    expect(claim.spec.volumeName).toBe(volume.metadata.name);
    expect(volume.spec.claimRef).toMatchObject({ name: claim.metadata.name, namespace: "sandbox-test" });
    const mounts = odoo.spec.template.spec.containers[0].volumeMounts as { name: string; mountPath: string }[];
    expect(mounts).toContainEqual(expect.objectContaining({ name: "addons", mountPath: "/mnt/extra-addons" }));
  });

  it("sizes the ResourceQuota so the chart's own pods fit, test pod and rollouts included", async () => {
    const objects = await render(c);
    const quotas = find(objects, "ResourceQuota");
    if (!c.quota) {
      expect(quotas).toEqual([]);
      return;
    }
    const hard = (quotas[0] as K8sObject).spec.hard as Record<string, string>;
    const need: Footprint = { "requests.cpu": 0, "requests.memory": 0, "limits.cpu": 0, "limits.memory": 0 };
    let pods = 0;
    for (const o of objects) {
      const template = podTemplates([o])[0];
      if (!template) continue;
      // A rolling update may run maxSurge extra pods; Recreate and StatefulSets never do.
      const surge =
        o.kind === "Deployment" && o.spec.strategy?.type !== "Recreate" ? Number(o.spec.strategy?.rollingUpdate?.maxSurge ?? 1) : 0;
      const count = template.replicas + surge;
      const footprint = podFootprint(template.spec);
      for (const key of Object.keys(need) as (keyof Footprint)[]) need[key] += count * footprint[key];
      pods += count;
    }
    expect(Number(hard.pods)).toBeGreaterThanOrEqual(pods);
    for (const key of ["requests.cpu", "limits.cpu"] as const) expect(parseCpu(hard[key] ?? "0"), key).toBeGreaterThanOrEqual(need[key]);
    for (const key of ["requests.memory", "limits.memory"] as const)
      expect(parseBytes(hard[key] ?? "0"), key).toBeGreaterThanOrEqual(need[key]);

    // Room for one more Odoo-sized pod (the engine's test/archive Jobs).
    const odooPod = podFootprint(one(objects, "Deployment", "-odoo").spec.template.spec);
    expect(parseBytes(hard["limits.memory"] ?? "0") - need["limits.memory"]).toBeGreaterThanOrEqual(odooPod["limits.memory"]);

    const claims = [
      ...find(objects, "PersistentVolumeClaim").map((p) => p.spec.resources.requests.storage as string),
      ...find(objects, "StatefulSet").flatMap((s) =>
        (s.spec.volumeClaimTemplates ?? []).map((t: K8sObject) => t.spec.resources.requests.storage as string),
      ),
    ];
    expect(Number(hard.persistentvolumeclaims)).toBeGreaterThanOrEqual(claims.length);
    expect(parseBytes(hard["requests.storage"] ?? "0")).toBeGreaterThanOrEqual(claims.reduce((sum, s) => sum + parseBytes(s), 0));
    expect(hard["services.loadbalancers"]).toBe("0");
    expect(hard["services.nodeports"]).toBe("0");
    expect(find(objects, "LimitRange")).toHaveLength(1);
  });
});

describe("Ingress", () => {
  it("serves sandbox.host through nginx with TLS and raised limits", async () => {
    const objects = await helmTemplate({ valuesFiles: ["values-ci.yaml", "ci/ci-values.yaml"] });
    const ingress = one(objects, "Ingress");
    expect(ingress.spec.rules[0].host).toBe("feature-login-3f2a1c.preview.example.com");
    expect(ingress.spec.rules[0].http.paths[0].backend.service.name).toMatch(/-nginx$/);
    expect(ingress.spec.tls[0].hosts).toEqual(["feature-login-3f2a1c.preview.example.com"]);
    expect(ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-read-timeout"]).toBe("720");
    expect(ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-body-size"]).toBe("128m");
  });

  it("is left out while sandbox.host is empty", async () => {
    expect(find(await helmTemplate(), "Ingress")).toEqual([]);
  });
});

describe("names", () => {
  it("stay within 63 characters for the longest release name Helm allows", async () => {
    const release = `r${"x".repeat(52)}`;
    const objects = await helmTemplate({ release, valuesFiles: ["ci/full-values.yaml"] });
    const names = objects.map((o) => o.metadata.name);
    for (const name of names) expect(name.length, name).toBeLessThanOrEqual(63);
    expect(new Set(names.map((n, i) => `${objects[i]?.kind}/${n}`)).size).toBe(names.length);
    // StatefulSet pods carry "<name>-<hash>" in a label.
    for (const sts of find(objects, "StatefulSet")) expect(sts.metadata.name.length).toBeLessThanOrEqual(52);
  });
});

describe("secrets", () => {
  it("keeps passwords given in values", async () => {
    const objects = await helmTemplate({ valuesFiles: ["ci/full-values.yaml"] });
    expect(decode(one(objects, "Secret", "-postgres"), "password")).toBe("not-a-real-db-password");
    expect(decode(one(objects, "Secret", "-odoo"), "admin-password")).toBe("not-a-real-master-password");
    expect(decode(one(objects, "Secret", "-basic-auth"), "password")).toBe("not-a-real-basic-auth-password");
  });

  it("generates long random ones otherwise", async () => {
    const objects = await helmTemplate();
    for (const [suffix, key] of [
      ["-postgres", "password"],
      ["-odoo", "admin-password"],
      ["-basic-auth", "password"],
    ] as const) {
      expect(decode(one(objects, "Secret", suffix), key)).toMatch(/^[A-Za-z0-9]{24}$/);
    }
  });
});

// Every path the NetworkPolicies open, one row per peer: "<pods> <direction> <peer> <ports>".
// A change to the chart's isolation shows here as a changed row, never silently.
describe("NetworkPolicy paths, as a table", () => {
  type Selector = { matchLabels?: Record<string, string> };
  const component = (s: Selector | undefined): string => {
    const labels = s?.matchLabels ?? {};
    if (labels["k8s-dev-sandbox/postgres-client"]) return "postgres-client";
    return labels["app.kubernetes.io/component"] ?? (Object.keys(labels).length ? "all" : "*");
  };
  const labels = (s: Selector | undefined) =>
    Object.entries(s?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(",") || "*";
  // biome-ignore lint/suspicious/noExplicitAny: a NetworkPolicyPeer
  const peer = (p: any): string => {
    if (p.ipBlock) return `ip:${p.ipBlock.cidr}${p.ipBlock.except ? ` except ${p.ipBlock.except.join(",")}` : ""}`;
    if (p.namespaceSelector) return `ns:${labels(p.namespaceSelector)} pod:${labels(p.podSelector)}`;
    return `pod:${component(p.podSelector)}`;
  };
  function rows(objects: K8sObject[]): string[] {
    const out: string[] = [];
    for (const policy of find(objects, "NetworkPolicy")) {
      const pods = component(policy.spec.podSelector);
      for (const direction of ["ingress", "egress"] as const) {
        for (const rule of policy.spec[direction] ?? []) {
          const ports =
            (rule.ports ?? []).map((p: { protocol: string; port: number }) => `${p.protocol}/${p.port}`).join(",") || "all ports";
          const peers = rule[direction === "ingress" ? "from" : "to"];
          // A rule without peers matches every address: the row says so.
          for (const p of peers?.length ? peers : [undefined]) out.push(`${pods} ${direction} ${p ? peer(p) : "ANYWHERE"} ${ports}`);
        }
      }
    }
    return out.sort();
  }

  const common = [
    "all egress ns:kubernetes.io/metadata.name=kube-system pod:k8s-app=kube-dns UDP/53,TCP/53",
    "nginx ingress ns:kubernetes.io/metadata.name=ingress-nginx pod:* TCP/8080",
    "nginx ingress ns:kubernetes.io/metadata.name=kube-system pod:app.kubernetes.io/name=traefik TCP/8080",
    "nginx ingress pod:test TCP/8080",
    "test egress pod:nginx TCP/8080",
  ];
  const table: { name: string; files: string[]; rows: string[] }[] = [
    {
      name: "CI mode",
      files: ["values-ci.yaml", "ci/ci-values.yaml"],
      rows: [
        ...common,
        "nginx egress pod:odoo TCP/8069",
        "odoo ingress pod:nginx TCP/8069",
        "odoo egress pod:postgres TCP/5432",
        "postgres ingress pod:postgres-client TCP/5432",
        // The engine's Jobs (k8s-sandbox test) carry only the client label.
        "postgres-client egress pod:postgres TCP/5432",
      ],
    },
    {
      name: "external database: its port, only where the values say it is",
      files: ["values-ci.yaml", "ci/external-db-values.yaml"],
      rows: [
        ...common,
        "nginx egress pod:odoo TCP/8069",
        "odoo ingress pod:nginx TCP/8069",
        "odoo egress ns:kubernetes.io/metadata.name=databases pod:* TCP/5432",
      ],
    },
    {
      name: "full: workers' websocket port, pgAdmin, the user's extra egress",
      files: ["values-ci.yaml", "ci/full-values.yaml"],
      rows: [
        ...common,
        "nginx egress pod:odoo TCP/8069,TCP/8072",
        "nginx egress pod:pgadmin TCP/5050",
        "odoo ingress pod:nginx TCP/8069,TCP/8072",
        "odoo egress pod:postgres TCP/5432",
        "odoo egress ANYWHERE TCP/587",
        "postgres ingress pod:postgres-client TCP/5432",
        "postgres-client egress pod:postgres TCP/5432",
        "pgadmin ingress pod:nginx TCP/5050",
        "pgadmin egress pod:postgres TCP/5432",
      ],
    },
    { name: "minimal: no policies at all", files: ["ci/minimal-values.yaml"], rows: [] },
  ];

  it.each(table)("$name", async ({ files, rows: expected }) => {
    expect(rows(await helmTemplate({ valuesFiles: files }))).toEqual([...expected].sort());
  });

  it("opens the ingress controller's and the DNS selectors as the values give them", async () => {
    const objects = await helmTemplate({ valuesFiles: ["values-ci.yaml", "ci/local-values.yaml"] });
    expect(rows(objects)).toContain("nginx ingress ns:kubernetes.io/metadata.name=kube-system pod:app.kubernetes.io/name=traefik TCP/8080");
  });

  it("refuses an external database without peers (the port alone would be open at every address)", async () => {
    const run = await helmTemplateRun({
      valuesFiles: ["values-ci.yaml", "ci/external-db-values.yaml"],
      set: { "networkPolicy.externalDatabase.to": "null" },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/networkPolicy\.externalDatabase\.to is required with postgres\.enabled false/);
  });

  it("selects only this release's pods as PostgreSQL's clients", async () => {
    const objects = await helmTemplate({ valuesFiles: ["values-ci.yaml", "ci/ci-values.yaml"] });
    const postgres = one(objects, "NetworkPolicy", "-allow-postgres");
    expect(postgres.spec.ingress[0].from[0].podSelector.matchLabels).toEqual({
      "app.kubernetes.io/name": "odoo-dev-sandbox",
      "app.kubernetes.io/instance": "sbx",
      "k8s-dev-sandbox/postgres-client": "true",
    });
  });
});

describe("probe pace", () => {
  const probes = (objects: K8sObject[]) => {
    const container = (kind: string, suffix: string, name: string) =>
      one(objects, kind, suffix).spec.template.spec.containers.find((x: { name: string }) => x.name === name);
    const odoo = container("Deployment", "-odoo", "odoo");
    const postgres = container("StatefulSet", "-postgres", "postgres");
    const nginx = container("Deployment", "-nginx", "nginx");
    return { odoo, postgres, nginx };
  };
  const periods = (objects: K8sObject[]) => {
    const { odoo, postgres, nginx } = probes(objects);
    return {
      odooStartup: odoo.startupProbe.periodSeconds,
      odooReadiness: odoo.readinessProbe.periodSeconds,
      odooLiveness: odoo.livenessProbe.periodSeconds,
      postgresStartup: postgres.startupProbe.periodSeconds,
      postgresReadiness: postgres.readinessProbe.periodSeconds,
      nginxStartup: nginx.startupProbe.periodSeconds,
      nginxReadiness: nginx.readinessProbe.periodSeconds,
    };
  };
  /** Seconds each startup probe waits before the container counts as failed. */
  const startupWindows = (objects: K8sObject[]) => {
    const window = (c: { startupProbe: { periodSeconds: number; failureThreshold: number } }) =>
      c.startupProbe.periodSeconds * c.startupProbe.failureThreshold;
    const { odoo, postgres, nginx } = probes(objects);
    return { odoo: window(odoo), postgres: window(postgres), nginx: window(nginx) };
  };

  // Every container has a startup probe: the kubelet probes readiness as soon
  // as one passes, so startup's pace says how soon a sandbox is seen ready,
  // and readiness can be slow (a running sandbox's steady cost).
  it("probes startup every 2 s and readiness every 10 s by default", async () => {
    expect(periods(await helmTemplate())).toEqual({
      odooStartup: 2,
      odooReadiness: 10,
      odooLiveness: 20,
      postgresStartup: 2,
      postgresReadiness: 10,
      nginxStartup: 2,
      nginxReadiness: 10,
    });
  });

  it("follows probes.periodSeconds for readiness and probes.startupPeriodSeconds for startup, leaving liveness alone", async () => {
    expect(periods(await helmTemplate({ set: { "probes.periodSeconds": 30, "probes.startupPeriodSeconds": 1 } }))).toEqual({
      odooStartup: 1,
      odooReadiness: 30,
      odooLiveness: 20,
      postgresStartup: 1,
      postgresReadiness: 30,
      nginxStartup: 1,
      nginxReadiness: 30,
    });
  });

  it("keeps PostgreSQL's and nginx's startup windows at any pace (Odoo's is startupFailureThreshold attempts)", async () => {
    expect(startupWindows(await helmTemplate())).toEqual({ odoo: 900, postgres: 300, nginx: 120 });
    for (const pace of [1, 7, 60]) {
      const windows = startupWindows(await helmTemplate({ set: { "probes.startupPeriodSeconds": pace } }));
      expect(windows.postgres, `pace ${pace}`).toBeGreaterThanOrEqual(300);
      expect(windows.postgres, `pace ${pace}`).toBeLessThan(300 + pace);
      expect(windows.nginx, `pace ${pace}`).toBeGreaterThanOrEqual(120);
      expect(windows.nginx, `pace ${pace}`).toBeLessThan(120 + pace);
    }
  });

  it("refuses a period of 0", async () => {
    for (const key of ["probes.periodSeconds", "probes.startupPeriodSeconds"]) {
      const run = await helmTemplateRun({ set: { [key]: 0 } });
      expect(run.exitCode, key).not.toBe(0);
      expect(run.stderr, key).toMatch(key === "probes.periodSeconds" ? /periodSeconds/ : /startupPeriodSeconds/);
    }
  });
});
