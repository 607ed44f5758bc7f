// destroy: uninstall the release (so cluster-scoped objects such as local
// mode's hostPath volume go too) and delete the namespace. Idempotent: a
// sandbox that is already gone is reported destroyed; one that is not ours
// is refused.
import { acquireLock, type HeldLock } from "../adapters/kubernetes/lease-lock.js";
import { RELEASE_NAME } from "../domain/identity.js";
import { namespaceMetadata, type SandboxRecord } from "../domain/metadata.js";
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
      step = "lock";
      lock = await acquireLock(engine.kube, namespace, engine.holder, {
        waitTimeoutMs: engine.settings.waitTimeoutMs,
        leaseSeconds: engine.lockLeaseSeconds,
        onWait: (holder) => logger.info(`waiting for ${holder} to finish with ${key}`),
      });
      try {
        await engine.namespaces.annotate(
          namespace,
          namespaceMetadata({ key, status: "destroying", lastResult: options.reason ?? "destroy" }).annotations,
        );
        step = "helm uninstall";
        // Asking the API whether a release exists is one request; asking helm
        // is a process start. A sweep of hundreds of sandboxes feels the difference.
        if (await hasHelmRelease(engine, namespace)) {
          const uninstalled = await engine.helm.uninstall(RELEASE_NAME, namespace);
          if (uninstalled === "uninstalled") logger.info(`release ${RELEASE_NAME} uninstalled`);
        }
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

/** Helm stores each release revision as a Secret (default) or ConfigMap labelled owner=helm,name=<release>. */
async function hasHelmRelease(engine: Engine, namespace: string): Promise<boolean> {
  const labelSelector = `owner=helm,name=${RELEASE_NAME}`;
  const [secrets, configMaps] = await Promise.all([
    engine.kube.core.listNamespacedSecret({ namespace, labelSelector, limit: 1 }),
    engine.kube.core.listNamespacedConfigMap({ namespace, labelSelector, limit: 1 }),
  ]);
  return secrets.items.length > 0 || configMaps.items.length > 0;
}
