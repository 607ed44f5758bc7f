// Builds the engine's adapters from parsed settings. Every front door calls
// this, so the Action, the server and the CLI run on identical parts.
import { mkdtempSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createRunner } from "../adapters/exec.js";
import { Helm } from "../adapters/helm.js";
import { chooseBuilder, type ImageBuilder } from "../adapters/image/builders.js";
import { connect, Namespaces } from "../adapters/kubernetes/client.js";
import type { Logger } from "../adapters/logger.js";
import type { Engine, EngineSettings } from "../operations/engine.js";

export interface EngineOptions {
  settings: EngineSettings;
  logger: Logger;
  /** Kubeconfig content (the Action's secret input); else KUBECONFIG or in-cluster. */
  kubeconfigContent?: string;
  kubeContext?: string;
  helmBinary?: string;
  builder?: "auto" | "docker" | "buildah";
  /** Names this process in lock messages ("github-actions run 123", "cli alice@laptop"). */
  holder?: string;
  now?: () => Date;
  lockLeaseSeconds?: number;
}

export function createEngine(options: EngineOptions): Engine {
  const run = createRunner(options.logger);
  let kubeconfigFile: string | undefined;
  if (options.kubeconfigContent?.trim()) {
    // helm needs a file; it lives in a private temp dir, readable by us only.
    const dir = mkdtempSync(join(tmpdir(), "k8s-sandbox-kube-"));
    kubeconfigFile = join(dir, "config");
    writeFileSync(kubeconfigFile, options.kubeconfigContent, { mode: 0o600 });
  }
  const kube = connect({ kubeconfigContent: options.kubeconfigContent, context: options.kubeContext });
  const helm = new Helm(run, options.helmBinary ?? process.env.HELM ?? "helm", {
    kubeconfig: kubeconfigFile,
    kubeContext: options.kubeContext,
  });
  let builder: Promise<ImageBuilder> | undefined;
  return {
    kube,
    namespaces: new Namespaces(kube),
    helm,
    builder: () => {
      builder ??= chooseBuilder(run, options.builder ?? "auto");
      return builder;
    },
    run,
    logger: options.logger,
    now: options.now ?? (() => new Date()),
    settings: options.settings,
    holder: options.holder ?? `${hostname()}/${process.pid}`,
    lockLeaseSeconds: options.lockLeaseSeconds ?? (Number(process.env.K8S_SANDBOX_LEASE_SECONDS) || 45),
  };
}
