// Engine settings for tests and benchmarks on the ground: the bundled chart in
// CI mode, no image build unless a test asks for one.
import { HOUR } from "../../src/domain/duration.js";
import type { EngineSettings } from "../../src/operations/engine.js";

export function groundSettings(prefix: string, baseDomain: string, extra: Partial<EngineSettings> = {}): EngineSettings {
  return {
    prefix,
    baseDomain,
    scheme: "https",
    ttlMs: 168 * HOUR,
    maxTtlMs: 720 * HOUR,
    waitTimeoutMs: 120_000,
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
