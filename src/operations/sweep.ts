// sweep: remove the sandboxes whose time is up, or whose PR is closed or
// branch is gone. Only namespaces with our managed-by label are considered,
// whatever annotations others carry. One failure does not stop the rest, and
// a sweep interrupted halfway is simply completed by the next one.
//
// Two ways to remove a sandbox:
// - "destroy" (the Action, the CLI, the controller): the full destroy, under
//   the sandbox's lock, helm uninstall, then the namespace. Needs the engine's
//   rights inside the namespace.
// - "delete-namespace" (the TTL CronJob): only the namespace, and only if it
//   is unchanged since it was listed (a resourceVersion precondition), so a
//   deploy or extend that touched it meanwhile wins and nothing is deleted.
//   Needs nothing but list and delete on namespaces: the CronJob's identity
//   cannot enter a sandbox. Deleting the namespace removes everything in it,
//   the release's records included; only cluster-wide objects a release made
//   (local mode's host-path volume) stay, and the next deploy of that
//   sandbox removes them (removeOrphanedVolumes).
import { selectForSweep } from "../domain/sweep.js";
import { describeKubeError as describe } from "../adapters/kubernetes/client.js";
import { SandboxError } from "../domain/errors.js";
import type { SandboxRecord } from "../domain/metadata.js";
import { destroy } from "./destroy.js";
import type { Engine } from "./engine.js";
import { ownSandboxes } from "./namespace.js";

export interface SweepFacts {
  openPullRequests?: Set<number>;
  existingBranches?: Set<string>;
}

export interface SweepOutcome {
  result: "swept";
  removed: { key: string; reason: string }[];
  kept: { key: string; reason: string }[];
  failed: { key: string; error: string }[];
  considered: number;
}

/** Told about each removal and each failure, as they happen (the CronJob: Kubernetes Events). */
export interface SweepReporter {
  removed(item: { key: string; namespace: string; reason: string }): Promise<void>;
  failed(item: { key: string; namespace: string; error: string }): Promise<void>;
}

export interface SweepOptions {
  concurrency?: number;
  removal?: "destroy" | "delete-namespace";
  reporter?: SweepReporter;
}

export async function sweep(engine: Engine, facts: SweepFacts = {}, options: SweepOptions = {}): Promise<SweepOutcome> {
  // Another prefix is another installation; another repository's sandboxes
  // are not this sweep's to judge by its PRs and branches.
  const records = await ownSandboxes(engine);
  const plan = selectForSweep(records, engine.now(), facts);
  const outcome: SweepOutcome = {
    result: "swept",
    removed: [],
    kept: plan.keep.map((k) => ({ key: k.record.key, reason: k.reason })),
    failed: [],
    considered: records.length,
  };
  const queue = [...plan.remove];
  // A report that cannot be written (no rights on Events, the API server gone)
  // is logged; it never undoes or stops the removal itself.
  const report = async (send: (reporter: SweepReporter) => Promise<void>) => {
    if (!options.reporter) return;
    await send(options.reporter).catch((error: unknown) =>
      engine.logger.warn(`sweep: ${error instanceof Error ? error.message : String(error)}`),
    );
  };
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const { key, namespace } = item.record;
      try {
        if (options.removal === "delete-namespace") {
          const deleted = await deleteIfUnchanged(engine, item.record);
          if (deleted === "changed") {
            outcome.kept.push({ key, reason: "changed since listed" });
            engine.logger.info(`sandbox ${key}: namespace ${namespace} changed since it was listed; left to the next sweep`);
            continue;
          }
          engine.logger.info(`namespace ${namespace} ${deleted === "deleted" ? "deleted" : "was already gone"} (${item.reason})`);
        } else {
          await destroy(engine, key, { reason: item.reason, known: item.record });
        }
        outcome.removed.push({ key, reason: item.reason });
        await report((r) => r.removed({ key, namespace, reason: item.reason }));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        outcome.failed.push({ key, error: message });
        engine.logger.warn(`could not remove ${key}: ${message}`);
        await report((r) => r.failed({ key, namespace, error: message }));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 16) }, worker));
  engine.logger.info(
    `sweep: ${outcome.removed.length} removed, ${outcome.kept.length} kept, ${outcome.failed.length} failed of ${records.length}`,
  );
  return outcome;
}

async function deleteIfUnchanged(engine: Engine, record: SandboxRecord): Promise<"deleted" | "absent" | "changed"> {
  if (!record.resourceVersion) {
    throw new SandboxError(`namespace ${record.namespace} was listed without a resourceVersion; refusing to delete it blind`, {
      sandbox: record.key,
      step: "delete namespace",
    });
  }
  if (engine.settings.dryRun) {
    engine.logger.info(`dry run: would delete namespace ${record.namespace}`);
    return "deleted";
  }
  try {
    return await engine.namespaces.deleteIfUnchanged(record.namespace, record.resourceVersion);
  } catch (error) {
    throw new SandboxError(`could not delete namespace ${record.namespace}: ${error instanceof Error ? describe(error) : String(error)}`, {
      sandbox: record.key,
      step: "delete namespace",
      hint: "the sweep's ServiceAccount needs delete on namespaces (charts/sandbox-access: sweepers), and the namespace must be named with the prefix and labelled managed-by k8s-dev-sandbox",
    });
  }
}
