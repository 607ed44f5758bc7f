// The readiness wait looks again when its namespace changes (watches on pods,
// Deployments, StatefulSets), not on a timer: proven by what reaches the API
// server through a counting proxy, and by a wait that survives its watches
// being cut.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type KubeConnection } from "../../src/adapters/kubernetes/client.js";
import { NamespaceChanges } from "../../src/adapters/kubernetes/namespace-changes.js";
import { NotReadyError, waitReady } from "../../src/adapters/kubernetes/readiness.js";
import { eventually, kubectl, uniqueName } from "../support/cluster.js";
import { type FlakyApi, startFlakyApi } from "../support/flaky-api.js";

let kube: KubeConnection;
let flaky: FlakyApi;
let viaProxy: KubeConnection;
const namespace = uniqueName("readiness-watch");

function deployment(name: string, nodeSelector: Record<string, string> = {}) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { nodeSelector, containers: [{ name: "app", image: "example.invalid/app:1" }] },
      },
    },
  };
}

async function apply(object: object): Promise<void> {
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify(object) });
}

async function untilConnected(changes: NamespaceChanges): Promise<void> {
  await eventually("the three watches to connect", async () => changes.complete, 30_000, 50);
}

const podLists = () =>
  flaky.forwarded.filter((line) => line.startsWith(`GET /api/v1/namespaces/${namespace}/pods`) && !line.includes("watch=true"));

beforeAll(async () => {
  kube = connect();
  await kubectl(["create", "namespace", namespace]);
  flaky = await startFlakyApi(process.env.KUBECONFIG as string);
  viaProxy = connect({ kubeconfigContent: flaky.kubeconfig });
});

afterAll(async () => {
  await flaky?.close();
  await kubectl(["delete", "namespace", namespace, "--wait=false"], { reject: false });
});

describe("readiness by watch", () => {
  it("wakes a waiter when something in the namespace changes", async () => {
    const changes = new NamespaceChanges(kube, namespace);
    try {
      await untilConnected(changes);
      const before = changes.seen;
      const woken = changes.next(before, 120_000);
      await apply(deployment("wake"));
      await woken;
      // Woken by the change, not by the two-minute limit (the test would time out first).
      expect(changes.seen).toBeGreaterThan(before);
    } finally {
      changes.close();
    }
  });

  it("returns as soon as a Deployment becomes ready", async () => {
    await apply(deployment("ready"));
    await waitReady(kube, namespace, { timeoutMs: 120_000 });
    const listed = await kube.apps.readNamespacedDeployment({ name: "ready", namespace });
    expect(listed.status?.availableReplicas).toBe(1);
  });

  it("looks at a quiet namespace on changes and every few seconds, not every 250 ms", async () => {
    await apply(deployment("stuck", { "k8s-dev-sandbox.test/no-such-node": "true" }));
    await eventually(
      "the stuck pod to be marked unschedulable",
      async () => {
        const pods = await kube.core.listNamespacedPod({ namespace, labelSelector: "app=stuck" });
        return pods.items[0]?.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False");
      },
      60_000,
    );
    const before = podLists().length;
    const error = await waitReady(viaProxy, namespace, { timeoutMs: 4_000, pollMs: 250 })
      .catch((e: unknown) => e)
      .finally(() => kubectl(["-n", namespace, "delete", "deployment", "stuck", "--wait=false"]));
    expect(error).toBeInstanceOf(NotReadyError);
    expect((error as NotReadyError).message).toMatch(/pod\/stuck-\S+: unschedulable/);
    // One look at the start, one at the deadline and one for the error's
    // evidence, plus a look for each change the controllers were still making
    // to the new Deployment (seen: up to 2); polling at 250 ms would be ~16.
    const looks = podLists().length - before;
    expect(looks).toBeGreaterThanOrEqual(3);
    expect(looks).toBeLessThanOrEqual(6);
  });

  it("keeps waiting through cut watches and still sees the namespace become ready", async () => {
    await apply(deployment("late", { "k8s-dev-sandbox.test/late": "true" }));
    const waiting = waitReady(viaProxy, namespace, { timeoutMs: 120_000 });
    // Cut every open connection (the watches included) at the next look, for 2 s.
    flaky.outageOn((method, path) => method === "GET" && path.includes(`/namespaces/${namespace}/`) && !path.includes("watch=true"), 2_000);
    await eventually("the outage", async () => flaky.outageStartedAt !== undefined, 30_000, 100);
    // Now let the pod schedule: the wait must notice although its watches were cut.
    await kubectl([
      "-n",
      namespace,
      "patch",
      "deployment",
      "late",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]',
    ]);
    await waiting;
    const late = await kube.apps.readNamespacedDeployment({ name: "late", namespace });
    expect(late.status?.availableReplicas).toBe(1);
  });
});
