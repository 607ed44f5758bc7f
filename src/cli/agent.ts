// `k8s-sandbox agent`: serves code-hub's Agent API on Kubernetes
// (docs/workspace-agent.md). Configuration comes from the AGENT_* environment;
// flags only choose where to listen and whether to run without a key.
import { parseArgs } from "node:util";
import { ConsoleLogger, Redactor } from "../adapters/logger.js";
import { loadConfig } from "../agent/config.js";
import { startAgent } from "../agent/start.js";

export const AGENT_USAGE = `usage: k8s-sandbox agent [--port 8081] [--host 0.0.0.0] [--insecure-no-auth]

Serves code-hub's Agent API (/api/v1/workspaces) with workspaces as Kubernetes
Deployments, their home volumes as PVCs and archive/restore as Jobs writing to
an S3 store. Settings: AGENT_SERVER_*, AGENT_S3_*, AGENT_RUNTIME_*, AGENT_DOCKER_*
(uid/gid, port, job timeout) and AGENT_KUBERNETES_* (namespace, storage class,
...); see docs/workspace-agent.md. Refuses to start without AGENT_SERVER_API_KEY
unless --insecure-no-auth is given.
`;

export async function runAgent(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "insecure-no-auth": { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(AGENT_USAGE);
    return 0;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) {
    const error = new Error(`--port ${JSON.stringify(values.port)}: expected a port number`);
    error.name = "InputError";
    throw error;
  }
  const config = loadConfig(env, { port, host: values.host, insecure: values["insecure-no-auth"] === true });
  const redactor = new Redactor();
  redactor.add(config.apiKey);
  redactor.add(config.s3.secretKey);
  redactor.add(config.s3.accessKey);
  const logger = new ConsoleLogger({ verbose: values.verbose, redactor });
  const agent = await startAgent(config, logger);
  await new Promise<void>((resolve) => {
    const stop = () => {
      logger.info("workspace agent: stopping");
      agent.close().then(resolve, resolve);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  return 0;
}
