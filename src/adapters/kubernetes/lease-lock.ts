// One operation per sandbox at a time, across every front door and machine:
// a coordination.k8s.io Lease in the sandbox's namespace. The holder renews
// it while working; a holder that died stops renewing and its lease expires,
// so a killed run never blocks the next one for longer than the lease.
import type { V1Lease } from "@kubernetes/client-node";
import { type KubeConnection, isConflict, isNotFound, withRetry } from "./client.js";

export const LOCK_NAME = "k8s-dev-sandbox-lock";

export interface LockOptions {
  /** How long a silent holder keeps the lock. */
  leaseSeconds?: number;
  /** How long to wait for another holder before giving up. */
  waitTimeoutMs?: number;
  /** Called while waiting, at most every 10 s, with the current holder. */
  onWait?: (holder: string, waitedMs: number) => void;
}

export class LockTimeoutError extends Error {
  constructor(
    readonly namespace: string,
    readonly holder: string,
  ) {
    super(`another operation (${holder}) holds the lock of ${namespace}`);
  }
}

export interface HeldLock {
  release(): Promise<void>;
}

export async function acquireLock(kube: KubeConnection, namespace: string, holder: string, options: LockOptions = {}): Promise<HeldLock> {
  const leaseSeconds = options.leaseSeconds ?? 45;
  const deadline = Date.now() + (options.waitTimeoutMs ?? 10 * 60_000);
  const started = Date.now();
  let lastReport = 0;
  const api = kube.coordination;

  for (;;) {
    let current: V1Lease | undefined;
    try {
      current = await withRetry(() => api.readNamespacedLease({ name: LOCK_NAME, namespace }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const now = new Date();
    const body: V1Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: LOCK_NAME, namespace, resourceVersion: current?.metadata?.resourceVersion },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: leaseSeconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (current?.spec?.leaseTransitions ?? 0) + (current ? 1 : 0),
      },
    };
    const otherHolder = current?.spec?.holderIdentity;
    const free = !current || !otherHolder || otherHolder === holder || isExpired(current, now);
    if (free) {
      try {
        const taken = current
          ? await api.replaceNamespacedLease({ name: LOCK_NAME, namespace, body })
          : await api.createNamespacedLease({ namespace, body });
        return startRenewing(kube, namespace, holder, taken, leaseSeconds);
      } catch (error) {
        // 409 on create (AlreadyExists) or replace (stale resourceVersion):
        // someone else won the race for the lease, so look again.
        if (!isConflict(error)) throw error;
      }
    } else {
      const waited = Date.now() - started;
      if (Date.now() > deadline) throw new LockTimeoutError(namespace, otherHolder ?? "unknown");
      if (waited - lastReport >= 10_000 || lastReport === 0) {
        lastReport = waited || 1;
        options.onWait?.(otherHolder ?? "unknown", waited);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/**
 * Lease times are MicroTime: the API server insists on six fractional digits,
 * but the client serializes a Date with three (toISOString) and is refused.
 * A string passes through its serializer untouched.
 */
function microTime(date: Date): Date {
  const text = new Date(date).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
  return text as unknown as Date;
}

function isExpired(lease: V1Lease, now: Date): boolean {
  const renew = lease.spec?.renewTime ?? lease.spec?.acquireTime;
  if (!renew) return true;
  const duration = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
  return new Date(renew).getTime() + duration < now.getTime();
}

function startRenewing(kube: KubeConnection, namespace: string, holder: string, lease: V1Lease, leaseSeconds: number): HeldLock {
  let latest = lease;
  let stopped = false;
  const renew = async () => {
    if (stopped) return;
    try {
      const body: V1Lease = {
        ...latest,
        spec: { ...latest.spec, renewTime: microTime(new Date()), acquireTime: microTime(latest.spec?.acquireTime ?? new Date()) },
      };
      latest = await kube.coordination.replaceNamespacedLease({ name: LOCK_NAME, namespace, body });
    } catch {
      // A missed renewal is retried on the next tick; the lease outlives two misses.
    }
  };
  const timer = setInterval(() => void renew(), (leaseSeconds * 1000) / 3);
  timer.unref();
  return {
    async release() {
      stopped = true;
      clearInterval(timer);
      // Delete the version we hold: one request, and a lease someone took
      // over after ours expired (a newer version) is never deleted.
      const remove = (resourceVersion: string | undefined) =>
        kube.coordination.deleteNamespacedLease({ name: LOCK_NAME, namespace, body: { preconditions: { resourceVersion } } });
      try {
        await remove(latest.metadata?.resourceVersion);
      } catch (error) {
        if (isNotFound(error)) return; // gone with its namespace (destroy)
        if (!isConflict(error)) throw error;
        // Changed since: a renewal still in flight, or a new holder. Ours only if it still names us.
        try {
          const current = await kube.coordination.readNamespacedLease({ name: LOCK_NAME, namespace });
          if (current.spec?.holderIdentity === holder) await remove(current.metadata?.resourceVersion);
        } catch (again) {
          if (!isNotFound(again) && !isConflict(again)) throw again;
        }
      }
    },
  };
}
