// Runs acknowledged deliveries from the queue (domain/work-queue.ts): claims
// each in the delivery ledger before running it (a claim already made, by
// this process before a restart or by another replica, makes it a
// duplicate), runs it, and counts its final result. A claim that has to be
// made takes along the claims of waiting deliveries that go into the same
// ledger write (the same shard): they ride in the read and update made
// anyway, so they cost no request of their own, and run later without one. While Kubernetes cannot be reached the
// claim is retried with backoff and the work waits: nothing acknowledged is
// dropped.
import type { Logger } from "../adapters/logger.js";
import { type WorkItem, WorkQueue } from "../domain/work-queue.js";
import type { ControllerMetrics, DeliveryResult } from "./metrics.js";

export interface Delivery {
  id: string;
  /** The event name as GitHub sent it (for metrics and logs). */
  event: string;
  payload: unknown;
  repository: string;
  /**
   * Made by the reconcile, not sent by GitHub: no ledger claim (its id is
   * new each period, and the operations are idempotent), and no build is
   * started for it (process.ts).
   */
  synthetic?: boolean;
}

export interface Claims {
  claim(id: string): Promise<boolean>;
  /** Claims of ids with the same round, made in the same tick, are written together (DeliveryLedger.roundOf). */
  roundOf?(id: string): number;
}

/** Runs one delivery's operation; resolves with its final result (never a duplicate). */
export type Processor = (delivery: Delivery) => Promise<{ result: Exclude<DeliveryResult, "duplicate">; operation: string }>;

export interface WorkerOptions {
  limit: number;
  claims: Claims;
  process: Processor;
  metrics: ControllerMetrics;
  logger: Logger;
  /** Longest wait between claim attempts while Kubernetes is unreachable; default 5 s. */
  maxBackoffMs?: number;
  /**
   * How many waiting deliveries (the oldest) are looked at for claims that
   * can ride along in a ledger write made anyway (default 64; 0: none).
   * More means fewer ledger writes when work backs up, and more deliveries
   * claimed but not yet run when the process dies (left to the reconcile,
   * docs/controller.md).
   */
  claimAhead?: number;
}

export class Worker {
  private readonly queue: WorkQueue<Delivery>;
  private readonly inFlight = new Set<Promise<void>>();
  /** Ledger claims started for items not yet finished, by delivery id; a failed claim is removed and made again. */
  private readonly claims = new Map<string, Promise<boolean>>();
  private stopping = false;

  constructor(private readonly options: WorkerOptions) {
    this.queue = new WorkQueue(options.limit);
  }

  get depth(): number {
    return this.queue.depth;
  }

  get running(): number {
    return this.queue.running;
  }

  /** Whether work for this sandbox (queue key) waits or runs. */
  busy(key: string): boolean {
    return this.queue.busy(key);
  }

  /** Queues an acknowledged delivery; synchronous, so the acknowledgement follows a queued item. */
  submit(item: WorkItem<Delivery>): void {
    const { superseded } = this.queue.enqueue(item);
    for (const old of superseded) {
      // Not claimed: a redelivery of it would deploy a commit that is no
      // longer the head, which the head check under the Lease stops.
      this.options.logger.info(`delivery ${old.id} superseded by ${item.id} (${item.key}): only the newest is deployed`);
      this.options.metrics.count(eventOf(old.payload), "ignored");
      // If it was claimed ahead, the claim stays in the ledger: a redelivery of it is a duplicate, which is what superseded means.
      this.claims.delete(old.id);
    }
    this.pump();
  }

  /** Resolves once nothing is queued or running (tests, shutdown, the bench). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || (this.queue.depth > 0 && !this.stopping)) {
      await Promise.race([...this.inFlight, new Promise((resolve) => setTimeout(resolve, 50))]);
    }
  }

  /** Stops taking new work; running operations finish. What is still queued is left to the reconcile. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    this.updateGauges();
    if (this.stopping) return;
    const taken: WorkItem<Delivery>[] = [];
    for (let item = this.queue.take(); item; item = this.queue.take()) taken.push(item);
    if (taken.some((item) => this.needsClaim(item))) this.claimRound(taken);
    for (const item of taken) {
      const run = this.run(item).finally(() => {
        this.inFlight.delete(run);
        this.claims.delete(item.id);
        this.queue.done(item);
        this.pump();
      });
      this.inFlight.add(run);
    }
    this.updateGauges();
  }

  private needsClaim(item: WorkItem<Delivery>): boolean {
    return !item.payload.synthetic && !this.claims.has(item.id);
  }

  /**
   * Starts the claims of these items, and in the same tick those of waiting
   * items whose claim goes into the same ledger write: one read and one
   * update per shard for all of them. Waiting items in other shards are
   * left alone: claiming them now would cost writes of their own, some for
   * deliveries a newer one supersedes before they run (the bench: more
   * writes and a slower event loop, docs/benchmarks.md).
   */
  private claimRound(items: readonly WorkItem<Delivery>[]): void {
    const { claims } = this.options;
    const needed = items.filter((item) => this.needsClaim(item));
    const rounds = new Set(claims.roundOf ? needed.map((item) => claims.roundOf?.(item.id)) : []);
    const riders = this.queue
      .upcoming(this.options.claimAhead ?? 64)
      .filter((item) => this.needsClaim(item) && rounds.has(claims.roundOf?.(item.id)));
    for (const item of [...needed, ...riders]) {
      if (!this.needsClaim(item)) continue;
      const claim = claims.claim(item.id);
      this.claims.set(item.id, claim);
      // A failed claim is made again when its item runs (run() waits and retries); not an unhandled rejection meanwhile.
      claim.catch(() => {
        if (this.claims.get(item.id) === claim) this.claims.delete(item.id);
      });
    }
  }

  private updateGauges(): void {
    this.options.metrics.queueDepth.set(this.queue.depth);
    this.options.metrics.running.set(this.queue.running);
  }

  private async run(item: WorkItem<Delivery>): Promise<void> {
    const { metrics, logger } = this.options;
    const delivery = item.payload;
    const first = delivery.synthetic ? true : await this.claim(item);
    if (first === undefined) return;
    if (!first) {
      logger.info(`delivery ${item.id} was already taken (a redelivery, or another replica): not run again`);
      metrics.count(eventOf(delivery), "duplicate");
      return;
    }
    const started = performance.now();
    let result: DeliveryResult = "failed";
    let operation = "unknown";
    try {
      ({ result, operation } = await this.options.process(delivery));
    } catch (error) {
      logger.error(`delivery ${item.id} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    metrics.operationSeconds.observe({ operation, result }, (performance.now() - started) / 1000);
    metrics.count(eventOf(delivery), result);
  }

  /** The ledger's verdict; retried while Kubernetes is unreachable. undefined: stopping before it could be claimed. */
  private async claim(item: WorkItem<Delivery>): Promise<boolean | undefined> {
    const { id } = item;
    const max = this.options.maxBackoffMs ?? 5_000;
    for (let attempt = 0; ; attempt++) {
      // One claim of an id at a time: a second, made while the first is still out, would find the first's entry and say duplicate.
      if (!this.claims.has(id)) this.claimRound([item]);
      const pending = this.claims.get(id) as Promise<boolean>;
      try {
        return await pending;
      } catch (error) {
        if (this.claims.get(id) === pending) this.claims.delete(id);
        if (this.stopping) return undefined;
        const wait = Math.min(250 * 2 ** attempt, max);
        this.options.logger.warn(
          `delivery ${id} waits: the delivery ledger could not be written (${error instanceof Error ? error.message : String(error)}); retrying in ${wait} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }
}

/** Work the reconcile made is counted as such, not as the event it imitates. */
function eventOf(delivery: Delivery): string {
  return delivery.synthetic ? "reconcile" : delivery.event;
}
