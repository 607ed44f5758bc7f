// The TTL CronJob's way of sweeping, against the ground's API server: only
// expired namespaces of ours go, each deleted only if unchanged since it was
// listed (a namespace a deploy or extend touched meanwhile stays), and each
// removal is an events.k8s.io Event about the sweep's Job. The CronJob itself,
// with its own ServiceAccount's rights, runs in test/integration/sandbox-controller-chart.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type KubeConnection } from "../../src/adapters/kubernetes/client.js";
import { SWEEP_CONTROLLER, SweepEvents } from "../../src/adapters/kubernetes/sweep-events.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { HOUR } from "../../src/domain/duration.js";
import { namespaceMetadata } from "../../src/domain/metadata.js";
import { sweep } from "../../src/operations/sweep.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { kubectl, kubectlJson, uniqueName } from "../support/cluster.js";
import { apply } from "../support/pods.js";
import { groundSettings } from "../support/engine.js";

const prefix = `${uniqueName("hc-se")}-`;
const eventsNs = uniqueName("hc-se-events");
const now = new Date();
const names = { old: `${prefix}old`, fresh: `${prefix}fresh`, foreign: `${prefix}foreign`, touched: `${prefix}touched` };
let kube: KubeConnection;

function sandboxNamespace(name: string, key: string, expiresAt: Date, managed = true) {
  const { labels, annotations } = namespaceMetadata({ key, expiresAt, status: "deployed" });
  if (!managed) delete labels["app.kubernetes.io/managed-by"];
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels, annotations } };
}

interface EventList {
  items: {
    reason: string;
    type: string;
    note: string;
    reportingController: string;
    regarding: { kind: string; name: string };
    related?: { kind: string; name: string };
  }[];
}

beforeAll(async () => {
  kube = connect();
  await apply(
    { apiVersion: "v1", kind: "Namespace", metadata: { name: eventsNs } },
    sandboxNamespace(names.old, "old", new Date(now.getTime() - HOUR)),
    sandboxNamespace(names.fresh, "fresh", new Date(now.getTime() + HOUR)),
    sandboxNamespace(names.foreign, "foreign", new Date(now.getTime() - HOUR), false),
    sandboxNamespace(names.touched, "touched", new Date(now.getTime() - HOUR)),
  );
});

afterAll(async () => {
  await kubectl(["delete", "namespace", eventsNs, ...Object.values(names), "--wait=false", "--ignore-not-found"], { reject: false });
});

describe("sweep for the TTL CronJob (delete-only, with Events)", () => {
  it("deletes a namespace only while it is as it was read", async () => {
    const engine = createEngine({ settings: groundSettings(prefix, "sandbox.test"), logger: new MemoryLogger() });
    const read = await engine.namespaces.get(names.touched);
    expect(read?.resourceVersion).toBeTruthy();
    // An extend (or deploy) touches it after the sweep listed it.
    await engine.namespaces.annotate(names.touched, { "k8s-dev-sandbox/extended-by": "someone" });
    expect(await engine.namespaces.deleteIfUnchanged(names.touched, read?.resourceVersion as string)).toBe("changed");
    expect((await engine.namespaces.get(names.touched))?.deletionTimestamp).toBeUndefined();
    const again = await engine.namespaces.get(names.touched);
    expect(await engine.namespaces.deleteIfUnchanged(names.touched, again?.resourceVersion as string)).toBe("deleted");
    expect(await engine.namespaces.deleteIfUnchanged(`${prefix}never-was`, "1")).toBe("absent");
  });

  it("removes only the expired sandbox of ours and records an Event about the Job for it", async () => {
    const logger = new MemoryLogger();
    const engine = createEngine({ settings: groundSettings(prefix, "sandbox.test"), logger });
    const reporter = new SweepEvents(kube, { namespace: eventsNs, job: "hc-sweep-manual", instance: "hc-sweep-manual-pod" });
    const outcome = await sweep(engine, {}, { removal: "delete-namespace", reporter });
    expect(outcome.removed).toEqual([{ key: "old", reason: "expired" }]);
    // "touched" was deleted by the test above and may still be terminating; "foreign" is not ours, so not even listed.
    expect(outcome.kept.filter((k) => k.key !== "touched")).toEqual([{ key: "fresh", reason: "active" }]);
    expect(outcome.failed).toEqual([]);
    expect(logger.lines.filter((l) => l.startsWith("warn"))).toEqual([]);
    const old = await kubectlJson<{ metadata: { deletionTimestamp?: string } }>(["get", "namespace", names.old]).catch(() => undefined);
    expect(old === undefined || old.metadata.deletionTimestamp !== undefined).toBe(true);
    for (const kept of [names.fresh, names.foreign]) {
      const ns = await kubectlJson<{ metadata: { deletionTimestamp?: string } }>(["get", "namespace", kept]);
      expect(ns.metadata.deletionTimestamp, kept).toBeUndefined();
    }
    const events = await kubectlJson<EventList>(["-n", eventsNs, "get", "events.v1.events.k8s.io"]);
    expect(events.items).toHaveLength(1);
    const [event] = events.items;
    expect(event?.reason).toBe("SandboxRemoved");
    expect(event?.type).toBe("Normal");
    expect(event?.reportingController).toBe(SWEEP_CONTROLLER);
    expect(event?.regarding).toMatchObject({ kind: "Job", name: "hc-sweep-manual" });
    expect(event?.related).toMatchObject({ kind: "Namespace", name: names.old });
    expect(event?.note).toContain(`deleted namespace ${names.old} (expired`);
  });
});
