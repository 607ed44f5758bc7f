// Watches what decides a sandbox's readiness (its pods, Deployments and
// StatefulSets) so the wait looks again when something changed, not on a
// timer: readiness is seen a few milliseconds after the kubelet reports it,
// and a quiet namespace costs no requests. A watch that breaks (timeout, API
// server restart, a proxy in between) is restarted; while any of them is
// down the waiter falls back to polling, so a lost watch never stalls a wait.
import { Watch } from "@kubernetes/client-node";
import type { KubeConnection } from "./client.js";

const RESTART_DELAY_MS = 1_000;

export interface ListVersions {
  pods?: string;
  deployments?: string;
  statefulSets?: string;
}

export class NamespaceChanges {
  /** Counts change events; a waiter compares it with what it saw before looking. */
  private changes = 0;
  private connected = new Set<string>();
  private readonly paths: string[];
  private readonly from: Map<string, string | undefined>;
  private readonly controllers = new Map<string, AbortController>();
  private readonly wakers = new Set<() => void>();
  private closed = false;

  /**
   * `from` holds the resourceVersions of the lists the caller just looked at:
   * the watches start there, so they report exactly what changed since, with
   * nothing missed in between (the usual list-then-watch).
   */
  constructor(
    private readonly kube: KubeConnection,
    namespace: string,
    from: ListVersions = {},
  ) {
    const ns = encodeURIComponent(namespace);
    this.from = new Map([
      [`/api/v1/namespaces/${ns}/pods`, from.pods],
      [`/apis/apps/v1/namespaces/${ns}/deployments`, from.deployments],
      [`/apis/apps/v1/namespaces/${ns}/statefulsets`, from.statefulSets],
    ]);
    this.paths = [...this.from.keys()];
    for (const path of this.paths) void this.keepWatching(path);
  }

  /** The number of changes seen so far. */
  get seen(): number {
    return this.changes;
  }

  /** Whether every watch is connected, i.e. no change can go unnoticed. */
  get complete(): boolean {
    return this.connected.size === this.paths.length;
  }

  /**
   * Resolves when a change newer than `since` arrives, or after `maxMs`.
   * Bursts (a rollout changes a pod several times in a few milliseconds)
   * are gathered for `settleMs` so they cost one look, not ten.
   */
  async next(since: number, maxMs: number, settleMs = 25): Promise<void> {
    if (this.changes === since) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, maxMs);
        this.wakers.add(done);
      });
    }
    if (this.changes !== since && settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  }

  close(): void {
    this.closed = true;
    for (const controller of this.controllers.values()) controller.abort();
    for (const wake of [...this.wakers]) wake();
  }

  private changed(): void {
    this.changes += 1;
    for (const wake of [...this.wakers]) wake();
  }

  private async keepWatching(path: string): Promise<void> {
    while (!this.closed) {
      let over = false;
      const ended = new Promise<void>((resolve) => {
        new Watch(this.kube.config)
          .watch(
            path,
            // Restarted without a resourceVersion (it may have expired), a
            // watch begins with ADDED for every object present: harmless,
            // one extra look.
            { allowWatchBookmarks: true, resourceVersion: this.from.get(path) },
            (type) => {
              if (type !== "BOOKMARK") this.changed();
            },
            () => {
              over = true;
              resolve();
            },
          )
          .then((controller) => {
            // watch() returns once the API server has answered 200 and the
            // stream is read, or after it has already called done.
            this.controllers.set(path, controller);
            if (!over) this.connected.add(path);
            if (this.closed) controller.abort();
          })
          .catch(() => resolve());
      });
      await ended;
      this.connected.delete(path);
      this.controllers.delete(path);
      this.from.set(path, undefined);
      if (this.closed) return;
      // Something may have changed while it was down.
      this.changed();
      await new Promise((r) => setTimeout(r, RESTART_DELAY_MS));
    }
  }
}
