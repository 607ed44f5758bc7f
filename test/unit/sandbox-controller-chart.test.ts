import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartDocs, leaves } from "../support/chart-docs.js";
import {
  helmBinaries,
  helmTemplate,
  grants,
  helmTemplateRun,
  type K8sObject,
  podTemplates,
  type Rule,
  repoRoot,
  restrictedViolations,
  runHelm,
} from "../support/helm.js";

const chart = join(repoRoot, "charts", "sandbox-controller");
const NS = "k8s-sandbox-system";
const required = { "github.existingSecret": "github" };
const render = (set: Record<string, string | number | boolean> = {}) =>
  helmTemplate({ chart, release: "ctl", namespace: NS, set: { ...required, ...set } });
const refusal = async (set: Record<string, string | number | boolean>) => {
  const run = await helmTemplateRun({ chart, release: "ctl", namespace: NS, set: { ...required, ...set } });
  expect(run.exitCode, JSON.stringify(set)).not.toBe(0);
  return run.stderr;
};

const docs = chartDocs(chart);

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const ledger = Array.from({ length: 16 }, (_, n) => `k8s-sandbox-deliveries-${String(n).padStart(2, "0")}`).join(",");

describe("sandbox-controller chart", () => {
  it("documents every value once, in values.yaml, the README and the schema", () => {
    expect([...docs.params].sort()).toEqual(leaves(docs.values).sort());
    expect([...docs.readmeRows].sort()).toEqual([...docs.params].sort());
    for (const param of docs.params) expect(docs.schemaAt(param), param).toBeDefined();
  });

  it("refuses to render without the GitHub Secret, saying what to put in it", async () => {
    const none = await helmTemplateRun({ chart, release: "ctl", namespace: NS });
    expect(none.exitCode).not.toBe(0);
    expect(none.stderr).toMatch(/github\.existingSecret is required: a Secret in the release namespace with the webhook secret/);
  });

  it("runs every pod under Pod Security restricted, read-only, as uid 1000, with /tmp its only writable place", async () => {
    const objects = await render();
    const cronJob = byKind(objects, "CronJob")[0] as K8sObject;
    const pods = [
      ...podTemplates(objects),
      { owner: `CronJob/${cronJob.metadata.name}`, spec: cronJob.spec.jobTemplate.spec.template.spec, labels: {}, replicas: 1 },
    ];
    expect(pods.map((p) => p.owner).sort()).toEqual([
      "CronJob/ctl-sandbox-controller-sweep",
      "Deployment/ctl-sandbox-controller",
      "Pod/ctl-sandbox-controller-test",
    ]);
    for (const pod of pods) {
      expect(restrictedViolations(pod.spec), pod.owner).toEqual([]);
      expect(pod.spec.securityContext.runAsUser, pod.owner).toBe(1000);
      for (const c of pod.spec.containers) {
        expect(c.securityContext.readOnlyRootFilesystem, `${pod.owner}/${c.name}`).toBe(true);
        expect(c.securityContext.capabilities.drop, `${pod.owner}/${c.name}`).toEqual(["ALL"]);
      }
    }
    const [deployment] = byKind(objects, "Deployment");
    const container = deployment?.spec.template.spec.containers[0];
    expect(
      container.volumeMounts.filter((m: { readOnly?: boolean }) => !m.readOnly).map((m: { mountPath: string }) => m.mountPath),
    ).toEqual(["/tmp"]);
  });

  it("serves with probes on /healthz and /readyz, the prefix and role of sandbox-access, and its namespace from the pod", async () => {
    const [deployment] = byKind(await render({ "sandboxes.prefix": "preview-", "sandboxes.role": "acme:sandbox" }), "Deployment");
    const c = deployment?.spec.template.spec.containers[0];
    expect(c.args[0]).toBe("serve");
    expect(c.args).toContain("--prefix=preview-");
    expect(c.args).toContain("--sandbox-role=acme:sandbox");
    expect(c.startupProbe.httpGet.path).toBe("/healthz");
    expect(c.livenessProbe.httpGet.path).toBe("/healthz");
    expect(c.readinessProbe.httpGet.path).toBe("/readyz");
    expect(c.resources.limits.memory).toBeTruthy();
    expect(c.env).toEqual([{ name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } }]);
  });

  it("reads the GitHub secrets from files of a Secret volume, never argv or the environment", async () => {
    for (const [set, keys] of [
      [{}, ["webhook-secret", "token"]],
      [{ "github.appId": 123456 }, ["webhook-secret", "private-key"]],
    ] as const) {
      const objects = await render(set);
      const [deployment] = byKind(objects, "Deployment");
      const spec = deployment?.spec.template.spec;
      const volume = spec.volumes.find((v: { name: string }) => v.name === "github");
      expect(volume.secret.secretName).toBe("github");
      expect(volume.secret.items.map((i: { path: string }) => i.path)).toEqual(keys);
      expect(volume.secret.defaultMode).toBe(0o440);
      const args: string[] = spec.containers[0].args;
      expect(args.filter((a) => a.includes("-file="))).toEqual(
        keys.map(
          (k) =>
            `--${{ "webhook-secret": "webhook-secret", token: "token", "private-key": "app-private-key" }[k]}-file=/var/run/secrets/k8s-sandbox/github/${k}`,
        ),
      );
      expect(JSON.stringify(spec.containers[0].env)).not.toMatch(/secretKeyRef|GITHUB/);
    }
    // An App id written as a number in a values file stays whole.
    const [deployment] = byKind(await render({ "github.appId": 1234567 }), "Deployment");
    expect(deployment?.spec.template.spec.containers[0].args).toContain("--app-id=1234567");
  });

  it("turns the dashboard on only with a token key, read from the same Secret as a file", async () => {
    const off = byKind(await render(), "Deployment")[0]?.spec.template.spec;
    expect(JSON.stringify(off)).not.toContain("dashboard");
    const on = byKind(await render({ "dashboard.tokenKey": "dashboard-token", "dashboard.user": "ops" }), "Deployment")[0]?.spec.template
      .spec;
    const items = on.volumes.find((v: { name: string }) => v.name === "github").secret.items;
    expect(items).toContainEqual({ key: "dashboard-token", path: "dashboard-token" });
    expect(on.containers[0].args).toEqual(
      expect.arrayContaining(["--dashboard-token-file=/var/run/secrets/k8s-sandbox/github/dashboard-token", "--dashboard-user=ops"]),
    );
    expect(await refusal({ "dashboard.user": "a:b" })).toMatch(/dashboard\/user/);
    expect(await refusal({ "dashboard.tokenKey": "no spaces" })).toMatch(/dashboard\/tokenKey/);
  });

  it("reads registry credentials from a dockerconfigjson Secret as a file, and plain-HTTP registries from values", async () => {
    const off = byKind(await render(), "Deployment")[0]?.spec.template.spec;
    expect(JSON.stringify(off)).not.toMatch(/registry|REGISTR/);
    const on = byKind(
      await render({
        "registry.existingSecret": "pull",
        "registry.insecure[0]": "registry.kube-system.svc:5000",
        "registry.insecure[1]": "10.1.2.3:5000",
      }),
      "Deployment",
    )[0]?.spec.template.spec;
    expect(on.volumes.find((v: { name: string }) => v.name === "registry").secret).toEqual({
      secretName: "pull",
      defaultMode: 0o440,
      items: [{ key: ".dockerconfigjson", path: "auth.json" }],
    });
    expect(on.containers[0].volumeMounts).toContainEqual({
      name: "registry",
      mountPath: "/var/run/secrets/k8s-sandbox/registry",
      readOnly: true,
    });
    // The environment names the file and the registries; the credentials are in neither it nor argv.
    expect(on.containers[0].env).toEqual(
      expect.arrayContaining([
        { name: "REGISTRY_AUTH_FILE", value: "/var/run/secrets/k8s-sandbox/registry/auth.json" },
        { name: "K8S_SANDBOX_INSECURE_REGISTRIES", value: "registry.kube-system.svc:5000,10.1.2.3:5000" },
      ]),
    );
    expect(JSON.stringify(on.containers[0].env)).not.toMatch(/secretKeyRef/);
    expect(await refusal({ "registry.insecure[0]": "http://10.1.2.3:5000" })).toMatch(/registry\/insecure/);
    expect(await refusal({ "registry.existingSecret": "Not_A_Name" })).toMatch(/registry\/existingSecret/);
  });

  it("holds rights only in its own namespace, by name where RBAC can: no ClusterRole, no wildcard", async () => {
    const objects = await render();
    expect(byKind(objects, "ClusterRole")).toEqual([]);
    expect(byKind(objects, "ClusterRoleBinding")).toEqual([]);
    const roles = byKind(objects, "Role");
    for (const o of [...roles, ...byKind(objects, "RoleBinding")]) expect(o.metadata.namespace ?? NS, o.metadata.name).toBe(NS);
    for (const rule of roles.flatMap((r) => r.rules as Rule[])) {
      expect([...rule.verbs, ...rule.resources, ...rule.apiGroups]).not.toContain("*");
      expect(rule.verbs).not.toContain("list");
      expect(rule.verbs).not.toContain("bind");
      expect(rule.verbs).not.toContain("escalate");
    }
    const controllerRole = roles.find((r) => r.metadata.name === "ctl-sandbox-controller") as K8sObject;
    expect(grants(controllerRole.rules)).toEqual(
      [
        `core/namespaces get [${NS}]`,
        "core/configmaps get [k8s-sandbox-repositories]",
        `core/configmaps get [${ledger}]`,
        `core/configmaps update [${ledger}]`,
        "core/configmaps create",
        "coordination.k8s.io/leases get [k8s-sandbox-controller-leader]",
        "coordination.k8s.io/leases update [k8s-sandbox-controller-leader]",
        "coordination.k8s.io/leases delete [k8s-sandbox-controller-leader]",
        "coordination.k8s.io/leases create",
      ].sort(),
    );
    const sweepRole = roles.find((r) => r.metadata.name === "ctl-sandbox-controller-sweep") as K8sObject;
    expect(grants(sweepRole.rules)).toEqual(["events.k8s.io/events create"]);
    const bindings = byKind(objects, "RoleBinding").map((b) => ({ role: b.roleRef.name, subjects: b.subjects }));
    expect(bindings).toEqual([
      { role: "ctl-sandbox-controller", subjects: [{ kind: "ServiceAccount", name: "ctl-sandbox-controller", namespace: NS }] },
      { role: "ctl-sandbox-controller-sweep", subjects: [{ kind: "ServiceAccount", name: "ctl-sandbox-controller-sweep", namespace: NS }] },
    ]);
    // The token is mounted only where a pod asks for it.
    for (const sa of byKind(objects, "ServiceAccount")) expect(sa.automountServiceAccountToken, sa.metadata.name).toBe(false);
  });

  it("sweeps nightly by default with its own ServiceAccount, one run at a time, reporting Events about its Job", async () => {
    const [cronJob] = byKind(await render(), "CronJob");
    expect(cronJob?.spec.schedule).toBe("17 3 * * *");
    expect(cronJob?.spec.concurrencyPolicy).toBe("Forbid");
    expect(cronJob?.spec.successfulJobsHistoryLimit).toBe(3);
    expect(cronJob?.spec.failedJobsHistoryLimit).toBe(3);
    const pod = cronJob?.spec.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe("ctl-sandbox-controller-sweep");
    expect(pod.containers[0].args).toEqual([
      "sweep",
      "--delete-only",
      "--prefix=dev-sandbox-",
      "--events-job=$(JOB_NAME)",
      "--events-job-uid=$(JOB_UID)",
      "--events-namespace=$(POD_NAMESPACE)",
    ]);
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: { name: string; valueFrom: { fieldRef: { fieldPath: string } } }) => [
        e.name,
        e.valueFrom.fieldRef.fieldPath,
      ]),
    );
    expect(env).toEqual({
      POD_NAMESPACE: "metadata.namespace",
      JOB_NAME: "metadata.labels['batch.kubernetes.io/job-name']",
      JOB_UID: "metadata.labels['batch.kubernetes.io/controller-uid']",
    });
    const custom = byKind(await render({ "sweep.schedule": "@hourly", "sweep.timeZone": "Europe/Paris" }), "CronJob")[0];
    expect({ schedule: custom?.spec.schedule, timeZone: custom?.spec.timeZone }).toEqual({ schedule: "@hourly", timeZone: "Europe/Paris" });
    const off = await render({ "sweep.enabled": false });
    expect(byKind(off, "CronJob")).toEqual([]);
    expect(off.filter((o) => o.metadata.name === "ctl-sandbox-controller-sweep" && o.kind !== "ServiceAccount")).toEqual([]);
  });

  it("exposes only the webhook path through an Ingress, and a PodDisruptionBudget only with more than one replica", async () => {
    const one = await render();
    expect(byKind(one, "Ingress")).toEqual([]);
    expect(byKind(one, "PodDisruptionBudget")).toEqual([]);
    const objects = await render({
      "controller.replicas": 2,
      "ingress.enabled": true,
      "ingress.host": "hooks.example.com",
      "ingress.tlsSecret": "hooks-tls",
    });
    const [ingress] = byKind(objects, "Ingress");
    expect(ingress?.spec.rules).toEqual([
      {
        host: "hooks.example.com",
        http: {
          paths: [
            {
              path: "/api/github/webhooks",
              pathType: "Exact",
              backend: { service: { name: "ctl-sandbox-controller", port: { name: "http" } } },
            },
          ],
        },
      },
    ]);
    expect(ingress?.spec.tls).toEqual([{ hosts: ["hooks.example.com"], secretName: "hooks-tls" }]);
    const [pdb] = byKind(objects, "PodDisruptionBudget");
    expect(pdb?.spec.minAvailable).toBe(1);
    expect(byKind(objects, "Deployment")[0]?.spec.replicas).toBe(2);
    expect(await refusal({ "ingress.enabled": true })).toMatch(/ingress\.host is required/);
  });

  it("writes the opt-in ConfigMap only when repositories are given in values", async () => {
    expect(byKind(await render(), "ConfigMap")).toEqual([]);
    const [cm] = byKind(await render({ "repositories.acme/shop.baseDomain": "preview.example.com" }), "ConfigMap");
    expect(cm?.metadata.name).toBe("k8s-sandbox-repositories");
    expect(parse(cm?.data["repositories.yaml"])).toEqual({ "acme/shop": { baseDomain: "preview.example.com" } });
  });

  it.each<{ name: string; set: Record<string, string | number>; message: RegExp }>([
    { name: "an unknown value", set: { "controller.replica": 2 }, message: /additional properties 'replica' not allowed|replica/ },
    { name: "a prefix without its trailing dash", set: { "sandboxes.prefix": "preview" }, message: /sandboxes\/prefix/ },
    { name: "a schedule with a command after it", set: { "sweep.schedule": "0 3 * * * rm -rf" }, message: /sweep\/schedule/ },
    { name: "a bad duration", set: { "sandboxes.waitTimeout": "ten minutes" }, message: /sandboxes\/waitTimeout/ },
    {
      name: "an Ingress snippet annotation",
      set: { "ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/server-snippet": "x" },
      // Helm prints a wrong location for a propertyNames failure; the name it quotes is the right one.
      message: /invalid propertyName 'nginx\.ingress\.kubernetes\.io\/server-snippet'/,
    },
    { name: "zero replicas", set: { "controller.replicas": 0 }, message: /controller\/replicas/ },
    { name: "a non-numeric App id", set: { "github.appId": "my-app" }, message: /github\/appId/ },
    { name: "a Secret name with a slash", set: { "github.existingSecret": "../x" }, message: /github\/existingSecret/ },
    { name: "an API URL that is not http(s)", set: { "github.apiUrl": "file:///etc/passwd" }, message: /github\/apiUrl/ },
  ])("refuses $name", async ({ set, message }) => {
    expect(await refusal(set)).toMatch(message);
  });

  it("never prints a secret in NOTES, and prints the sandbox-access command with both identities", async () => {
    const run = await runHelm(["install", "ctl", chart, "--dry-run=client", "--namespace", NS, "--set", "github.existingSecret=github"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const notes = run.stdout.slice(run.stdout.indexOf("NOTES:"));
    expect(notes).toContain(`subjects[0].name=system:serviceaccount:${NS}:ctl-sandbox-controller`);
    expect(notes).toContain(`sweepers[0].name=system:serviceaccount:${NS}:ctl-sandbox-controller-sweep`);
    expect(notes).toContain("--set namespacePrefix=dev-sandbox-");
    expect(notes).not.toMatch(/base64 -d|jsonpath=.\{\.data/);
  });
});

describe.each(helmBinaries())("$name", ({ path: helm }) => {
  it("lints the chart strictly", async () => {
    const run = await runHelm(["lint", chart, "--strict", "--set", "github.existingSecret=github"], helm);
    expect(run.exitCode, `${run.stdout}${run.stderr}`).toBe(0);
  });
});
