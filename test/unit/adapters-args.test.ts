// The pure parts of the adapters: the argument lists handed to helm, buildah
// and docker, image references, and the classification of unready workloads.
import type { V1Deployment, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseRelease, upgradeArgs } from "../../src/adapters/helm.js";
import { buildahBuildArgs, buildahPushArgs, dockerBuildArgs } from "../../src/adapters/image/builders.js";
import { insecureRegistries, isInsecureRegistry, parseImageRef } from "../../src/adapters/image/registry.js";
import { countsForReadiness, deploymentNotReady, podNotReady, statefulSetNotReady } from "../../src/adapters/kubernetes/readiness.js";
import { Redactor } from "../../src/adapters/logger.js";

describe("helm upgrade arguments", () => {
  it("puts the user's values files before the generated one and never uses a shell", () => {
    const args = upgradeArgs({
      release: "sandbox",
      namespace: "dev-sandbox-x",
      chart: "/charts/odoo",
      valuesFiles: ["/repo/values.yaml", "/tmp/generated.yaml"],
      sets: ["odoo.replicas=1", "a=$(rm -rf /)"],
    });
    expect(args).toEqual([
      "upgrade",
      "--install",
      "sandbox",
      "/charts/odoo",
      "--namespace",
      "dev-sandbox-x",
      "--history-max",
      "10",
      "--values",
      "/repo/values.yaml",
      "--values",
      "/tmp/generated.yaml",
      "--set",
      "odoo.replicas=1",
      "--set",
      "a=$(rm -rf /)",
      "--output",
      "json",
    ]);
  });

  it.each([
    [{ wait: true, timeout: "3m" }, ["--wait", "--timeout", "3m"]],
    [{ wait: true }, ["--wait", "--timeout", "10m"]],
    [{ timeout: "1m" }, ["--timeout", "1m"]],
    [{ kubeconfig: "/k", kubeContext: "ctx" }, ["--kubeconfig", "/k", "--kube-context", "ctx"]],
  ])("adds %j as %j", (extra, expected) => {
    const args = upgradeArgs({ release: "r", namespace: "n", chart: "c", valuesFiles: [], ...extra });
    expect(args.join(" ")).toContain(expected.join(" "));
  });

  it("reads a release from helm's JSON, with or without leading noise", () => {
    const json = JSON.stringify({
      name: "sandbox",
      namespace: "ns",
      version: 3,
      info: { status: "deployed" },
      chart: { metadata: { name: "odoo-dev-sandbox", version: "0.1.0" } },
    });
    expect(parseRelease(`WARNING: something\n${json}`)).toEqual({
      name: "sandbox",
      namespace: "ns",
      status: "deployed",
      revision: 3,
      chart: "odoo-dev-sandbox-0.1.0",
    });
    expect(parseRelease("no json here")).toBeUndefined();
  });
});

describe("image builders", () => {
  const req = {
    context: "/w",
    dockerfile: "/w/Dockerfile.dev",
    image: "127.0.0.1:5000/acme/shop:src-1",
    buildArgs: { ODOO_IMAGE: "odoo:18.0" },
    labels: { "org.opencontainers.image.revision": "abc" },
  };

  it("builds with buildah using the layer cache and plain HTTP only for loopback registries", () => {
    expect(buildahBuildArgs(req)).toEqual([
      "build",
      "--layers",
      "--tls-verify=false",
      "--file",
      "/w/Dockerfile.dev",
      "--tag",
      "127.0.0.1:5000/acme/shop:src-1",
      "--build-arg",
      "ODOO_IMAGE=odoo:18.0",
      "--label",
      "org.opencontainers.image.revision=abc",
      "/w",
    ]);
    expect(buildahPushArgs("ghcr.io/acme/shop:src-1")).toEqual(["push", "ghcr.io/acme/shop:src-1", "docker://ghcr.io/acme/shop:src-1"]);
    expect(buildahPushArgs(req.image)).toContain("--tls-verify=false");
  });

  it("builds and pushes with docker buildx in one step", () => {
    expect(dockerBuildArgs({ ...req, image: "ghcr.io/acme/shop:src-1" })).toEqual([
      "buildx",
      "build",
      "--push",
      "--provenance=false",
      "--file",
      "/w/Dockerfile.dev",
      "--tag",
      "ghcr.io/acme/shop:src-1",
      "--build-arg",
      "ODOO_IMAGE=odoo:18.0",
      "--label",
      "org.opencontainers.image.revision=abc",
      "/w",
    ]);
  });

  it.each([
    ["ghcr.io/acme/shop:src-1", { registry: "ghcr.io", repository: "acme/shop", tag: "src-1" }],
    ["127.0.0.1:5000/a/b/c:v1.2", { registry: "127.0.0.1:5000", repository: "a/b/c", tag: "v1.2" }],
    ["localhost/x:y", { registry: "localhost", repository: "x", tag: "y" }],
  ])("parses %s", (ref, expected) => {
    expect(parseImageRef(ref)).toEqual(expected);
  });

  it.each(["shop:latest", "acme/shop:1", "ghcr.io/acme/shop", "ghcr.io/acme/shop:bad tag", "ghcr.io/acme/shop:-x"])("rejects %s", (ref) => {
    expect(() => parseImageRef(ref)).toThrow(/registry\.example\.com\/name:tag/);
  });

  it.each([
    ["127.0.0.1:5000", true],
    ["localhost:5000", true],
    ["[::1]:5000", true],
    ["ghcr.io", false],
    ["10.0.0.1:5000", false],
    ["127.0.0.1.evil.example", false],
  ])("treats %s as insecure: %s", (registry, insecure) => {
    expect(isInsecureRegistry(registry, {})).toBe(insecure);
  });

  it("treats exactly the registries K8S_SANDBOX_INSECURE_REGISTRIES lists as plain HTTP", () => {
    const env = { K8S_SANDBOX_INSECURE_REGISTRIES: " registry.kube-system.svc:5000, 10.0.0.1:5000 ,," };
    expect(isInsecureRegistry("registry.kube-system.svc:5000", env)).toBe(true);
    expect(isInsecureRegistry("10.0.0.1:5000", env)).toBe(true);
    // The port is part of the name, as for containerd and Docker.
    expect(isInsecureRegistry("10.0.0.1:5001", env)).toBe(false);
    expect(isInsecureRegistry("10.0.0.1", env)).toBe(false);
    expect(isInsecureRegistry("ghcr.io", env)).toBe(false);
    expect(insecureRegistries(env)).toEqual(["registry.kube-system.svc:5000", "10.0.0.1:5000"]);
  });

  it.each(["http://10.0.0.1:5000", "10.0.0.1:5000/path", "reg istry:5000", "-bad.example"])(
    "refuses %s in K8S_SANDBOX_INSECURE_REGISTRIES, naming it",
    (entry) => {
      expect(() => isInsecureRegistry("ghcr.io", { K8S_SANDBOX_INSECURE_REGISTRIES: entry })).toThrow(
        /K8S_SANDBOX_INSECURE_REGISTRIES: .* is not a registry host\[:port\]/,
      );
    },
  );
});

describe("readiness classification", () => {
  const deployment = (spec: number, status: Partial<NonNullable<V1Deployment["status"]>>, generation = 1): V1Deployment => ({
    metadata: { generation },
    spec: { replicas: spec, selector: {}, template: {} },
    status: { observedGeneration: 1, ...status },
  });

  it.each([
    [deployment(1, { updatedReplicas: 1, availableReplicas: 1, replicas: 1 }), undefined],
    [deployment(1, { updatedReplicas: 1, availableReplicas: 1, replicas: 1 }, 2), "rollout not observed yet"],
    [deployment(2, { updatedReplicas: 1, availableReplicas: 1, replicas: 2 }), "1/2 updated"],
    [deployment(1, { updatedReplicas: 1, availableReplicas: 0, replicas: 1 }), "0/1 available"],
    [deployment(1, { updatedReplicas: 1, availableReplicas: 1, replicas: 2 }), "1 old pod(s) terminating"],
    [
      deployment(1, { conditions: [{ type: "ReplicaFailure", status: "True", message: "exceeded quota: q" }] }),
      "cannot create pods: exceeded quota: q",
    ],
  ])("deployment %#", (d, expected) => {
    expect(deploymentNotReady(d)).toBe(expected);
  });

  it("waits for a StatefulSet's update revision", () => {
    const set: V1StatefulSet = {
      metadata: { generation: 1 },
      spec: { replicas: 1, selector: {}, serviceName: "db", template: {} },
      status: { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 0, currentRevision: "a", updateRevision: "b" },
    };
    expect(statefulSetNotReady(set)).toBe("0/1 updated");
    expect(statefulSetNotReady({ ...set, status: { ...set.status, replicas: 1, currentRevision: "b" } })).toBeUndefined();
  });

  const pod = (statuses: NonNullable<V1Pod["status"]>["containerStatuses"], ready = "False"): V1Pod => ({
    status: { phase: "Running", conditions: [{ type: "Ready", status: ready }], containerStatuses: statuses },
  });

  it.each([
    [pod([], "True"), undefined],
    [
      pod([
        {
          name: "odoo",
          image: "i",
          imageID: "",
          ready: false,
          restartCount: 4,
          state: { waiting: { reason: "CrashLoopBackOff" } },
          lastState: { terminated: { exitCode: 1, reason: "Error" } },
        },
      ]),
      { fatal: true, reason: "container odoo CrashLoopBackOff, last exit 1 (Error)" },
    ],
    [
      pod([
        {
          name: "odoo",
          image: "i",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "ImagePullBackOff", message: "not found" } },
        },
      ]),
      { fatal: true, reason: "container odoo ImagePullBackOff: not found" },
    ],
    [
      pod([{ name: "odoo", image: "i", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ContainerCreating" } } }]),
      { fatal: false, reason: "container odoo ContainerCreating" },
    ],
  ])("pod %#", (p, expected) => {
    expect(podNotReady(p)).toEqual(expected);
  });

  it("reports an unschedulable pod with the scheduler's message", () => {
    const p: V1Pod = {
      status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", message: "0/1 nodes are available" }] },
    };
    expect(podNotReady(p)).toEqual({ fatal: false, reason: "unschedulable: 0/1 nodes are available" });
  });
});

describe("which pods a deploy waits for", () => {
  const pod = (phase: string, owner?: string, deleting = false): V1Pod => ({
    metadata: {
      name: "p",
      ...(owner ? { ownerReferences: [{ apiVersion: "v1", kind: owner, name: "o", uid: "u" }] } : {}),
      ...(deleting ? { deletionTimestamp: new Date() } : {}),
    },
    status: { phase },
  });
  it.each([
    ["a running Deployment pod", pod("Running", "ReplicaSet"), true],
    ["a pending StatefulSet pod", pod("Pending", "StatefulSet"), true],
    ["a pod being deleted", pod("Running", "ReplicaSet", true), false],
    ["a finished pod", pod("Succeeded"), false],
    ["a failed pod (a failed helm test, an evicted pod)", pod("Failed", "Job"), false],
    ["a running Job pod (helm test in progress)", pod("Running", "Job"), false],
  ])("%s: %s", (_what, p, expected) => {
    expect(countsForReadiness(p)).toBe(expected);
  });
});

describe("redaction", () => {
  it("blanks every registered secret and ignores strings too short to be one", () => {
    const r = new Redactor();
    r.add("s3cr3t-token");
    r.add("ab");
    expect(r.redact("token s3cr3t-token and ab, again s3cr3t-token")).toBe("token *** and ab, again ***");
  });
});
