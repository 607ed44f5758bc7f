// The controller's work queue, pure: which acknowledged delivery runs next.
// Three rules (docs/controller.md): one operation per sandbox at a time in
// this process (the sandbox's Lease covers other processes), a newer deploy
// or destroy of a sandbox supersedes a deploy of it that is still waiting
// (its commit is no longer wanted), and at most `limit` operations at once.
// No I/O and no clock: the adapter (controller/worker.ts) drives it.

/** What an item does to its sandbox, as far as superseding is concerned. */
export type WorkKind = "deploy" | "destroy" | "other";

export interface WorkItem<T> {
  /** The delivery id. */
  id: string;
  /** The sandbox (or subject: a PR, a branch) the work is about; items of one key never run at once. */
  key: string;
  kind: WorkKind;
  payload: T;
}

export interface Enqueued<T> {
  /** Waiting items this one replaced: the caller records them as handled. */
  superseded: WorkItem<T>[];
}

export class WorkQueue<T> {
  private readonly waiting: WorkItem<T>[] = [];
  private readonly runningKeys = new Set<string>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`the concurrency limit must be a whole number of at least 1, not ${limit}`);
  }

  /**
   * Adds an item at the back. A deploy or destroy replaces every waiting
   * deploy of the same key: a deploy of an older commit would be stopped by
   * the head check anyway, and one before a destroy is wasted work. A running
   * item is never touched; the new one waits for it.
   */
  enqueue(item: WorkItem<T>): Enqueued<T> {
    const superseded: WorkItem<T>[] = [];
    if (item.kind !== "other") {
      for (let i = this.waiting.length - 1; i >= 0; i--) {
        const queued = this.waiting[i];
        if (queued && queued.key === item.key && queued.kind === "deploy") {
          superseded.unshift(queued);
          this.waiting.splice(i, 1);
        }
      }
    }
    this.waiting.push(item);
    return { superseded };
  }

  /**
   * The oldest waiting item whose key is not running, marked running; or
   * undefined when the limit is reached or every waiting key is busy.
   */
  take(): WorkItem<T> | undefined {
    if (this.runningKeys.size >= this.limit) return undefined;
    const index = this.waiting.findIndex((item) => !this.runningKeys.has(item.key));
    if (index < 0) return undefined;
    const [item] = this.waiting.splice(index, 1);
    if (item) this.runningKeys.add(item.key);
    return item;
  }

  /** The item finished (whatever its result): its key may run again. */
  done(item: WorkItem<T>): void {
    this.runningKeys.delete(item.key);
  }

  /** Whether an item of this key waits or runs (the reconcile does not queue a repair beside it). */
  busy(key: string): boolean {
    return this.runningKeys.has(key) || this.waiting.some((item) => item.key === key);
  }

  /** The first `count` waiting items in arrival order, left waiting (the worker claims them ahead in one ledger round). */
  upcoming(count: number): readonly WorkItem<T>[] {
    return this.waiting.slice(0, Math.max(0, count));
  }

  /** Items waiting to run. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Items running now. */
  get running(): number {
    return this.runningKeys.size;
  }
}
