// Builds the agent from its configuration: the Kubernetes connection, the
// store, the operations and the server. Used by the CLI and by the tests
// (which start it on loopback against the ground).
import type { FastifyInstance } from "fastify";
import { connect } from "../adapters/kubernetes/client.js";
import { WorkspaceCache } from "../adapters/kubernetes/workspace-cache.js";
import { WorkspaceObjects } from "../adapters/kubernetes/workspaces.js";
import { DockerEngine, parseDockerHost } from "../adapters/docker/engine.js";
import { DockerRuntime } from "../adapters/docker/runtime.js";
import { KubernetesRuntime } from "../adapters/kubernetes/workspace-runtime.js";
import type { Logger } from "../adapters/logger.js";
import { ObjectStore } from "../adapters/s3/store.js";
import { WorkspaceOperations } from "../operations/workspace/operations.js";
import type { WorkspaceRuntime } from "../operations/workspace/runtime.js";
import type { AgentConfig } from "./config.js";
import { buildServer } from "./server.js";

export interface RunningAgent {
  app: FastifyInstance;
  operations: WorkspaceOperations;
  store: ObjectStore;
  /** http://host:port it listens on. */
  url: string;
  close(): Promise<void>;
}

export async function startAgent(
  config: AgentConfig,
  logger: Logger,
  options: { kubeconfigContent?: string; logLevel?: string; jobWaitMs?: number } = {},
): Promise<RunningAgent> {
  const store = new ObjectStore(config.s3);
  const { runtime, cache } = buildRuntime(config, logger, options.kubeconfigContent);
  const operations = new WorkspaceOperations({ runtime, store, settings: config.agent, logger });
  // As the Docker agent does at startup; a store that is down is reported, not fatal (observe will say it again).
  try {
    await store.ensureBucket();
  } catch (error) {
    logger.warn(`startup: ${error instanceof Error ? error.message : String(error)}`);
  }
  const app = await buildServer({
    operations,
    apiKey: config.apiKey,
    logger,
    logLevel: options.logLevel ?? config.logLevel,
    jobWaitMs: options.jobWaitMs,
  });
  const address = await app.listen({ host: config.host, port: config.port });
  logger.info(
    `workspace agent listening on ${address}, ${runtime.kind} ${runtime.where}, bucket ${config.s3.bucket}${config.apiKey ? "" : " (NO AUTHENTICATION)"}`,
  );
  return {
    app,
    operations,
    store,
    url: address,
    async close() {
      await app.close();
      await cache?.stop();
      store.destroy();
    },
  };
}

/** The runtime AGENT_RUNTIME_BACKEND names; the Kubernetes one with its informers when asked for. */
function buildRuntime(
  config: AgentConfig,
  logger: Logger,
  kubeconfigContent: string | undefined,
): { runtime: WorkspaceRuntime; cache?: WorkspaceCache } {
  if (config.backend === "docker") {
    const engine = new DockerEngine(parseDockerHost(config.docker.host));
    return { runtime: new DockerRuntime(engine, { ...config.agent, docker: config.docker }, logger) };
  }
  const kube = connect({ kubeconfigContent, context: config.kubeContext });
  const cache =
    config.observeCache === "informer"
      ? new WorkspaceCache(kube, config.agent.namespace, (message) => logger.warn(`observe cache: ${message}`))
      : undefined;
  // Observe lists directly until the informers' first lists arrive: no wait at startup.
  cache?.start().catch((error: unknown) => logger.warn(`observe cache: ${error instanceof Error ? error.message : String(error)}`));
  const objects = new WorkspaceObjects(kube, config.agent.namespace, config.agent.naming, cache);
  return { runtime: new KubernetesRuntime(objects, config.agent), cache };
}
