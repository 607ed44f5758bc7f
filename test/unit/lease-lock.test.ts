// The sandbox lock against an in-memory Lease API that behaves like the API
// server's (resourceVersion preconditions, 404, 409): who may take it, and
// that a holder which can no longer renew is fenced before its lease runs out.
import { ApiException, type V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { KubeConnection } from "../../src/adapters/kubernetes/client.js";
import { acquireLock, holderIdentity, holderLabel, LOCK_NAME, LockLostError } from "../../src/adapters/kubernetes/lease-lock.js";

class FakeLeases {
  lease: V1Lease | undefined;
  version = 0;
  /** Errors the next replace calls throw, in turn. */
  replaceFailures: unknown[] = [];
  /** When set, every replace fails with this. */
  replaceBroken: unknown;
  replaces = 0;

  private stored(body: V1Lease): V1Lease {
    this.version++;
    this.lease = structuredClone({ ...body, metadata: { ...body.metadata, resourceVersion: String(this.version) } });
    return structuredClone(this.lease);
  }

  async readNamespacedLease(_: { name: string; namespace: string }): Promise<V1Lease> {
    if (!this.lease) throw new ApiException(404, "not found", "", {});
    return structuredClone(this.lease);
  }

  async createNamespacedLease({ body }: { namespace: string; body: V1Lease }): Promise<V1Lease> {
    if (this.lease) throw new ApiException(409, "already exists", "", {});
    return this.stored(body);
  }

  async replaceNamespacedLease({ body }: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease> {
    this.replaces++;
    const failure = this.replaceFailures.shift() ?? this.replaceBroken;
    if (failure) throw failure;
    if (!this.lease) throw new ApiException(404, "not found", "", {});
    if (body.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion) throw new ApiException(409, "conflict", "", {});
    return this.stored(body);
  }

  async deleteNamespacedLease({ body }: { name: string; namespace: string; body: { preconditions: { resourceVersion?: string } } }) {
    if (!this.lease) throw new ApiException(404, "not found", "", {});
    if (body.preconditions.resourceVersion !== this.lease.metadata?.resourceVersion) throw new ApiException(409, "conflict", "", {});
    this.lease = undefined;
  }

  /** Another holder writes the lease, as a run that found ours expired would. */
  takeOver(holder: string): void {
    if (!this.lease) throw new Error("no lease");
    this.stored({ ...this.lease, spec: { ...this.lease.spec, holderIdentity: holder } });
  }
}

const kubeWith = (leases: FakeLeases) => ({ coordination: leases }) as unknown as KubeConnection;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const unreachable = () => Object.assign(new TypeError("fetch failed"), { cause: new Error("connect ECONNREFUSED 127.0.0.1:6443") });

/** Resolves with the lock's abort reason, or undefined if it is still held after `ms`. */
async function lostWithin(signal: AbortSignal, ms: number): Promise<unknown> {
  if (signal.aborted) return signal.reason;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(signal.reason);
    });
  });
}

describe("holder identity", () => {
  it("is unique per acquisition, and its label is what messages show", () => {
    const a = holderIdentity("github-actions acme/shop run 7/1 job preview");
    const b = holderIdentity("github-actions acme/shop run 7/1 job preview");
    expect(a).not.toBe(b);
    expect(holderLabel(a)).toBe("github-actions acme/shop run 7/1 job preview");
    expect(holderLabel(undefined)).toBe("unknown");
  });
});

describe("acquireLock", () => {
  it("takes a free lock, renews it, and deletes it on release", async () => {
    const leases = new FakeLeases();
    const lock = await acquireLock(kubeWith(leases), "ns", "run A", { leaseSeconds: 0.3 });
    expect(leases.lease?.metadata?.name).toBe(LOCK_NAME);
    expect(holderLabel(leases.lease?.spec?.holderIdentity)).toBe("run A");
    await sleep(350);
    expect(leases.replaces).toBeGreaterThanOrEqual(2);
    expect(lock.signal.aborted).toBe(false);
    expect(() => lock.check()).not.toThrow();
    await lock.release();
    expect(leases.lease).toBeUndefined();
  });

  it("does not share the lock between two holders with the same label", async () => {
    const leases = new FakeLeases();
    const first = await acquireLock(kubeWith(leases), "ns", "same label", { leaseSeconds: 30 });
    const waits: string[] = [];
    const second = acquireLock(kubeWith(leases), "ns", "same label", {
      leaseSeconds: 30,
      waitTimeoutMs: 1_500,
      onWait: (holder) => waits.push(holder),
    });
    await expect(second).rejects.toThrow(/another operation \(same label\) holds the lock of ns/);
    expect(waits).toEqual(["same label"]);
    await first.release();
  });

  it("keeps the lock through a few failed renewals", async () => {
    const leases = new FakeLeases();
    // A 6 s lease: renewals every 2 s, a retry 1 s after a failure, fenced
    // after 4 s without one. The second failure (at 3 s) has a second to
    // spare before the fence; with a 0.6 s lease it had 100 ms, and a CI
    // wave's load once delayed the retry past it.
    const lock = await acquireLock(kubeWith(leases), "ns", "run A", { leaseSeconds: 6 });
    leases.replaceFailures = [unreachable(), new ApiException(503, "unavailable", "", {})];
    // Past the two failures and the renewal that succeeds (at 4 s).
    expect(await lostWithin(lock.signal, 4_800)).toBeUndefined();
    // Both failures were met, and the renewal after them went through.
    expect(leases.replaceFailures).toEqual([]);
    expect(leases.replaces).toBeGreaterThanOrEqual(3);
    expect(leases.version).toBeGreaterThanOrEqual(2);
    await lock.release();
  });

  it("is fenced when it cannot renew for two thirds of the lease, before the lease runs out", async () => {
    const leases = new FakeLeases();
    const lost: LockLostError[] = [];
    // 3 s: fenced after 2 s without a renewal, a second before the lease runs out.
    const lock = await acquireLock(kubeWith(leases), "ns", "run A", { leaseSeconds: 3, onLost: (e) => lost.push(e) });
    const renewed = Date.now();
    leases.replaceBroken = unreachable();
    const reason = await lostWithin(lock.signal, 5_000);
    expect(reason).toBeInstanceOf(LockLostError);
    expect(Date.now() - renewed).toBeLessThan(3_000);
    expect(String((reason as Error).message)).toMatch(
      /lost the lock of ns: could not renew it for \d+s \(\d+ attempts; last: .*ECONNREFUSED/,
    );
    expect(() => lock.check()).toThrow(LockLostError);
    expect(lost).toHaveLength(1);
    // Releasing a lost lock touches nothing: the lease may be someone else's by now.
    leases.replaceBroken = undefined;
    leases.takeOver("run B [00000000]");
    await lock.release();
    expect(holderLabel(leases.lease?.spec?.holderIdentity)).toBe("run B");
  });

  it("is fenced at once when another holder took the lease over", async () => {
    const leases = new FakeLeases();
    const lock = await acquireLock(kubeWith(leases), "ns", "run A", { leaseSeconds: 0.9 });
    leases.takeOver("run B [0badc0de]");
    // Waits at most this long, returns at the fence: room for a loaded machine.
    const reason = await lostWithin(lock.signal, 5_000);
    expect((reason as Error).message).toMatch(/lost the lock of ns: run B took it over/);
  });

  it("is fenced when its lease is deleted", async () => {
    const leases = new FakeLeases();
    const lock = await acquireLock(kubeWith(leases), "ns", "run A", { leaseSeconds: 0.6 });
    leases.lease = undefined;
    const reason = await lostWithin(lock.signal, 5_000);
    expect((reason as Error).message).toMatch(/its lease was deleted/);
  });

  it("keeps the lock when a renewal of its own went through but its answer was lost", async () => {
    const leases = new FakeLeases();
    const lock = await acquireLock(kubeWith(leases), "ns", "run A", { leaseSeconds: 0.6 });
    // The server stored a renewal the client never heard of: the next one meets a newer version.
    const holder = leases.lease?.spec?.holderIdentity as string;
    leases.takeOver(holder);
    expect(await lostWithin(lock.signal, 700)).toBeUndefined();
    await lock.release();
    expect(leases.lease).toBeUndefined();
  });

  it("takes over an expired lease of a holder that died", async () => {
    const leases = new FakeLeases();
    const old = new Date(Date.now() - 60_000).toISOString();
    leases.lease = {
      metadata: { name: LOCK_NAME, namespace: "ns", resourceVersion: "1" },
      spec: { holderIdentity: "killed run [12345678]", leaseDurationSeconds: 1, renewTime: old as unknown as Date },
    };
    const lock = await acquireLock(kubeWith(leases), "ns", "run A", { leaseSeconds: 30, waitTimeoutMs: 100 });
    expect(holderLabel(leases.lease?.spec?.holderIdentity)).toBe("run A");
    expect(leases.lease?.spec?.leaseTransitions).toBe(1);
    await lock.release();
  });
});
