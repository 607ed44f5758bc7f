// The controller's HTTP surface (fastify): the webhook endpoint at Octokit's
// default path, health, readiness, metrics and the dashboard. The body of a delivery is
// kept as the exact bytes received, since the signature is over them, and
// its size is checked before anything is parsed.
import Fastify, { type FastifyInstance } from "fastify";
import { type DashboardRouteOptions, registerDashboard } from "./dashboard/routes.js";
import type { Intake } from "./intake.js";
import type { ControllerMetrics } from "./metrics.js";

export const WEBHOOK_PATH = "/api/github/webhooks";

export interface ServerOptions {
  intake: Intake;
  metrics: ControllerMetrics;
  /** Why the controller is not ready (API server, GitHub credentials), or undefined when it is. */
  readiness: () => Promise<string | undefined>;
  /** Largest delivery accepted, in bytes; GitHub caps payloads at 25 MB. Default 25 MiB. */
  bodyLimit?: number;
  /** The dashboard at `/`; undefined: off (its routes answer 404 saying how to turn it on). */
  dashboard?: DashboardRouteOptions["dashboard"];
}

export function buildServer(options: ServerOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? 25 * 1024 * 1024;
  // No request logging: the intake logs each delivery once, with its id and what became of it.
  const app = Fastify({ bodyLimit, logger: false, return503OnClosing: true });
  // Raw bytes: the signature is checked over exactly what arrived, then the intake parses.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer", bodyLimit }, (_request, body, done) => done(null, body));

  app.post(WEBHOOK_PATH, async (request, reply) => {
    const started = performance.now();
    const body = request.body instanceof Buffer ? request.body : Buffer.alloc(0);
    const answer = await options.intake.receive(request.headers, body);
    options.metrics.ackSeconds.observe((performance.now() - started) / 1000);
    return reply.code(answer.status).send({ result: answer.result, message: answer.message });
  });
  registerDashboard(app, { dashboard: options.dashboard });
  // Open event streams would keep close() waiting for ever.
  app.addHook("preClose", async () => options.dashboard?.feed.close());
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const problem = await options.readiness();
    return problem ? reply.code(503).send({ status: "not ready", reason: problem }) : { status: "ready" };
  });
  app.get("/metrics", async (_request, reply) =>
    reply.header("content-type", options.metrics.registry.contentType).send(await options.metrics.registry.metrics()),
  );
  // Too big, wrong content type, unreadable: answered before the intake sees it, and counted as refused.
  app.setErrorHandler((error: { statusCode?: number; message: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (request.url === WEBHOOK_PATH) {
      const event = request.headers["x-github-event"];
      options.metrics.count(typeof event === "string" ? event : undefined, "refused");
    }
    const message =
      status === 413
        ? `the delivery is larger than the controller accepts (${bodyLimit} bytes)`
        : status === 415
          ? "send the webhook as application/json (the webhook's content type setting on GitHub)"
          : status === 500
            ? "internal error"
            : error.message;
    return reply.code(status).send({ result: "refused", message });
  });
  return app;
}
