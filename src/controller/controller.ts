// `k8s-sandbox serve`: builds the controller from its parts and starts it.
// intake (ack path) -> worker (queue, ledger claim) -> process (the shared
// event handler) ; server (HTTP) ; catalog (repository opt-in).
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { connect, describeKubeError, isNotFound, type KubeConnection } from "../adapters/kubernetes/client.js";
import { DeliveryLedger } from "../adapters/kubernetes/delivery-ledger.js";
import { SandboxWatch } from "../adapters/kubernetes/sandbox-watch.js";
import type { RegistryCredentials } from "../adapters/image/registry.js";
import { InputError } from "../domain/errors.js";
import { MANAGED_SELECTOR } from "../domain/metadata.js";
import { createEngine } from "../wiring/create-engine.js";
import { credentialProblem, type DashboardCredential } from "./dashboard/auth.js";
import { DashboardFeed } from "./dashboard/feed.js";
import type { GitHubAccess } from "./github-access.js";
import { Intake } from "./intake.js";
import type { JsonLogger } from "./logger.js";
import { ControllerMetrics } from "./metrics.js";
import { createProcessor, engineSettingsFor, type ProcessorOptions } from "./process.js";
import { Reconciler } from "./reconciler.js";
import { RepositoryCatalog } from "./repositories.js";
import { buildServer } from "./server.js";
import { type Processor, Worker } from "./worker.js";

export const REPOSITORIES_KEY = "repositories.yaml";

export interface ControllerOptions {
  port: number;
  /** Default 0.0.0.0 in a pod; tests bind 127.0.0.1. */
  host?: string;
  webhookSecret: string;
  access: GitHubAccess;
  logger: JsonLogger;
  /** The controller's own namespace: its delivery ledger and repository ConfigMap live there. */
  namespace: string;
  /** The ConfigMap (in `namespace`) whose repositories.yaml opts repositories in; default k8s-sandbox-repositories. */
  repositoriesConfigMap?: string;
  /** Name of the delivery ledger's ConfigMaps; default k8s-sandbox-deliveries. */
  ledgerName?: string;
  prefix: string;
  concurrency?: number;
  /** How many waiting deliveries the worker looks at for claims to write along with one it must make (worker.ts); default 64. */
  claimAhead?: number;
  waitTimeoutMs?: number;
  sandboxRole?: string;
  registryCredentials?: RegistryCredentials;
  kubeContext?: string;
  bodyLimit?: number;
  dryRun?: boolean;
  /** How often the leader reconciles opted-in repositories against sandboxes; default 5 minutes, 0 turns it off. */
  reconcileIntervalMs?: number;
  /**
   * The dashboard at `/`: the credential that opens it, and GitHub's web
   * address for its links. Undefined: off (never open by default).
   */
  dashboard?: { credential: DashboardCredential; githubUrl: string };
  /** Replaces the shared event handler (the bench's dry processing); production never sets it. */
  process?: Processor;
}

export interface RunningController {
  url: string;
  server: FastifyInstance;
  worker: Worker;
  metrics: ControllerMetrics;
  ledger: DeliveryLedger;
  catalog: RepositoryCatalog;
  reconciler?: Reconciler;
  close(): Promise<void>;
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  if (!options.webhookSecret || options.webhookSecret.length < 16) {
    throw new InputError(
      "no webhook secret (at least 16 characters): set GITHUB_WEBHOOK_SECRET or --webhook-secret-file to the secret of the App's webhook; the controller never accepts unsigned deliveries",
      { input: "webhook secret" },
    );
  }
  if (options.dashboard) {
    const problem = credentialProblem(options.dashboard.credential);
    if (problem)
      throw new InputError(`${problem}: set K8S_SANDBOX_DASHBOARD_TOKEN or --dashboard-token-file to a longer secret`, {
        input: "dashboard token",
      });
  }
  const { logger } = options;
  const metrics = new ControllerMetrics();
  // Connected on first use: /healthz answers without a cluster.
  let kube: KubeConnection | undefined;
  const connection = (): KubeConnection => {
    kube ??= connect({ context: options.kubeContext });
    return kube;
  };
  const configMap = options.repositoriesConfigMap ?? "k8s-sandbox-repositories";
  const catalog = new RepositoryCatalog(
    async () => {
      try {
        const cm = await connection().core.readNamespacedConfigMap({ name: configMap, namespace: options.namespace });
        return cm.data?.[REPOSITORIES_KEY] ?? "";
      } catch (error) {
        if (isNotFound(error)) return "";
        throw new Error(`ConfigMap ${options.namespace}/${configMap}: ${describeKubeError(error)}`);
      }
    },
    (message) => logger.warn(message),
  );
  const ledger = new LazyLedger(() => new DeliveryLedger(connection(), { namespace: options.namespace, name: options.ledgerName }));
  const processorOptions: ProcessorOptions = {
    catalog,
    access: options.access,
    connection,
    logger,
    prefix: options.prefix,
    waitTimeoutMs: options.waitTimeoutMs ?? 600_000,
    sandboxRole: options.sandboxRole,
    registryCredentials: options.registryCredentials,
    workDir: join(tmpdir(), `k8s-sandbox-controller-${process.pid}`),
    holder: `controller ${hostname()}/${process.pid}`,
    dryRun: options.dryRun,
  };
  const processor = options.process ?? createProcessor(processorOptions);
  const worker = new Worker({
    limit: options.concurrency ?? 2,
    claimAhead: options.claimAhead,
    claims: ledger,
    process: processor,
    metrics,
    logger,
  });
  const interval = options.reconcileIntervalMs ?? 5 * 60_000;
  const reconciler =
    interval > 0
      ? new Reconciler({
          connection,
          namespace: options.namespace,
          holder: processorOptions.holder,
          intervalMs: interval,
          catalog,
          access: options.access,
          engineFor: (config, log) =>
            createEngine({
              settings: engineSettingsFor(config, processorOptions),
              logger: log,
              connection: connection(),
              holder: processorOptions.holder,
            }),
          submit: (item) => worker.submit(item),
          busy: (key) => worker.busy(key),
          logger,
        })
      : undefined;
  const intake = new Intake({
    secret: options.webhookSecret,
    catalog,
    submit: (item) => worker.submit(item),
    metrics,
    logger,
    onAccessGained: () => reconciler?.nudge(),
  });

  let lastGitHubCheck: { at: number; problem?: string } | undefined;
  const readiness = async (): Promise<string | undefined> => {
    try {
      await connection().core.readNamespace({ name: options.namespace });
    } catch (error) {
      return `the API server does not answer: ${error instanceof Error ? describeKubeError(error) : String(error)}`;
    }
    if (!catalog.loaded) return "the repository configuration has not been read yet";
    // GitHub is asked at most every 60 s: readiness probes must not spend its rate limit.
    if (!lastGitHubCheck || Date.now() - lastGitHubCheck.at > 60_000) {
      lastGitHubCheck = { at: Date.now(), problem: await options.access.problem() };
    }
    return lastGitHubCheck.problem;
  };
  // The dashboard's one watch on the sandbox namespaces; pages read its memory, never the API server.
  let watch: SandboxWatch | undefined;
  let feed: DashboardFeed | undefined;
  if (options.dashboard) {
    const { githubUrl } = options.dashboard;
    feed = new DashboardFeed({
      prefix: options.prefix,
      githubUrl,
      snapshot: () => watch?.snapshot() ?? [],
      problem: () => watch?.problem,
    });
    const live = feed;
    watch = new SandboxWatch(connection, {
      labelSelector: MANAGED_SELECTOR,
      onChange: (change) => live.changed(change),
      onHealth: (problem) => {
        if (problem) logger.warn(`dashboard: ${problem}; retrying`);
        live.health(problem);
      },
    });
  }
  const server = buildServer({
    intake,
    metrics,
    readiness,
    bodyLimit: options.bodyLimit,
    dashboard: feed && options.dashboard ? { feed, credential: options.dashboard.credential } : undefined,
  });
  await catalog.start();
  const url = await server.listen({ port: options.port, host: options.host ?? "0.0.0.0" });
  reconciler?.start();
  watch?.start();
  logger.info(
    `controller listening on ${url} as ${options.access.description}; ${catalog.size} repositories opted in (ConfigMap ${options.namespace}/${configMap}); at most ${options.concurrency ?? 2} operations at once; ${interval > 0 ? `reconcile every ${Math.round(interval / 1000)} s on the leader` : "no reconcile"}; ${options.dashboard ? "dashboard at / (authenticated)" : "dashboard off"}`,
  );
  return {
    url,
    server,
    worker,
    metrics,
    get ledger() {
      return ledger.get();
    },
    catalog,
    reconciler,
    async close() {
      catalog.stop();
      await reconciler?.stop();
      await watch?.stop();
      await server.close();
      await worker.stop();
    },
  };
}

/** The ledger needs the cluster; it is built when the first delivery is claimed. */
class LazyLedger {
  private ledger?: DeliveryLedger;
  constructor(private readonly create: () => DeliveryLedger) {}
  get(): DeliveryLedger {
    this.ledger ??= this.create();
    return this.ledger;
  }
  claim(id: string): Promise<boolean> {
    return this.get().claim(id);
  }
  roundOf(id: string): number {
    return this.get().roundOf(id);
  }
}
