// One queued delivery, run through the same handler as the Action
// (operations/handle-event.ts), with the engine built for its repository's
// configuration and a GitHub client for its installation. Only the wiring
// differs from the Action: images come from the repository's CI.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeConnection } from "../adapters/kubernetes/client.js";
import type { RegistryCredentials } from "../adapters/image/registry.js";
import { installationOf, planningEventName } from "../domain/delivery.js";
import type { EngineSettings } from "../operations/engine.js";
import { type EventSettings, handleEvent } from "../operations/handle-event.js";
import { bundledChartDir } from "../wiring/bundled-chart.js";
import { createEngine } from "../wiring/create-engine.js";
import type { GitHubAccess } from "./github-access.js";
import type { JsonLogger } from "./logger.js";
import type { RepositoryConfig } from "./repositories.js";
import type { Processor } from "./worker.js";

export interface ProcessorOptions {
  catalog: { get(repository: string): RepositoryConfig | undefined };
  access: GitHubAccess;
  connection: () => KubeConnection;
  logger: JsonLogger;
  /** Namespace prefix of every sandbox this controller makes. */
  prefix: string;
  waitTimeoutMs: number;
  sandboxRole?: string;
  registryCredentials?: RegistryCredentials;
  /** Where inline values are written for helm (a private directory). */
  workDir: string;
  /** Names this process in lock messages. */
  holder: string;
  dryRun?: boolean;
}

export function engineSettingsFor(config: RepositoryConfig, options: ProcessorOptions): EngineSettings {
  return {
    repository: config.repository,
    prefix: options.prefix,
    baseDomain: config.baseDomain,
    scheme: config.scheme,
    ttlMs: config.ttlMs,
    maxTtlMs: config.maxTtlMs,
    waitTimeoutMs: options.waitTimeoutMs,
    mode: "ci",
    chart: config.chart ?? bundledChartDir(),
    valuesFiles: config.values ? [valuesFile(options.workDir, config.values)] : [],
    sets: [],
    imageRepository: config.imageRepository,
    registryCredentials: options.registryCredentials,
    // Never used: images: ci builds nothing (domain/trust.ts, planForImageSupply).
    dockerfile: "Dockerfile.dev",
    context: ".",
    buildArgs: {},
    podSecurity: "restricted",
    sandboxRole: options.sandboxRole,
    dryRun: options.dryRun ?? false,
  };
}

export function eventSettingsFor(config: RepositoryConfig, options: { synthetic?: boolean } = {}): EventSettings {
  return {
    command: "auto",
    forkLabel: config.forkLabel,
    repository: config.repository,
    comment: true,
    deployment: true,
    requirePullRequest: config.requirePullRequest,
    images: "ci",
    // A repair deploys images that exist; it never starts builds (a failing CI would be dispatched every period).
    buildWorkflow: options.synthetic ? undefined : config.buildWorkflow,
  };
}

/** The inline values of a repository, as the file helm reads; one per distinct content. */
function valuesFile(dir: string, values: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `values-${createHash("sha256").update(values).digest("hex").slice(0, 16)}.yaml`);
  writeFileSync(file, values, { mode: 0o600 });
  return file;
}

export function createProcessor(options: ProcessorOptions): Processor {
  return async (delivery) => {
    const config = options.catalog.get(delivery.repository);
    const logger = options.logger.child({ delivery: delivery.id, event: delivery.event, repository: delivery.repository });
    if (!config) {
      logger.info(`repository ${delivery.repository} was opted out after the delivery was queued: nothing done`);
      return { result: "ignored", operation: "none" };
    }
    const github = await options.access.forRepository(config.repository, installationOf(delivery.payload), logger);
    const engine = createEngine({
      settings: engineSettingsFor(config, options),
      logger,
      connection: options.connection(),
      holder: `${options.holder} delivery ${delivery.id}`,
    });
    const name = planningEventName(delivery.event, delivery.payload);
    const outcome = await handleEvent(
      engine,
      github,
      { name, payload: delivery.payload },
      eventSettingsFor(config, { synthetic: delivery.synthetic }),
    );
    const done = logger.child({ sandbox: outcome.key });
    const line = `${outcome.plan.operation}: ${outcome.result} (${outcome.message})`;
    if (outcome.result === "failed") done.error(line);
    else done.info(line);
    const result =
      outcome.result === "failed"
        ? "failed"
        : outcome.result === "refused"
          ? "refused"
          : outcome.result === "skipped"
            ? "ignored"
            : "processed";
    return { result, operation: outcome.plan.operation };
  };
}
