// One operation per sandbox at a time, across every front door and machine:
// a coordination.k8s.io Lease in the sandbox's namespace. The holder renews
// it while working; a holder that died stops renewing and its lease expires,
// so a killed run never blocks the next one for longer than the lease.
//
// A holder that cannot renew (API server unreachable, the lease taken over)
// must stop before someone else may take the lease, or two runs would drive
// Helm at once: the held lock carries an AbortSignal that fires when renewal
// has failed for two thirds of the lease, or at once when another holder
// shows up. Operations pass it to Helm and to their waits.
import { randomBytes } from "node:crypto";
import type { V1Lease } from "@kubernetes/client-node";
import { describeKubeError, isConflict, isNotFound, type KubeConnection, withRetry } from "./client.js";

export const LOCK_NAME = "k8s-dev-sandbox-lock";

export interface LockOptions {
  /** The Lease's name; default k8s-dev-sandbox-lock (a sandbox's lock). The controller's leadership uses its own. */
  name?: string;
  /** How long a silent holder keeps the lock. */
  leaseSeconds?: number;
  /** How long to wait for another holder before giving up. */
  waitTimeoutMs?: number;
  /** Called while waiting, at most every 10 s, with the current holder. */
  onWait?: (holder: string, waitedMs: number) => void;
  /** Called once when the lock is lost, with why. */
  onLost?: (error: LockLostError) => void;
}

export class LockTimeoutError extends Error {
  constructor(
    readonly namespace: string,
    readonly holder: string,
  ) {
    super(`another operation (${holder}) holds the lock of ${namespace}`);
    this.name = "LockTimeoutError";
  }
}

/** The lock was lost while the operation ran: it must stop, someone else may be working. */
export class LockLostError extends Error {
  constructor(
    readonly namespace: string,
    readonly reason: string,
  ) {
    super(`lost the lock of ${namespace}: ${reason}; stopped so that two runs never change the sandbox at once`);
    this.name = "LockLostError";
  }
}

export interface HeldLock {
  /** Aborted (with a LockLostError as its reason) when the lock is lost. */
  readonly signal: AbortSignal;
  /** Throws the LockLostError when the lock was lost. */
  check(): void;
  release(): Promise<void>;
}

/**
 * The identity written into the lease: the caller's label plus a token of
 * this acquisition. Two processes given the same label (two jobs of one
 * workflow run, two terminals of one user) must never both count as the holder.
 */
export function holderIdentity(label: string, token = randomBytes(4).toString("hex")): string {
  return `${label} [${token}]`;
}

/** The label part of a lease's holder identity, for messages. */
export function holderLabel(identity: string | undefined): string {
  return (identity ?? "unknown").replace(/ \[[0-9a-f]+\]$/, "");
}

export async function acquireLock(kube: KubeConnection, namespace: string, holder: string, options: LockOptions = {}): Promise<HeldLock> {
  const leaseSeconds = options.leaseSeconds ?? 45;
  const deadline = Date.now() + (options.waitTimeoutMs ?? 10 * 60_000);
  const started = Date.now();
  const identity = holderIdentity(holder);
  let lastReport = 0;
  const api = kube.coordination;
  const leaseName = options.name ?? LOCK_NAME;

  for (;;) {
    let current: V1Lease | undefined;
    try {
      current = await withRetry(() => api.readNamespacedLease({ name: leaseName, namespace }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const now = new Date();
    const body: V1Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: leaseName, namespace, resourceVersion: current?.metadata?.resourceVersion },
      spec: {
        holderIdentity: identity,
        // An integer on the wire; tests use fractions of a second with fakes.
        leaseDurationSeconds: Math.max(1, Math.round(leaseSeconds)),
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (current?.spec?.leaseTransitions ?? 0) + (current ? 1 : 0),
      },
    };
    const otherHolder = current?.spec?.holderIdentity;
    const free = !current || !otherHolder || otherHolder === identity || isExpired(current, now);
    if (free) {
      try {
        const taken = current
          ? await api.replaceNamespacedLease({ name: leaseName, namespace, body })
          : await api.createNamespacedLease({ namespace, body });
        return startRenewing(kube, namespace, identity, taken, leaseSeconds, options.onLost);
      } catch (error) {
        // 409 on create (AlreadyExists) or replace (stale resourceVersion):
        // someone else won the race for the lease, so look again.
        if (!isConflict(error)) throw error;
      }
    } else {
      const waited = Date.now() - started;
      if (Date.now() > deadline) throw new LockTimeoutError(namespace, holderLabel(otherHolder));
      if (waited - lastReport >= 10_000 || lastReport === 0) {
        lastReport = waited || 1;
        options.onWait?.(holderLabel(otherHolder), waited);
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

function startRenewing(
  kube: KubeConnection,
  namespace: string,
  identity: string,
  lease: V1Lease,
  leaseSeconds: number,
  onLost?: (error: LockLostError) => void,
): HeldLock {
  const api = kube.coordination;
  const leaseName = lease.metadata?.name ?? LOCK_NAME;
  const leaseMs = leaseSeconds * 1000;
  // Renew three times per lease; after a failure try again soon, but give up
  // (and fence) once two thirds of the lease passed without a renewal, which
  // leaves the last third for Helm to stop before anyone may take over.
  const intervalMs = leaseMs / 3;
  const retryMs = Math.min(1_000, intervalMs / 2);
  const giveUpAfterMs = (leaseMs * 2) / 3;
  const controller = new AbortController();
  let latest = lease;
  let lastRenewed = Date.now();
  let attempts = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const lose = (reason: string) => {
    if (controller.signal.aborted) return;
    stopped = true;
    const error = new LockLostError(namespace, reason);
    controller.abort(error);
    onLost?.(error);
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void renew(), ms);
    timer.unref();
  };
  const renew = async () => {
    if (stopped) return;
    try {
      const body: V1Lease = {
        ...latest,
        spec: { ...latest.spec, renewTime: microTime(new Date()), acquireTime: microTime(latest.spec?.acquireTime ?? new Date()) },
      };
      latest = await api.replaceNamespacedLease({ name: leaseName, namespace, body });
      lastRenewed = Date.now();
      attempts = 0;
      schedule(intervalMs);
      return;
    } catch (error) {
      if (stopped) return;
      let failure = error;
      if (isNotFound(error)) return lose("its lease was deleted");
      if (isConflict(error)) {
        // Changed since our last renewal: a renewal of ours whose answer was
        // lost, or a new holder after our lease ran out. Ours only if it still names us.
        try {
          const current = await api.readNamespacedLease({ name: leaseName, namespace });
          if (current.spec?.holderIdentity !== identity) return lose(`${holderLabel(current.spec?.holderIdentity)} took it over`);
          latest = current;
          return schedule(0);
        } catch (again) {
          if (isNotFound(again)) return lose("its lease was deleted");
          failure = again;
        }
      }
      attempts++;
      const silentMs = Date.now() - lastRenewed;
      if (silentMs >= giveUpAfterMs) {
        return lose(`could not renew it for ${Math.round(silentMs / 1000)}s (${attempts} attempts; last: ${describeKubeError(failure)})`);
      }
      schedule(retryMs);
    }
  };
  schedule(intervalMs);

  return {
    signal: controller.signal,
    check() {
      if (controller.signal.aborted) throw controller.signal.reason;
    },
    async release() {
      const lost = controller.signal.aborted;
      stopped = true;
      clearTimeout(timer);
      if (lost) return; // not ours any more: whatever is there belongs to someone else
      // Delete the version we hold: one request, and a lease someone took
      // over after ours expired (a newer version) is never deleted.
      const remove = (resourceVersion: string | undefined) =>
        api.deleteNamespacedLease({ name: leaseName, namespace, body: { preconditions: { resourceVersion } } });
      try {
        await remove(latest.metadata?.resourceVersion);
      } catch (error) {
        if (isNotFound(error)) return; // gone with its namespace (destroy)
        if (!isConflict(error)) throw error;
        // Changed since: a renewal still in flight, or a new holder. Ours only if it still names us.
        try {
          const current = await api.readNamespacedLease({ name: leaseName, namespace });
          if (current.spec?.holderIdentity === identity) await remove(current.metadata?.resourceVersion);
        } catch (again) {
          if (!isNotFound(again) && !isConflict(again)) throw again;
        }
      }
    },
  };
}
