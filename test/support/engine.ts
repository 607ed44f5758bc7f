// Engine settings for tests and benchmarks on the ground: the bundled chart in
// CI mode, no image build unless a test asks for one.
import { ALLOWED_HOST_PATHS_KEY } from "../../src/domain/access.js";
import { HOUR } from "../../src/domain/duration.js";
import type { EngineSettings } from "../../src/operations/engine.js";
import { kubectl, uniqueName } from "./cluster.js";

export function groundSettings(prefix: string, baseDomain: string, extra: Partial<EngineSettings> = {}): EngineSettings {
  return {
    prefix,
    baseDomain,
    scheme: "https",
    ttlMs: 168 * HOUR,
    maxTtlMs: 720 * HOUR,
    // Longer on a cluster whose pods are real (kind in CI); kwok's are ready at once.
    waitTimeoutMs: Number(process.env.GROUND_WAIT_TIMEOUT_MS) || 120_000,
    mode: "ci",
    chart: "charts/odoo-dev-sandbox",
    valuesFiles: [],
    sets: [],
    dockerfile: "Dockerfile.dev",
    context: ".",
    buildArgs: {},
    podSecurity: "restricted",
    dryRun: false,
    ...extra,
  };
}

/**
 * Lets local mode mount host paths under `roots`, as a cluster's admin does
 * (charts/sandbox-access, localVolumes): a ConfigMap listing them. Each call
 * writes its own, so tests do not share one; returns its "namespace/name"
 * for EngineSettings.localVolumesConfig (or K8S_SANDBOX_LOCAL_VOLUMES).
 */
export async function allowLocalVolumes(roots: string[], namespace = "k8s-dev-sandbox-tests"): Promise<string> {
  const name = uniqueName("local-volumes");
  const objects = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data: { [ALLOWED_HOST_PATHS_KEY]: roots.join("\n") } },
  ];
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }) });
  return `${namespace}/${name}`;
}
