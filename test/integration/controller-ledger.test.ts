// The delivery ledger on the ground's API server: two replicas claiming the
// same deliveries at once each get every id exactly once between them, a new
// process (a restart) sees them all as taken, claims made together cost a
// handful of writes, and old ids are forgotten after the retention. A write
// the API server applied but whose answer was lost is still known as ours.
// The worker claims the next waiting deliveries in one round: two workers
// (replicas) given the same deliveries run each exactly once between them.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { connect } from "../../src/adapters/kubernetes/client.js";
import { DeliveryLedger } from "../../src/adapters/kubernetes/delivery-ledger.js";
import { ControllerMetrics } from "../../src/controller/metrics.js";
import { type Delivery, Worker } from "../../src/controller/worker.js";
import type { WorkItem } from "../../src/domain/work-queue.js";
import { kubectl, kubectlJson, uniqueName } from "../support/cluster.js";
import { startFlakyApi } from "../support/flaky-api.js";

const NS = uniqueName("ha-ledger");

beforeAll(async () => {
  await kubectl(["create", "namespace", NS]);
});

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"], { reject: false });
});

describe("DeliveryLedger", () => {
  it("two replicas claiming the same 400 deliveries at once: each id is first exactly once", async () => {
    const ids = Array.from({ length: 400 }, () => randomUUID());
    const replicaA = new DeliveryLedger(connect(), { namespace: NS, name: "race", shards: 4 });
    const replicaB = new DeliveryLedger(connect(), { namespace: NS, name: "race", shards: 4 });
    const [a, b] = await Promise.all([Promise.all(ids.map((id) => replicaA.claim(id))), Promise.all(ids.map((id) => replicaB.claim(id)))]);
    for (let i = 0; i < ids.length; i++) expect(Number(a[i]) + Number(b[i]), ids[i]).toBe(1);
    // Claims made together are written together: far fewer writes than ids.
    expect(replicaA.writes + replicaB.writes).toBeLessThan(ids.length / 4);

    const restarted = new DeliveryLedger(connect(), { namespace: NS, name: "race", shards: 4 });
    const again = await Promise.all(ids.map((id) => restarted.claim(id)));
    expect(again.every((first) => first === false)).toBe(true);
    expect(restarted.writes).toBe(0);
    const maps = await kubectlJson<{ items: unknown[] }>([
      "get",
      "configmaps",
      "-n",
      NS,
      "-l",
      "app.kubernetes.io/component=delivery-ledger",
    ]);
    expect(maps.items).toHaveLength(4);
  });

  it("the same id claimed twice in one round is first once", async () => {
    const ledger = new DeliveryLedger(connect(), { namespace: NS, name: "twice", shards: 1 });
    const id = randomUUID();
    expect(await Promise.all([ledger.claim(id), ledger.claim(id)])).toEqual([true, false]);
  });

  it("forgets ids older than the retention when it next writes the shard", async () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const ledger = new DeliveryLedger(connect(), { namespace: NS, name: "retain", shards: 1, retainMs: 3600_000, now: () => now });
    const old = randomUUID();
    expect(await ledger.claim(old)).toBe(true);
    now = new Date("2026-01-01T02:00:00Z");
    expect(await ledger.claim(randomUUID())).toBe(true);
    // Forgotten: a redelivery this late is taken as new (GitHub redelivers for 3 days; the default keeps 7).
    expect(await ledger.claim(old)).toBe(true);
  });

  it("refuses what is not a delivery id before it reaches a ConfigMap key", async () => {
    const ledger = new DeliveryLedger(connect(), { namespace: NS, name: "bad", shards: 1 });
    await expect(ledger.claim("../../x")).rejects.toThrow(/not a delivery id/);
    await expect(ledger.claim("")).rejects.toThrow(/not a delivery id/);
  });

  it("a claim whose write was applied but whose answer was lost is still this claimer's, and nobody else's", async () => {
    const flaky = await startFlakyApi(process.env.KUBECONFIG as string);
    try {
      const ledger = new DeliveryLedger(connect({ kubeconfigContent: flaky.kubeconfig }), { namespace: NS, name: "lost", shards: 1 });
      // The shard exists first, so the claim below is an update (PUT).
      expect(await ledger.claim(randomUUID())).toBe(true);
      const id = randomUUID();
      flaky.loseAnswerOf((method, path) => method === "PUT" && path.includes("/configmaps/lost-00"));
      await expect(ledger.claim(id)).rejects.toThrow();
      const stored = await kubectlJson<{ data: Record<string, string> }>(["get", "configmap", "lost-00", "-n", NS, "-o", "json"]);
      expect(stored.data[id], "the API server applied the write").toBeDefined();
      // The worker's retry: the id is there, with this ledger's tag, so it is this ledger's to run.
      expect(await ledger.claim(id)).toBe(true);
      // Anyone else (another replica, a restart) sees it taken.
      expect(await new DeliveryLedger(connect(), { namespace: NS, name: "lost", shards: 1 }).claim(id)).toBe(false);
      // And this ledger does not take it twice once it knows.
      expect(await ledger.claim(id)).toBe(false);
    } finally {
      await flaky.close();
    }
  });

  it("two workers given the same 120 deliveries run each exactly once between them, the waiting ones riding along in the writes", async () => {
    const deliveries = Array.from({ length: 120 }, (_, n): WorkItem<Delivery> => {
      const id = randomUUID();
      // 40 sandboxes, three comments each: nothing superseded, keys busy in turn.
      return { id, key: `pr:${n % 40}`, kind: "other", payload: { id, event: "issue_comment", payload: {}, repository: "acme/shop" } };
    });
    const runs = new Map<string, number>();
    const replica = () => {
      const ledger = new DeliveryLedger(connect(), { namespace: NS, name: "workers", shards: 4 });
      const metrics = new ControllerMetrics();
      const worker = new Worker({
        limit: 2,
        claims: ledger,
        metrics,
        logger: new MemoryLogger(),
        process: async (delivery) => {
          runs.set(delivery.id, (runs.get(delivery.id) ?? 0) + 1);
          return { result: "processed", operation: "test" };
        },
      });
      const counted = async (result: string) =>
        (await metrics.deliveries.get()).values.filter((v) => v.labels.result === result).reduce((sum, v) => sum + v.value, 0);
      return { ledger, worker, counted };
    };
    const a = replica();
    const b = replica();
    for (const item of deliveries) {
      a.worker.submit(structuredClone(item));
      b.worker.submit(structuredClone(item));
    }
    await Promise.all([a.worker.idle(), b.worker.idle()]);
    for (const item of deliveries) expect(runs.get(item.id), item.id).toBe(1);
    expect(runs.size).toBe(deliveries.length);
    // Claiming only what is about to run (2 at a time per replica) took 164 writes for this test; with the waiting
    // deliveries of the same shard riding along, 16 (claiming the next 16 whatever their shard: 44).
    const writes = a.ledger.writes + b.ledger.writes;
    expect(writes).toBeLessThan(deliveries.length);
    // Each replica counted what it ran as processed and the rest as duplicates.
    expect((await a.counted("processed")) + (await b.counted("processed"))).toBe(deliveries.length);
    expect((await a.counted("duplicate")) + (await b.counted("duplicate"))).toBe(deliveries.length);
  });
});
