// The engine's own rights in a sandbox, and the cluster's consent to local
// mode's host paths. With charts/sandbox-access the engine holds cluster-wide
// rights only on namespaces (confined by an admission policy to its own);
// everything inside a sandbox comes from a RoleBinding it makes for itself
// when it creates the namespace. See docs/permissions.md.
import { realpath } from "node:fs/promises";
import { isConflict, isForbidden, isNotFound, withRetry } from "../adapters/kubernetes/client.js";
import {
  ALLOWED_HOST_PATHS_KEY,
  DEFAULT_LOCAL_VOLUMES_CONFIG,
  isAllowedHostPath,
  parseAllowedHostPaths,
  parseObjectRef,
  sandboxBinding,
} from "../domain/access.js";
import { SandboxError } from "../domain/errors.js";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../domain/metadata.js";
import type { Engine } from "./engine.js";

const PERMISSIONS_DOC = "docs/permissions.md";

/** Who the cluster says we are, asked once per connection. */
const identities = new WeakMap<object, Promise<string | undefined>>();

async function whoAmI(engine: Engine): Promise<string | undefined> {
  let known = identities.get(engine.kube);
  if (!known) {
    known = withRetry(() => engine.kube.authentication.createSelfSubjectReview({ body: {} }))
      .then((review) => review.status?.userInfo?.username)
      .catch((error: unknown) => {
        // Before Kubernetes 1.28 there is no SelfSubjectReview; nothing to bind then.
        if (isNotFound(error)) return undefined;
        identities.delete(engine.kube);
        throw error;
      });
    identities.set(engine.kube, known);
  }
  return known;
}

async function mayCreateLeases(engine: Engine, namespace: string): Promise<boolean> {
  const review = await withRetry(() =>
    engine.kube.authorization.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { namespace, verb: "create", group: "coordination.k8s.io", resource: "leases" } } },
    }),
  );
  return review.status?.allowed === true;
}

/**
 * Binds the sandbox role to our identity in the namespace, unless we already
 * may work there (bound by an earlier run, or an identity with wider rights
 * such as a cluster admin's), and returns once the API server's authorizer
 * honours it: RBAC caches bindings, and the lock's first request would
 * otherwise race it.
 */
export async function ensureSandboxAccess(engine: Engine, namespace: string): Promise<void> {
  const role = engine.settings.sandboxRole;
  if (!role || engine.settings.dryRun) return;
  if (await mayCreateLeases(engine, namespace)) return;
  const username = await whoAmI(engine);
  if (!username) {
    throw new SandboxError(`no rights in ${namespace}, and this cluster cannot say who we are to bind ${role} (no SelfSubjectReview)`, {
      step: "namespace",
      hint: `grant the rights in ${PERMISSIONS_DOC} to the kubeconfig's identity`,
    });
  }
  const { name, subject } = sandboxBinding(username);
  try {
    await withRetry(() =>
      engine.kube.rbac.createNamespacedRoleBinding({
        namespace,
        body: {
          metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
          subjects: [subject],
        },
      }),
    );
    engine.logger.info(`bound ${role} to ${username} in ${namespace}`);
  } catch (error) {
    // 409: made a moment ago (a concurrent run), and not honoured yet: wait below.
    if (!isConflict(error)) throw accessError(namespace, role, username, error);
  }
  const deadline = Date.now() + 15_000;
  while (!(await mayCreateLeases(engine, namespace))) {
    if (Date.now() > deadline) {
      throw new SandboxError(`${username} was bound to ${role} in ${namespace}, but still may not work there`, {
        step: "namespace",
        hint: `check that the ClusterRole ${role} exists and grants the rights listed in ${PERMISSIONS_DOC}`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function accessError(namespace: string, role: string, username: string, cause: unknown): SandboxError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new SandboxError(`${username} could not bind ${role} to itself in ${namespace}: ${message}`, {
    step: "namespace",
    cause,
    hint: `install charts/sandbox-access for this identity (${PERMISSIONS_DOC}), or set sandbox-role to the ClusterRole it may bind`,
  });
}

/**
 * Local mode mounts a host directory through a hostPath PersistentVolume,
 * which is as strong as the node's filesystem. The engine mounts only what
 * the cluster's admin allowed in a ConfigMap the admin owns; the chart gets
 * the allowed directories too and refuses anything outside them.
 */
export async function allowedLocalMount(engine: Engine, addonsPath: string): Promise<{ hostPath: string; roots: string[] }> {
  const where = engine.settings.localVolumesConfig ?? DEFAULT_LOCAL_VOLUMES_CONFIG;
  const ref = parseObjectRef(where, "local-volumes");
  const hint = `the cluster's admin allows host paths with charts/sandbox-access (localVolumes.enabled, localVolumes.allowedHostPaths), see ${PERMISSIONS_DOC}`;
  let text: string | undefined;
  try {
    const config = await withRetry(() => engine.kube.core.readNamespacedConfigMap(ref));
    text = config.data?.[ALLOWED_HOST_PATHS_KEY];
  } catch (error) {
    if (!isNotFound(error) && !isForbidden(error)) throw error;
    throw new SandboxError(
      `local mode mounts ${addonsPath} from the host, but this cluster allows no host paths (no ConfigMap ${where} we may read)`,
      {
        step: "values",
        hint,
      },
    );
  }
  const { roots, problems } = parseAllowedHostPaths(text);
  if (problems.length > 0) {
    throw new SandboxError(`ConfigMap ${where} lists host paths the engine will not use: ${problems.join("; ")}`, { step: "values", hint });
  }
  // The kubelet follows symlinks: check (and mount) the directory they lead to.
  const hostPath = await realpath(addonsPath).catch(() => addonsPath);
  if (!isAllowedHostPath(hostPath, roots)) {
    const allowed = roots.length > 0 ? roots.join(", ") : "none";
    throw new SandboxError(`local mode would mount ${hostPath}, which is outside the host paths this cluster allows (${allowed})`, {
      step: "values",
      hint,
    });
  }
  return { hostPath, roots };
}
