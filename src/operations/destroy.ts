// destroy: uninstall the release (so cluster-scoped objects such as local
// mode's hostPath volume go too) and delete the namespace. Idempotent: a
// sandbox that is already gone is reported destroyed; one that is not ours
// is refused.
import { isForbidden } from "../adapters/kubernetes/client.js";
import { acquireLock, type HeldLock } from "../adapters/kubernetes/lease-lock.js";
import { RELEASE_NAME } from "../domain/identity.js";
import { appendOperation } from "../domain/history.js";
import { namespaceMetadata, type SandboxRecord } from "../domain/metadata.js";
import { ensureSandboxAccess } from "./access.js";
import { asSandboxError } from "./deploy.js";
import type { Engine } from "./engine.js";
import { ownRecord } from "./namespace.js";

export interface DestroyOutcome {
  result: "destroyed";
  key: string;
  namespace: string;
  /** Whether there was anything to remove. */
  existed: boolean;
  reason?: string;
}

export interface DestroyOptions {
  reason?: string;
  waitGone?: boolean;
  /** The namespace's record when the caller has just listed it (a sweep): saves a read. */
  known?: SandboxRecord;
}

export async function destroy(engine: Engine, key: string, options: DestroyOptions = {}): Promise<DestroyOutcome> {
  const namespace = engine.settings.prefix + key;
  const { logger } = engine;
  let step = "namespace";
  try {
    const record = options.known?.namespace === namespace ? options.known : await ownRecord(engine, namespace, key);
    if (!record) {
      logger.info(`sandbox ${key}: namespace ${namespace} does not exist; nothing to destroy`);
      return { result: "destroyed", key, namespace, existed: false, reason: options.reason };
    }
    if (engine.settings.dryRun) {
      logger.info(`dry run: would uninstall ${RELEASE_NAME} and delete namespace ${namespace}`);
      return { result: "destroyed", key, namespace, existed: true, reason: options.reason };
    }
    let lock: HeldLock | undefined;
    if (!record.terminating) {
      // A namespace made before the engine bound itself there (or by another identity).
      await ensureSandboxAccess(engine, namespace);
      step = "lock";
      lock = await acquireLock(engine.kube, namespace, engine.holder, {
        waitTimeoutMs: engine.settings.waitTimeoutMs,
        leaseSeconds: engine.lockLeaseSeconds,
        onWait: (holder) => logger.info(`waiting for ${holder} to finish with ${key}`),
        onLost: (error) => logger.warn(error.message),
      });
      try {
        await engine.namespaces.annotate(
          namespace,
          namespaceMetadata({
            key,
            status: "destroying",
            lastResult: options.reason ?? "destroy",
            history: appendOperation(record.history, { at: engine.now(), operation: "destroy", result: options.reason ?? "destroy" }),
          }).annotations,
        );
        step = "helm uninstall";
        // Asking the API whether a release exists is one request; asking helm
        // is a process start. A sweep of hundreds of sandboxes feels the difference.
        if (await hasHelmRelease(engine, namespace)) {
          const uninstalled = await engine.helm.uninstall(RELEASE_NAME, namespace, lock.signal).catch((error: unknown) => {
            lock?.check();
            throw error;
          });
          if (uninstalled === "uninstalled") logger.info(`release ${RELEASE_NAME} uninstalled`);
          step = "volumes";
          await volumesGone(engine, namespace);
        }
        lock.check();
      } finally {
        // The lease goes with its namespace; releasing first keeps waiters honest.
        await lock.release().catch(() => undefined);
      }
    }
    step = "delete namespace";
    await engine.namespaces.delete(namespace);
    logger.info(`namespace ${namespace} deleted${options.reason ? ` (${options.reason})` : ""}`);
    if (options.waitGone) {
      const gone = await engine.namespaces.waitGone(namespace, engine.settings.waitTimeoutMs);
      if (!gone) logger.warn(`namespace ${namespace} is still terminating; Kubernetes finishes it in the background`);
    }
    return { result: "destroyed", key, namespace, existed: true, reason: options.reason };
  } catch (error) {
    throw asSandboxError(error, key, step);
  }
}

/**
 * Helm returns from `uninstall --wait` while a PersistentVolume it deleted
 * may still be listed (the pv-protection finalizer lets it go a moment
 * later). Volumes are cluster-wide and outlive the namespace, so destroy
 * reports only once those of this sandbox's release are really gone. An
 * identity without rights on volumes (CI mode) never made any: nothing to wait for.
 */
async function volumesGone(engine: Engine, namespace: string): Promise<void> {
  const deadline = Date.now() + Math.min(engine.settings.waitTimeoutMs, 120_000);
  for (;;) {
    let left: string[];
    try {
      const volumes = await engine.kube.core.listPersistentVolume({});
      left = volumes.items
        // Being deleted: a leftover of an earlier life of the namespace that nobody deletes is not waited for.
        .filter((pv) => pv.metadata?.annotations?.["meta.helm.sh/release-namespace"] === namespace && pv.metadata?.deletionTimestamp)
        .map((pv) => pv.metadata?.name ?? "?");
    } catch (error) {
      if (isForbidden(error)) return;
      throw error;
    }
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`volume(s) ${left.join(", ")} of ${namespace} are still there after helm uninstall; look for finalizers on them`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Helm stores each release revision as a Secret (default) or ConfigMap labelled owner=helm,name=<release>. */
async function hasHelmRelease(engine: Engine, namespace: string): Promise<boolean> {
  const labelSelector = `owner=helm,name=${RELEASE_NAME}`;
  const [secrets, configMaps] = await Promise.all([
    engine.kube.core.listNamespacedSecret({ namespace, labelSelector, limit: 1 }),
    engine.kube.core.listNamespacedConfigMap({ namespace, labelSelector, limit: 1 }),
  ]);
  return secrets.items.length > 0 || configMaps.items.length > 0;
}
