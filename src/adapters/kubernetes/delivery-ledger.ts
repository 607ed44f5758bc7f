// Which webhook deliveries were already taken, kept in Kubernetes so that a
// redelivery is handled once across restarts and replicas (docs/controller.md,
// "Never twice"). A delivery id is claimed by writing it into one of a few
// ConfigMaps (a shard chosen by the id's hash), with the ConfigMap's
// resourceVersion as the compare-and-swap: of two writers that both read the
// shard without the id, one update wins and the other gets 409, reads again
// and finds the id there. Claims that arrive together are written together
// (one update per shard per round), so 10,000 deliveries cost a few hundred
// writes, and none of them on the acknowledgement path: the worker claims a
// delivery just before it runs it.
//
// Each entry is `<unix seconds> <claimer>`, the claimer being a random tag of
// this ledger object (one per process). It settles one case: an update the
// API server applied but whose answer never came back (the connection cut
// mid-request). The caller retries; the id is then found in the shard, and
// without the tag that retry would call the delivery a duplicate and nobody
// would run it. An id whose write is in doubt and that carries our own tag
// is ours.
import { createHash, randomBytes } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { isConflict, isNotFound, type KubeConnection, withRetry } from "./client.js";

export interface LedgerOptions {
  /** The controller's own namespace. */
  namespace: string;
  /** ConfigMaps named `<name>-<nn>`; default k8s-sandbox-deliveries. */
  name?: string;
  /** How many ConfigMaps share the ids (spreads write conflicts and the 1 MiB limit); default 16. */
  shards?: number;
  /** Ids older than this are forgotten; default 7 days (GitHub redelivers for 3). */
  retainMs?: number;
  now?: () => Date;
}

/** ConfigMaps are limited to 1 MiB; beyond this the oldest ids go first. */
const MAX_SHARD_BYTES = 900_000;
const DELIVERY_ID = /^[A-Za-z0-9-]{1,64}$/;

interface Waiter {
  resolve: (first: boolean) => void;
  reject: (error: unknown) => void;
}

interface Shard {
  name: string;
  pending: Map<string, Waiter[]>;
  flushing: boolean;
}

export class DeliveryLedger {
  private readonly shards: Shard[];
  private readonly retainMs: number;
  private readonly now: () => Date;
  /** Kubernetes writes made, for the metrics and the bench. */
  writes = 0;
  /** Tags this object's entries (see the top of the file). */
  private readonly claimer = randomBytes(6).toString("hex");
  /** Ids this object sent in a write whose outcome it never learned. */
  private readonly inDoubt = new Set<string>();

  constructor(
    private readonly kube: KubeConnection,
    private readonly options: LedgerOptions,
  ) {
    const count = options.shards ?? 16;
    const base = options.name ?? "k8s-sandbox-deliveries";
    this.shards = Array.from({ length: count }, (_, n) => ({
      name: `${base}-${String(n).padStart(2, "0")}`,
      pending: new Map(),
      flushing: false,
    }));
    this.retainMs = options.retainMs ?? 7 * 24 * 3600_000;
    this.now = options.now ?? (() => new Date());
  }

  /** Whether a string may be a delivery id (GitHub's are UUIDs); anything else is refused before it gets here. */
  static isDeliveryId(id: string): boolean {
    return DELIVERY_ID.test(id);
  }

  /**
   * Records the delivery as taken. Resolves true for the first claim of the
   * id anywhere (this caller does the work), false when it was recorded
   * before (a redelivery, or another replica took it).
   */
  claim(id: string): Promise<boolean> {
    if (!DeliveryLedger.isDeliveryId(id)) return Promise.reject(new Error(`${JSON.stringify(id.slice(0, 80))} is not a delivery id`));
    const shard = this.shardOf(id);
    return new Promise<boolean>((resolve, reject) => {
      const waiters = shard.pending.get(id);
      if (waiters) waiters.push({ resolve, reject });
      else shard.pending.set(id, [{ resolve, reject }]);
      if (!shard.flushing) void this.flush(shard);
    });
  }

  /**
   * Which write an id's claim goes into: claims of ids with the same round,
   * made in the same tick, cost one read and one update together (the
   * worker lets waiting deliveries ride along this way).
   */
  roundOf(id: string): number {
    return createHash("sha256").update(id).digest().readUInt32BE(0) % this.shards.length;
  }

  private shardOf(id: string): Shard {
    return this.shards[this.roundOf(id)] as Shard;
  }

  /** Writes what is pending in rounds until nothing is; claims made during a round go into the next. */
  private async flush(shard: Shard): Promise<void> {
    shard.flushing = true;
    // Let the claims of the same tick join this round.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (shard.pending.size > 0) {
        const batch = shard.pending;
        shard.pending = new Map();
        try {
          const firsts = await this.write(shard.name, [...batch.keys()]);
          for (const [id, waiters] of batch) {
            // Two claims of one id in one round: only the first does the work.
            waiters.forEach((w, index) => {
              w.resolve(index === 0 && firsts.has(id));
            });
          }
        } catch (error) {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
        }
      }
    } finally {
      shard.flushing = false;
    }
  }

  /** Adds the ids to the shard; returns those that were not there before. */
  private async write(name: string, ids: string[]): Promise<Set<string>> {
    const { namespace } = this.options;
    for (let attempt = 1; ; attempt++) {
      const current = await withRetry(() => this.kube.core.readNamespacedConfigMap({ name, namespace })).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      const data: Record<string, string> = { ...(current?.data ?? {}) };
      const now = this.now().getTime();
      const firsts = new Set<string>();
      const mine = new Set<string>();
      for (const id of ids) {
        const entry = data[id];
        if (entry !== undefined) {
          // Our own write of it went through after all, though its answer was lost.
          if (this.inDoubt.has(id) && entry.split(" ")[1] === this.claimer) mine.add(id);
          continue;
        }
        data[id] = `${Math.floor(now / 1000)} ${this.claimer}`;
        firsts.add(id);
      }
      if (firsts.size === 0) return this.settled(ids, mine);
      const body: V1ConfigMap = {
        metadata: {
          name,
          namespace,
          labels: { "app.kubernetes.io/managed-by": "k8s-dev-sandbox", "app.kubernetes.io/component": "delivery-ledger" },
          ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
        },
        data: this.pruned(data, now),
      };
      try {
        this.writes++;
        if (current) await this.kube.core.replaceNamespacedConfigMap({ name, namespace, body });
        else await this.kube.core.createNamespacedConfigMap({ namespace, body });
        return this.settled(ids, new Set([...firsts, ...mine]));
      } catch (error) {
        // Another writer got there first (409 on replace, AlreadyExists on create): read again and retry.
        if (isConflict(error) && attempt < 20) continue;
        // Anything else may have been applied before the answer was lost: the next claim of these ids looks for our tag.
        if (!isConflict(error)) for (const id of firsts) this.inDoubt.add(id);
        throw error;
      }
    }
  }

  /** The ids' outcome is known now: none of them is in doubt any more. */
  private settled(ids: string[], firsts: Set<string>): Set<string> {
    for (const id of ids) this.inDoubt.delete(id);
    return firsts;
  }

  /** Drops ids past retention, then the oldest while the shard is too big. */
  private pruned(data: Record<string, string>, nowMs: number): Record<string, string> {
    const cutoff = Math.floor((nowMs - this.retainMs) / 1000);
    const seconds = (entry: string) => Number(entry.split(" ")[0]);
    let entries = Object.entries(data).filter(([, entry]) => seconds(entry) >= cutoff);
    let size = entries.reduce((sum, [id, at]) => sum + id.length + at.length + 8, 0);
    if (size > MAX_SHARD_BYTES) {
      entries = entries.sort((a, b) => seconds(a[1]) - seconds(b[1]));
      while (size > MAX_SHARD_BYTES && entries.length > 0) {
        const [id, at] = entries.shift() as [string, string];
        size -= id.length + at.length + 8;
      }
    }
    return Object.fromEntries(entries);
  }
}
