// The namespace rules every operation shares: we only ever touch a namespace
// that carries our managed-by label, and a namespace still terminating from
// an earlier destroy is waited out before it is made again.
import { isNotFound } from "../adapters/kubernetes/client.js";
import { SandboxError } from "../domain/errors.js";
import { type SandboxIdentity, sandboxIdentity } from "../domain/identity.js";
import { MANAGED_SELECTOR, readSandboxRecord, type SandboxRecord } from "../domain/metadata.js";
import { ownershipProblem } from "../domain/trust.js";
import type { Engine, EngineSettings } from "./engine.js";

/** The sandbox a branch or PR maps to under these settings (prefix, domain, scheme). */
export function identityFor(
  settings: Pick<EngineSettings, "prefix" | "baseDomain" | "scheme">,
  target: { branch: string; pullRequest?: number | null; fork?: boolean },
): SandboxIdentity {
  return sandboxIdentity({
    branch: target.branch,
    pullRequest: target.pullRequest ?? null,
    fork: target.fork,
    prefix: settings.prefix,
    baseDomain: settings.baseDomain,
    scheme: settings.scheme,
  });
}

/**
 * Returns the sandbox's record when its namespace exists, undefined when it
 * does not (yet). Refuses a namespace of the same name that is not ours.
 */
export async function ensureOwnNamespace(engine: Engine, identity: SandboxIdentity): Promise<SandboxRecord | undefined> {
  const record = await ownRecord(engine, identity.namespace, identity.key);
  if (!record) return undefined;
  if (record.terminating) {
    engine.logger.info(`namespace ${identity.namespace} is still being deleted; waiting for it to go`);
    if (!(await engine.namespaces.waitGone(identity.namespace, engine.settings.waitTimeoutMs))) {
      throw new SandboxError(`namespace ${identity.namespace} is stuck terminating`, {
        sandbox: identity.key,
        step: "namespace",
        hint: `look for finalizers: kubectl get namespace ${identity.namespace} -o yaml`,
      });
    }
    return undefined;
  }
  return record;
}

/**
 * Reads the record of an existing sandbox namespace; undefined when absent,
 * an error when it is not ours: not managed by this tool, or the sandbox of
 * another repository sharing the cluster and prefix (deploy, destroy, extend
 * and status all come through here, so none of them can take it over).
 */
export async function ownRecord(engine: Engine, namespace: string, key: string): Promise<SandboxRecord | undefined> {
  const ns = await engine.namespaces.get(namespace);
  if (!ns) return undefined;
  const record = readSandboxRecord(ns);
  if (!record) throw notOurs(namespace, key);
  const foreign = ownershipProblem(record, engine.settings.repository);
  if (foreign) {
    throw new SandboxError(`namespace ${namespace} is a sandbox, but ${foreign}; refusing to touch it`, {
      sandbox: key,
      step: "namespace",
      hint: "repositories that share a cluster need their own namespace-prefix each; remove that sandbox from its own repository",
    });
  }
  return record;
}

/**
 * This installation's sandboxes: our label, our prefix (another prefix is
 * another installation) and our repository (another repository's are not
 * ours to count, judge or remove).
 */
export async function ownSandboxes(engine: Engine): Promise<SandboxRecord[]> {
  const namespaces = await engine.namespaces.list(MANAGED_SELECTOR);
  return namespaces
    .map((ns) => readSandboxRecord(ns))
    .filter((r): r is SandboxRecord => r !== undefined)
    .filter((r) => r.namespace === engine.settings.prefix + r.key)
    .filter((r) => ownershipProblem(r, engine.settings.repository) === undefined);
}

function notOurs(namespace: string, key: string): SandboxError {
  return new SandboxError(`namespace ${namespace} exists but is not managed by k8s-dev-sandbox; refusing to touch it`, {
    sandbox: key,
    step: "namespace",
    hint: "choose another namespace-prefix, or remove that namespace yourself if it is really a leftover",
  });
}

/**
 * PersistentVolumes are cluster-wide and outlive a namespace deleted without
 * `helm uninstall` (by hand, or a run killed mid-destroy). A volume that the
 * sandbox's own release made in an earlier life of this namespace, and that
 * is Released (its claim is gone), would otherwise block the new claim of the
 * same name ("already bound to a different claim"). Only such volumes are
 * removed: Helm's release metadata names this namespace, and the claim it
 * was bound to is in this namespace. Their data (a hostPath) is not touched.
 */
export async function removeOrphanedVolumes(engine: Engine, namespace: string): Promise<string[]> {
  const volumes = await engine.kube.core.listPersistentVolume({});
  const orphans = volumes.items.filter(
    (pv) =>
      pv.metadata?.annotations?.["meta.helm.sh/release-namespace"] === namespace &&
      pv.spec?.claimRef?.namespace === namespace &&
      (pv.status?.phase === "Released" || pv.status?.phase === "Failed"),
  );
  const removed: string[] = [];
  for (const pv of orphans) {
    const name = pv.metadata?.name;
    if (!name) continue;
    await engine.kube.core.deletePersistentVolume({ name }).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    engine.logger.warn(`removed volume ${name}, left over from an earlier ${namespace} that was deleted without helm uninstall`);
    removed.push(name);
  }
  return removed;
}
