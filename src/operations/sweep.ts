// sweep: remove the sandboxes whose time is up, or whose PR is closed or
// branch is gone. Only namespaces with our managed-by label are considered,
// whatever annotations others carry. One failure does not stop the rest, and
// a sweep interrupted halfway is simply completed by the next one.
import { selectForSweep } from "../domain/sweep.js";
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

export async function sweep(engine: Engine, facts: SweepFacts = {}, options: { concurrency?: number } = {}): Promise<SweepOutcome> {
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
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      try {
        await destroy(engine, item.record.key, { reason: item.reason, known: item.record });
        outcome.removed.push({ key: item.record.key, reason: item.reason });
      } catch (error) {
        outcome.failed.push({ key: item.record.key, error: error instanceof Error ? error.message : String(error) });
        engine.logger.warn(`could not remove ${item.record.key}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 16) }, worker));
  engine.logger.info(
    `sweep: ${outcome.removed.length} removed, ${outcome.kept.length} kept, ${outcome.failed.length} failed of ${records.length}`,
  );
  return outcome;
}
