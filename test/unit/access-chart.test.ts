import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LOCAL_VOLUMES_CONFIG, DEFAULT_SANDBOX_ROLE, parseObjectRef } from "../../src/domain/access.js";
import { chartDocs } from "../support/chart-docs.js";
import { grants, helmBinaries, type K8sObject, parseManifests, type Rule, repoRoot, runHelm } from "../support/helm.js";

const CHART = join(repoRoot, "charts", "sandbox-access");
const NS = "k8s-dev-sandbox-system";

async function render(
  set: Record<string, string | undefined> = {},
  helm?: string,
): Promise<{ objects: K8sObject[]; stderr: string; exitCode: number }> {
  const args = ["template", "sandbox-access", CHART, "--namespace", NS, "--kube-version", "1.34.4"];
  for (const [key, value] of Object.entries(set)) if (value !== undefined) args.push("--set", `${key}=${value}`);
  const run = await runHelm(args, helm);
  return { objects: run.exitCode === 0 ? parseManifests(run.stdout) : [], stderr: run.stderr, exitCode: run.exitCode };
}

const rulesOf = (objects: K8sObject[], kind: string, name: string): Rule[] =>
  (objects.find((o) => o.kind === kind && o.metadata.name === name)?.rules ?? []) as Rule[];
describe("the engine's rights", () => {
  it("cluster-wide: namespaces, binding the sandbox role to itself, who-am-I; nothing else", async () => {
    const { objects } = await render();
    expect(grants(rulesOf(objects, "ClusterRole", "k8s-dev-sandbox:engine"))).toEqual(
      [
        ...["get", "list", "watch", "create", "update", "patch", "delete"].map((v) => `core/namespaces ${v}`),
        "rbac.authorization.k8s.io/rolebindings create",
        `rbac.authorization.k8s.io/clusterroles bind [${DEFAULT_SANDBOX_ROLE}]`,
        "authentication.k8s.io/selfsubjectreviews create",
        "authorization.k8s.io/selfsubjectaccessreviews create",
      ].sort(),
    );
  });

  it("names the sandbox role the engine binds by default", async () => {
    const { objects } = await render();
    expect(objects.filter((o) => o.kind === "ClusterRole").map((o) => o.metadata.name)).toContain(DEFAULT_SANDBOX_ROLE);
    // The sandbox role is bound by the engine per namespace, never cluster-wide.
    const bound = objects.filter((o) => o.kind === "ClusterRoleBinding").map((o) => o.roleRef.name);
    expect(bound).not.toContain(DEFAULT_SANDBOX_ROLE);
  });

  it("in a sandbox: no RBAC, no volumes, no escalation", async () => {
    const { objects } = await render();
    const lines = grants(rulesOf(objects, "ClusterRole", DEFAULT_SANDBOX_ROLE));
    expect(lines.filter((l) => /rbac|persistentvolumes |\/\*|escalate|bind|impersonate|nodes|pods\/exec/.test(l))).toEqual([]);
    expect(lines).toContain("coordination.k8s.io/leases create");
    expect(lines).toContain("core/secrets list");
    expect(lines).toContain("core/pods/log get");
  });

  it("CI mode (the default): no rights on PersistentVolumes anywhere, no local-volumes ConfigMap", async () => {
    const { objects } = await render();
    const all = objects.filter((o) => o.kind === "ClusterRole" || o.kind === "Role").flatMap((o) => grants(o.rules as Rule[]));
    expect(all.filter((l) => l.includes("persistentvolumes "))).toEqual([]);
    expect(objects.filter((o) => o.kind === "ConfigMap")).toEqual([]);
  });

  it("local mode: volumes, the ConfigMap where the engine expects it, and a policy holding the paths", async () => {
    const { objects } = await render({
      "localVolumes.enabled": "true",
      "localVolumes.allowedHostPaths[0]": "/home",
      "localVolumes.allowedHostPaths[1]": "/srv/",
    });
    expect(grants(rulesOf(objects, "ClusterRole", "k8s-dev-sandbox:local-volumes"))).toHaveLength(7);
    const config = objects.find((o) => o.kind === "ConfigMap") as K8sObject;
    expect({ namespace: config.metadata.namespace, name: config.metadata.name }).toEqual(parseObjectRef(DEFAULT_LOCAL_VOLUMES_CONFIG, "x"));
    expect(config.data.allowedHostPaths.trim().split("\n")).toEqual(["/home", "/srv/"]);
    // Only the engine may read it: a Role on that one ConfigMap.
    expect(grants(rulesOf(objects, "Role", "k8s-dev-sandbox:local-volumes-config"))).toEqual([
      `core/configmaps get [${config.metadata.name}]`,
    ]);
    const policy = objects.find(
      (o) => o.kind === "ValidatingAdmissionPolicy" && o.metadata.name === "k8s-dev-sandbox-volumes",
    ) as K8sObject;
    expect(JSON.stringify(policy.spec.validations)).toContain('[\\"/home\\",\\"/srv\\"].exists(r');
  });

  it.each([
    {
      name: "/ as an allowed path",
      set: { "localVolumes.enabled": "true", "localVolumes.allowedHostPaths[0]": "/" },
      message: /allowedHostPaths\/0/,
    },
    {
      name: "a path with ..",
      set: { "localVolumes.enabled": "true", "localVolumes.allowedHostPaths[0]": "/home/../etc" },
      message: /allowedHostPaths\/0/,
    },
    { name: "local mode without paths", set: { "localVolumes.enabled": "true" }, message: /localVolumes\.allowedHostPaths is required/ },
    {
      name: "a subject of kind ServiceAccount",
      set: { "subjects[0].kind": "ServiceAccount", "subjects[0].name": "x" },
      message: /subjects\/0\/kind/,
    },
  ])("refuses $name", async ({ set, message }) => {
    const run = await render(set);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(message);
  });
});

describe("the admission policies", () => {
  it("judge only the engine's identities", async () => {
    const { objects } = await render({
      "subjects[0].kind": "User",
      "subjects[0].name": "ci@example.com",
      "subjects[1].kind": "Group",
      "subjects[1].name": "previewers",
    });
    const policies = objects.filter((o) => o.kind === "ValidatingAdmissionPolicy");
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([
      "k8s-dev-sandbox-ingresses",
      "k8s-dev-sandbox-namespaces",
      "k8s-dev-sandbox-rolebindings",
    ]);
    for (const policy of policies) {
      expect(policy.spec.matchConditions).toEqual([
        {
          name: "is-the-engine",
          expression: `request.userInfo.username in ["system:serviceaccount:${NS}:k8s-dev-sandbox","ci@example.com"] || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ["previewers"]))`,
        },
      ]);
      expect(policy.spec.failurePolicy).toBe("Fail");
      for (const v of policy.spec.validations) expect(v.reason, v.message).toBe("Forbidden");
      const binding = objects.find((o) => o.kind === "ValidatingAdmissionPolicyBinding" && o.spec.policyName === policy.metadata.name);
      expect(binding?.spec.validationActions).toEqual(["Deny"]);
    }
  });

  it("sweepers: only list and delete namespaces, and the namespaces policy judges them too", async () => {
    const sweeper = "system:serviceaccount:k8s-sandbox-system:k8s-sandbox-sweep";
    expect((await render()).objects.filter((o) => o.metadata.name === "k8s-dev-sandbox:sweeper")).toEqual([]);
    const { objects } = await render({ "sweepers[0].kind": "User", "sweepers[0].name": sweeper });
    expect(grants(rulesOf(objects, "ClusterRole", "k8s-dev-sandbox:sweeper"))).toEqual(
      ["get", "list", "watch", "delete"].map((v) => `core/namespaces ${v}`).sort(),
    );
    const binding = objects.find((o) => o.kind === "ClusterRoleBinding" && o.metadata.name === "k8s-dev-sandbox:sweeper") as K8sObject;
    expect(binding.subjects).toEqual([{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: sweeper }]);
    const policies = objects.filter((o) => o.kind === "ValidatingAdmissionPolicy");
    const namespaces = policies.find((p) => p.metadata.name === "k8s-dev-sandbox-namespaces") as K8sObject;
    expect(namespaces.spec.matchConditions).toHaveLength(1);
    expect(namespaces.spec.matchConditions[0].expression).toContain(`request.userInfo.username in ["${sweeper}"]`);
    // The other policies are about what a sweeper cannot do at all (RBAC): they keep judging the engine only.
    for (const other of policies.filter((p) => p !== namespaces)) expect(JSON.stringify(other.spec.matchConditions)).not.toContain(sweeper);
    const refused = await render({ "sweepers[0].kind": "ServiceAccount", "sweepers[0].name": "x" });
    expect(refused.stderr).toMatch(/sweepers\/0\/kind/);
  });

  it("use the namespace prefix given", async () => {
    const { objects } = await render({ namespacePrefix: "preview-" });
    const namespaces = objects.find((o) => o.metadata.name === "k8s-dev-sandbox-namespaces") as K8sObject;
    expect(namespaces.spec.validations[0].expression).toBe('variables.ns.metadata.name.startsWith("preview-")');
  });

  it("can be left out, with a warning in the notes", async () => {
    // Helm 4's client-side dry run prints the notes (it knows its Kubernetes version without a cluster).
    const run = await runHelm(["install", "x", CHART, "--dry-run=client", "--namespace", NS, "--set", "admissionPolicy.enabled=false"]);
    expect(run.stdout).toMatch(/WARNING: admissionPolicy\.enabled is false/);
    expect(run.stdout).not.toMatch(/kind: ValidatingAdmissionPolicy/);
  });
});

describe.each(helmBinaries())("$name", ({ path: helm }) => {
  it("lints the chart", async () => {
    const run = await runHelm(
      [
        "lint",
        CHART,
        "--strict",
        "--kube-version",
        "1.34.4",
        "--set",
        "localVolumes.enabled=true",
        "--set",
        "localVolumes.allowedHostPaths[0]=/home",
      ],
      helm,
    );
    expect(run.stdout + run.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });
});

describe("the README", () => {
  it("lists every @param of values.yaml, in order", () => {
    const docs = chartDocs(CHART);
    expect(docs.readmeRows).toEqual(docs.params);
    expect(docs.values).toBeTypeOf("object");
  });
});
