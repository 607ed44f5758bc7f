// Builds the engine's adapters from parsed settings. Every front door calls
// this, so the Action, the server and the CLI run on identical parts.
import { mkdtempSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createRunner } from "../adapters/exec.js";
import { Helm } from "../adapters/helm.js";
import { chooseBuilder, type ImageBuilder } from "../adapters/image/builders.js";
import { connect, type KubeConnection, Namespaces } from "../adapters/kubernetes/client.js";
import type { Logger } from "../adapters/logger.js";
import { SandboxError } from "../domain/errors.js";
import type { Engine, EngineSettings } from "../operations/engine.js";

export interface EngineOptions {
  settings: EngineSettings;
  logger: Logger;
  /** Kubeconfig content (the Action's secret input); else KUBECONFIG or in-cluster when ambientCredentials allows. */
  kubeconfigContent?: string;
  /**
   * Without kubeconfig content, use whatever credentials the process finds
   * (KUBECONFIG, ~/.kube/config, in-cluster). True for the CLI, whose user
   * means their own context; the Action asks for it explicitly, since an
   * empty secret must not quietly become the runner's credentials.
   */
  ambientCredentials?: boolean;
  /** Where the kubeconfig file helm needs is written (the Action: RUNNER_TEMP, removed by its post step). */
  tempDir?: string;
  kubeContext?: string;
  /**
   * An existing connection to share (the controller builds an engine per
   * delivery, all on one connection); helm then uses KUBECONFIG or in-cluster.
   */
  connection?: KubeConnection;
  helmBinary?: string;
  builder?: "auto" | "docker" | "buildah";
  /** Names this process in lock messages ("github-actions run 123", "cli alice@laptop"). */
  holder?: string;
  now?: () => Date;
  lockLeaseSeconds?: number;
}

export const NO_KUBECONFIG =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression the user copies, not a JavaScript template
  "no kubeconfig: pass the cluster's kubeconfig as a secret (kubeconfig: ${{ secrets.SANDBOX_KUBECONFIG }}). A fork's pull_request run gets no secrets by design: build there (command: build) and deploy from workflow_run (examples/workflows). To use the runner's own credentials (KUBECONFIG, ~/.kube/config, in-cluster), set ambient-credentials: true";

/** The private directory holding the kubeconfig file written for helm; remove it when done. */
export function kubeconfigDirOf(engine: Engine): string | undefined {
  return written.get(engine);
}

const written = new WeakMap<Engine, string>();

export function createEngine(options: EngineOptions): Engine {
  const run = createRunner(options.logger);
  let kubeconfigFile: string | undefined;
  let kubeconfigDir: string | undefined;
  const content = options.kubeconfigContent?.trim() ? options.kubeconfigContent : undefined;
  if (content) {
    // helm needs a file; it lives in a private temp dir, readable by us only.
    kubeconfigDir = mkdtempSync(join(options.tempDir ?? tmpdir(), "k8s-sandbox-kube-"));
    kubeconfigFile = join(kubeconfigDir, "config");
    writeFileSync(kubeconfigFile, content, { mode: 0o600 });
  }
  // Connected on first use: `command: build` and plans that skip never need a
  // cluster, and the missing-credentials error belongs to the operation that does.
  let kube: KubeConnection | undefined = options.connection;
  let namespaces: Namespaces | undefined;
  const connection = (): KubeConnection => {
    if (!kube) {
      if (!content && !(options.ambientCredentials ?? true)) throw new SandboxError(NO_KUBECONFIG, { step: "connect" });
      kube = connect({ kubeconfigContent: content, context: options.kubeContext });
    }
    return kube;
  };
  const helm = new Helm(run, options.helmBinary ?? process.env.HELM ?? "helm", {
    kubeconfig: kubeconfigFile,
    kubeContext: options.kubeContext,
  });
  let builder: Promise<ImageBuilder> | undefined;
  const engine: Engine = {
    get kube() {
      return connection();
    },
    get namespaces() {
      namespaces ??= new Namespaces(connection());
      return namespaces;
    },
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
  if (kubeconfigDir) written.set(engine, kubeconfigDir);
  return engine;
}
