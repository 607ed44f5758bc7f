// Level-triggered repair on one replica at a time: the replica holding the
// Lease `k8s-sandbox-controller-leader` (in the controller's namespace)
// compares, on start and every period, the open pull requests and branch
// heads of each opted-in repository with its sandboxes (domain/reconcile.ts)
// and queues what differs as events for the shared handler: a deploy as the
// pull_request or push GitHub would have sent, removal as the scheduled
// sweep. A delivery lost while the controller was down, or acknowledged by a
// replica that crashed, is so repaired within one period.
import { randomUUID } from "node:crypto";
import type { KubeConnection } from "../adapters/kubernetes/client.js";
import { acquireLock, type HeldLock, LockTimeoutError } from "../adapters/kubernetes/lease-lock.js";
import { workSubject } from "../domain/delivery.js";
import { readPullRequest } from "../domain/payload.js";
import { planEvent } from "../domain/plan.js";
import { type ReconcileAction, reconcileActions } from "../domain/reconcile.js";
import type { Engine } from "../operations/engine.js";
import { identityFor, ownSandboxes } from "../operations/namespace.js";
import type { GitHubAccess } from "./github-access.js";
import type { JsonLogger } from "./logger.js";
import type { RepositoryConfig } from "./repositories.js";
import type { Delivery } from "./worker.js";

export const LEADER_LEASE = "k8s-sandbox-controller-leader";

export interface ReconcilerOptions {
  connection: () => KubeConnection;
  namespace: string;
  holder: string;
  intervalMs: number;
  catalog: { all(): RepositoryConfig[] };
  access: GitHubAccess;
  engineFor: (config: RepositoryConfig, logger: JsonLogger) => Engine;
  submit: (item: { id: string; key: string; kind: "deploy" | "destroy" | "other"; payload: Delivery }) => void;
  /** Whether work for a queue key waits or runs: a repair is not queued beside it (its facts predate that work). */
  busy: (key: string) => boolean;
  logger: JsonLogger;
  leaseSeconds?: number;
}

export class Reconciler {
  private stopped = false;
  private wake?: () => void;
  /** A pass was asked for (nudge) since the last one started. */
  private nudged = false;
  private loop?: Promise<void>;
  leading = false;
  /** Passes completed while leading (for tests and logs). */
  passes = 0;

  constructor(private readonly options: ReconcilerOptions) {}

  start(): void {
    this.loop = this.run();
  }

  /**
   * Asks for a pass now instead of at the end of the period (the App was given
   * access to a repository). Only the leader runs passes: on a follower this
   * does nothing, and the leader's next period covers it.
   */
  nudge(): void {
    this.nudged = true;
    if (this.leading) this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    while (!this.stopped) {
      let lock: HeldLock | undefined;
      try {
        lock = await acquireLock(this.options.connection(), this.options.namespace, this.options.holder, {
          name: LEADER_LEASE,
          leaseSeconds: this.options.leaseSeconds ?? 30,
          // A follower looks again after a period; acquireLock itself polls every second meanwhile.
          waitTimeoutMs: this.options.intervalMs,
          onLost: (error) => logger.warn(`no longer the reconcile leader: ${error.message}`),
        });
      } catch (error) {
        if (!(error instanceof LockTimeoutError)) {
          logger.warn(`could not take part in leader election: ${error instanceof Error ? error.message : String(error)}`);
          await this.sleep(5_000);
        }
        continue;
      }
      this.leading = true;
      logger.info("this replica leads the reconcile");
      try {
        while (!this.stopped && !lock.signal.aborted) {
          this.nudged = false;
          await this.reconcileAll();
          this.passes++;
          // Asked for during the pass: another at once, its facts may predate the ask.
          if (!this.nudged) await this.sleep(this.options.intervalMs, lock.signal);
        }
      } finally {
        this.leading = false;
        await lock.release().catch(() => undefined);
      }
    }
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** One pass over every opted-in repository; a repository that fails is logged and the others go on. */
  async reconcileAll(): Promise<void> {
    for (const config of this.options.catalog.all()) {
      try {
        await this.reconcile(config);
      } catch (error) {
        this.options.logger
          .child({ repository: config.repository })
          .warn(`reconcile of ${config.repository} failed, retried next period: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  private async reconcile(config: RepositoryConfig): Promise<ReconcileAction[]> {
    const logger = this.options.logger.child({ repository: config.repository, event: "reconcile" });
    const github = await this.options.access.forRepository(config.repository, undefined, logger);
    const engine = this.options.engineFor(config, logger);
    const [pulls, branchHeads, sandboxes] = await Promise.all([github.openPullRequestList(), github.branchHeads(), ownSandboxes(engine)]);
    const openPullRequests = pulls.map((p) => readPullRequest(p, config.repository)).filter((p) => typeof p !== "string");
    const byNumber = new Map(pulls.map((p) => [(p as { number: number }).number, p]));
    const actions = reconcileActions({
      openPullRequests,
      branchHeads,
      sandboxes,
      keyOf: (target) => identityFor(engine.settings, target).key,
    });
    const repository = { full_name: config.repository };
    let queued = 0;
    for (const action of actions) {
      const done =
        action.kind === "deploy-pull-request"
          ? this.queue(config, "pull_request", {
              action: "synchronize",
              number: action.number,
              pull_request: byNumber.get(action.number),
              repository,
            })
          : this.queue(config, "push", { ref: `refs/heads/${action.branch}`, after: action.commit, deleted: false, repository });
      if (done) queued++;
      logger.info(`${done ? "repair queued" : "repair left to the work already queued or running"}: ${action.why}`);
    }
    // Removal is the sweep's: expired, pull request closed, branch gone (and only sandboxes of this repository).
    this.queue(config, "schedule", {});
    logger.info(
      `reconciled: ${openPullRequests.length} open pull requests, ${sandboxes.length} sandboxes, ${queued} deploys queued, sweep queued`,
    );
    return actions;
  }

  /** Queues the event unless work for its sandbox is already queued or running; says whether it queued. */
  private queue(config: RepositoryConfig, event: string, payload: unknown): boolean {
    const plan = planEvent({ name: event, payload }, { command: "auto", forkLabel: config.forkLabel, repository: config.repository });
    const { key, kind } = workSubject(config.repository, plan);
    if (this.options.busy(key)) return false;
    const id = `reconcile-${randomUUID()}`;
    this.options.submit({ id, key, kind, payload: { id, event, payload, repository: config.repository, synthetic: true } });
    return true;
  }
}
