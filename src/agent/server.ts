// The Agent API's HTTP front door: fastify, the contract's error shapes,
// bearer auth, /health, /metrics and /openapi.json. Thin: each route checks
// its input and calls one operation.
import { createHash, timingSafeEqual } from "node:crypto";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "../adapters/logger.js";
import { WorkspaceError, WorkspaceInputError } from "../domain/workspace/errors.js";
import type { WorkspaceOperations } from "../operations/workspace/operations.js";
import { AgentMetrics } from "./metrics.js";
import { registerRoutes } from "./routes.js";
import { schemas } from "./schemas.js";

export const AGENT_VERSION = "0.2.1";
/** The only paths served without the key (notes/agent-api.md §1): exactly these. */
const OPEN_PATHS = new Set(["/health", "/metrics"]);

export interface ServerOptions {
  operations: WorkspaceOperations;
  /** Empty: no authentication (only with the explicit insecure flag; the CLI checks). */
  apiKey: string;
  logger: Logger;
  /** pino level for fastify's own request log; "silent" in tests. */
  logLevel?: string;
  /** How long the earlier API's blocking job calls wait. */
  jobWaitMs?: number;
}

class InvalidJson extends Error {}

const SERVED = new WeakMap<FastifyInstance, Array<{ method: string; url: string }>>();

/** Every route the server answers (method, path template): the OpenAPI test compares them with the document. */
export function servedRoutes(app: FastifyInstance): Array<{ method: string; url: string }> {
  return SERVED.get(app) ?? [];
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: options.logLevel ?? "info" },
    bodyLimit: 1024 * 1024,
    // The contract has no HEAD routes; an undocumented HEAD would make the document lie.
    exposeHeadRoutes: false,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false } },
  });
  const served: Array<{ method: string; url: string }> = [];
  SERVED.set(app, served);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) served.push({ method, url: route.url });
  });
  // Schemas document responses; JSON.stringify serializes, so no schema can drop a field.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // The control plane sends Content-Type: application/json on every call, also without a body.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new InvalidJson("the body is not valid JSON"), undefined);
    }
  });

  const expected = options.apiKey ? digest(`Bearer ${options.apiKey}`) : undefined;
  app.addHook("onRequest", async (request, reply) => {
    if (!expected || OPEN_PATHS.has(pathOf(request.url))) return;
    const given = request.headers.authorization;
    // Digests of equal length: the comparison takes the same time whatever was sent.
    if (typeof given !== "string" || !timingSafeEqual(digest(given), expected)) {
      return reply.code(401).send({ detail: "Invalid API key" });
    }
  });

  const metrics = new AgentMetrics(
    () => options.operations.snapshot(),
    (error) => options.logger.warn(`metrics: could not read the workspaces: ${error instanceof Error ? error.message : String(error)}`),
  );
  app.addHook("onResponse", async (request, reply) => {
    metrics.countRequest(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode);
  });

  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ detail: "Not Found" }));
  app.setErrorHandler((error: FastifyError, request, reply) => answerError(error, request, reply, options.logger));

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "k8s-sandbox workspace agent",
        description: "code-hub's Agent API served on Kubernetes (docs/workspace-agent.md)",
        version: AGENT_VERSION,
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });

  app.get("/health", { schema: { ...schemas.health, security: [] } }, async () => ({ status: "healthy", version: AGENT_VERSION }));
  app.get("/metrics", { schema: { ...schemas.metrics, security: [] } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply
      .type(metrics.registry.contentType)
      .serializer((x: unknown) => String(x))
      .send(text);
  });
  app.get("/openapi.json", { schema: schemas.openapi }, async () => app.swagger());

  registerRoutes(app, options.operations, { jobWaitMs: options.jobWaitMs ?? 600_000 });
  return app;
}

function answerError(error: FastifyError, request: FastifyRequest, reply: FastifyReply, logger: Logger) {
  if (error instanceof WorkspaceError) {
    return reply.code(error.status).send({ error: { code: error.code, message: error.message } });
  }
  if (error instanceof WorkspaceInputError) {
    return reply.code(422).send({ detail: [{ loc: ["path_or_body", error.field], msg: error.message, type: "value_error" }] });
  }
  if (error.validation) {
    const where = error.validationContext ?? "body";
    return reply.code(422).send({
      detail: error.validation.map((v) => ({
        loc: [
          where,
          ...String(v.instancePath || (v.params as { missingProperty?: string }).missingProperty || "")
            .split("/")
            .filter(Boolean),
        ],
        msg: `${where}${v.instancePath} ${v.message ?? "is invalid"}`,
        type: v.keyword,
      })),
    });
  }
  if (error instanceof InvalidJson || error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    return reply.code(422).send({ detail: [{ loc: ["body"], msg: error.message, type: "value_error.jsondecode" }] });
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return reply.code(error.statusCode).send({ detail: error.message });
  }
  logger.error(`${request.method} ${pathOf(request.url)}: ${error.message}`);
  return reply.code(500).send({ detail: "Internal server error" });
}

function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
