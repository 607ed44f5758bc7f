import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chartDocs, leaves } from "../support/chart-docs.js";
import { helmTemplate, helmTemplateRun, type K8sObject, podTemplates, repoRoot, restrictedViolations } from "../support/helm.js";

const chart = join(repoRoot, "charts", "workspace-agent");
const required = { "s3.endpoint": "http://s3.storage:9000", "s3.existingSecret": "s3-keys" };
const render = (set: Record<string, string | number | boolean> = {}, namespace = "codehub") =>
  helmTemplate({ chart, release: "agent", namespace, set: { ...required, ...set } });

const docs = chartDocs(chart);

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

describe("workspace-agent chart", () => {
  it("documents every value once, in values.yaml, the README and the schema", () => {
    expect([...docs.params].sort()).toEqual(leaves(docs.values).sort());
    expect([...docs.readmeRows].sort()).toEqual([...docs.params].sort());
    for (const param of docs.params) expect(docs.schemaAt(param), param).toBeDefined();
  });

  it("refuses to render without a store, saying what to set", async () => {
    const none = await helmTemplateRun({ chart, release: "agent", namespace: "codehub" });
    expect(none.exitCode).not.toBe(0);
    expect(none.stderr).toMatch(/s3\.endpoint is required/);
    const noSecret = await helmTemplateRun({ chart, release: "agent", namespace: "codehub", set: { "s3.endpoint": "http://s3:9000" } });
    expect(noSecret.stderr).toMatch(/s3\.existingSecret is required/);
  });

  it("runs every pod under Pod Security restricted, read-only, as uid 1000", async () => {
    const pods = podTemplates(await render());
    expect(pods.map((p) => p.owner).sort()).toEqual(["Deployment/agent-workspace-agent", "Pod/agent-workspace-agent-test"]);
    for (const pod of pods) {
      expect(restrictedViolations(pod.spec), pod.owner).toEqual([]);
      expect(pod.spec.securityContext.runAsUser, pod.owner).toBe(1000);
      for (const c of pod.spec.containers) expect(c.securityContext.readOnlyRootFilesystem, `${pod.owner}/${c.name}`).toBe(true);
    }
  });

  it("holds rights only in the workspaces namespace: a Role, no ClusterRole, no wildcard", async () => {
    const objects = await render({ "workspaces.namespace": "codehub-workspaces" });
    expect(byKind(objects, "ClusterRole")).toEqual([]);
    expect(byKind(objects, "ClusterRoleBinding")).toEqual([]);
    const [role] = byKind(objects, "Role");
    const [binding] = byKind(objects, "RoleBinding");
    expect(role?.metadata.namespace).toBe("codehub-workspaces");
    expect(binding?.metadata.namespace).toBe("codehub-workspaces");
    expect(binding?.subjects).toEqual([{ kind: "ServiceAccount", name: "agent-workspace-agent", namespace: "codehub" }]);
    for (const rule of role?.rules ?? []) {
      expect([...rule.verbs, ...rule.resources, ...rule.apiGroups]).not.toContain("*");
      expect(rule.verbs).not.toContain("escalate");
      expect(rule.verbs).not.toContain("bind");
    }
    // Secrets: create (RBAC cannot name what does not exist yet), then only the Jobs' credentials by name.
    const secretRules = (role?.rules ?? []).filter((r: { resources: string[] }) => r.resources.includes("secrets"));
    expect(secretRules).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      { apiGroups: [""], resources: ["secrets"], resourceNames: ["codehub-ws-storage-credentials"], verbs: ["get", "update", "patch"] },
    ]);
  });

  it("tells the agent its workspaces namespace and keeps every key out of the pod spec", async () => {
    const objects = await render({ "workspaces.namespace": "codehub-workspaces", "workspaces.nodeSelector.pool": "dev" });
    const [deployment] = byKind(objects, "Deployment");
    const container = deployment?.spec.template.spec.containers[0];
    const env = new Map<string, { value?: string; valueFrom?: unknown }>(
      container.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e]),
    );
    expect(container.args).toEqual(["agent"]);
    expect(env.get("AGENT_KUBERNETES_NAMESPACE")?.value).toBe("codehub-workspaces");
    expect(JSON.parse(env.get("AGENT_KUBERNETES_NODE_SELECTOR")?.value ?? "")).toEqual({ pool: "dev" });
    for (const secret of ["AGENT_SERVER_API_KEY", "AGENT_S3_ACCESS_KEY", "AGENT_S3_SECRET_KEY"]) {
      expect(env.get(secret)?.value, secret).toBeUndefined();
      expect(env.get(secret)?.valueFrom, secret).toHaveProperty("secretKeyRef");
    }
  });

  it("generates the API key unless one is given, and then makes no Secret", async () => {
    const generated = byKind(await render(), "Secret");
    expect(generated).toHaveLength(1);
    expect(Buffer.from(generated[0]?.data["api-key"], "base64").toString()).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(byKind(await render({ "auth.existingSecret": "mine" }), "Secret")).toEqual([]);
  });

  it("creates the workspaces namespace only when asked, labelled restricted and kept on uninstall", async () => {
    expect(byKind(await render({ "workspaces.namespace": "ws" }), "Namespace")).toEqual([]);
    const [ns] = byKind(await render({ "workspaces.namespace": "ws", "workspaces.createNamespace": true }), "Namespace");
    expect(ns?.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    expect(ns?.metadata.annotations?.["helm.sh/resource-policy"]).toBe("keep");
  });
});
