// The delivery ledger on the ground's API server: two replicas claiming the
// same deliveries at once each get every id exactly once between them, a new
// process (a restart) sees them all as taken, claims made together cost a
// handful of writes, and old ids are forgotten after the retention.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../src/adapters/kubernetes/client.js";
import { DeliveryLedger } from "../../src/adapters/kubernetes/delivery-ledger.js";
import { kubectl, kubectlJson, uniqueName } from "../support/cluster.js";

const NS = uniqueName("ctl-ledger");

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
});
