// extend: push a sandbox's expiry out, never shortening it and never beyond
// now + max-ttl. Records who asked.
import { SandboxError } from "../domain/errors.js";
import { extendExpiry } from "../domain/expiry.js";
import { appendOperation } from "../domain/history.js";
import { namespaceMetadata } from "../domain/metadata.js";
import { asSandboxError } from "./deploy.js";
import type { Engine } from "./engine.js";
import { ownRecord } from "./namespace.js";

export interface ExtendOutcome {
  result: "extended";
  key: string;
  previous?: Date;
  expiresAt: Date;
  capped: boolean;
}

export async function extend(engine: Engine, key: string, byMs: number, by: string): Promise<ExtendOutcome> {
  const namespace = engine.settings.prefix + key;
  try {
    const record = await ownRecord(engine, namespace, key);
    if (!record || record.terminating) {
      throw new SandboxError(`sandbox ${key} does not exist${record?.terminating ? " any more (it is being deleted)" : ""}`, {
        sandbox: key,
        step: "extend",
        hint: "deploy it first (push, or /sandbox redeploy)",
      });
    }
    const now = engine.now();
    const { expiresAt, capped } = extendExpiry({ current: record.expiresAt, now, byMs, maxTtlMs: engine.settings.maxTtlMs });
    if (!engine.settings.dryRun) {
      await engine.namespaces.annotate(
        namespace,
        namespaceMetadata({
          key,
          expiresAt,
          extendedBy: by,
          lastResult: "extended",
          history: appendOperation(record.history, { at: now, operation: "extend", result: "extended", by }),
        }).annotations,
      );
    }
    engine.logger.info(`sandbox ${key} now expires at ${expiresAt.toISOString()}${capped ? " (capped at max-ttl)" : ""}`);
    return { result: "extended", key, previous: record.expiresAt, expiresAt, capped };
  } catch (error) {
    throw asSandboxError(error, key, "extend");
  }
}
