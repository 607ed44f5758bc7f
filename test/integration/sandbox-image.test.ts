// The product image (images/k8s-sandbox), built on the ground as a user
// builds it, really runs where the controller, the agent and the sweep
// CronJob will: on the real node, as uid 1000, on a read-only root with only
// /tmp writable, talking to the API server through the `kubernetes` Service
// with its ServiceAccount, with Helm and the bundled chart inside.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { kubectl, uniqueName } from "../support/cluster.js";
import { realNodeMissing, requireRealNode } from "../support/real-node.js";
import { apply, runJob } from "../support/pods.js";
import { ensureSandboxImage } from "../support/sandbox-image.js";

const ns = uniqueName("sandbox-image");
// Under the default prefix, so `k8s-sandbox list` finds it as one of its own.
const marker = uniqueName("dev-sandbox-image-probe");
let image = "";

/** Runs the image once as a Job (its own user, /tmp writable) and returns its log and exit code. */
async function runImage(name: string, args: string[], command?: string[]): Promise<{ code: number; log: string }> {
  const outcome = await runJob(ns, name, { image, args, command, imageUser: true, serviceAccountName: "runner", tmpDir: true }, 180_000);
  return { code: outcome.succeeded ? 0 : 1, log: outcome.logs };
}

afterAll(async () => {
  if (realNodeMissing()) return;
  await kubectl(["delete", "namespace", ns, marker, "--wait=false", "--ignore-not-found"], { reject: false });
  await kubectl(["delete", "clusterrolebinding,clusterrole", `${ns}-list`, "--ignore-not-found"], { reject: false });
});

describe("the k8s-sandbox image on the real node", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("builds from images/k8s-sandbox/Dockerfile with the ground's stand-ins for its two bases", async () => {
    image = await ensureSandboxImage();
    expect(image).toMatch(/\/k8s-sandbox:src-[0-9a-f]{20}$/);
    await kubectl(["create", "namespace", ns]);
    await kubectl(["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"]);
    // A namespace of ours for the CLI to find, and the right to list namespaces (nothing else).
    await kubectl(["create", "namespace", marker]);
    await kubectl([
      "label",
      "namespace",
      marker,
      "app.kubernetes.io/managed-by=k8s-dev-sandbox",
      `k8s-dev-sandbox/key=${marker.slice("dev-sandbox-".length)}`,
    ]);
    await apply(
      ...[
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "runner", namespace: ns } },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRole",
          metadata: { name: `${ns}-list` },
          rules: [{ apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list"] }],
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: `${ns}-list` },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `${ns}-list` },
          subjects: [{ kind: "ServiceAccount", name: "runner", namespace: ns }],
        },
      ],
    );
  });

  it("lists sandboxes from inside the cluster with its ServiceAccount (in-cluster config, the kubernetes Service)", async () => {
    const { code, log } = await runImage("list", ["list", "--json"]);
    expect(code, log).toBe(0);
    expect(log).toContain(marker.slice("dev-sandbox-".length));
  });

  it("carries Helm and the bundled chart, usable on a read-only root (Helm's homes under /tmp)", async () => {
    const script = [
      "set -e",
      'test "$(id -u):$(id -g)" = 1000:1000',
      "helm version --short",
      // Offline, helm assumes a default Kubernetes version (v1.20 in a build
      // without version flags, as the ground's): name the cluster's.
      "helm template probe /opt/k8s-sandbox/charts/odoo-dev-sandbox --kube-version 1.34.0 --set sandbox.host=probe.example.test > /tmp/out.yaml",
      "grep -c '^kind:' /tmp/out.yaml",
      "! touch /opt/k8s-sandbox/x 2>/dev/null",
      "node --version",
    ].join("\n");
    const { code, log } = await runImage("tools", [script], ["/bin/sh", "-c"]);
    expect(code, log).toBe(0);
    expect(log).toMatch(/^v3\.\d+\.\d+/m);
    expect(log).toMatch(/^v24\./m);
  });
});
