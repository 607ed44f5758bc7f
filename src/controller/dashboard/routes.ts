// The dashboard's routes on the controller's fastify server: the page at
// `/`, its script and style, and the event stream. All behind the one
// credential (auth.ts); without one configured every route answers 404 and
// says how to turn the dashboard on. Every answer carries a
// Content-Security-Policy that allows only this origin's script and style,
// no inline script, no frames, no forms.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DASHBOARD_CSS, DASHBOARD_JS, PAGE_HTML } from "./assets.js";
import { authorized, type DashboardCredential } from "./auth.js";
import type { DashboardFeed } from "./feed.js";

export const DASHBOARD_ROUTES = {
  page: "/",
  script: "/dashboard/app.js",
  style: "/dashboard/app.css",
  events: "/dashboard/events",
  // Browsers ask for it on their own; an empty answer keeps a 404 out of their console.
  icon: "/favicon.ico",
} as const;

export const DASHBOARD_OFF =
  "the dashboard is off: set K8S_SANDBOX_DASHBOARD_TOKEN (or --dashboard-token-file FILE) to a secret of at least 16 characters to turn it on; docs/controller.md, section Dashboard";

export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

const REALM = 'Basic realm="k8s-sandbox dashboard", charset="UTF-8"';

export interface DashboardRouteOptions {
  /** Undefined: the dashboard is off. */
  dashboard?: { feed: DashboardFeed; credential: DashboardCredential };
  /** Seconds between keep-alive comments on an open stream; default 25 (proxies close silent connections). */
  keepAliveSeconds?: number;
}

export function registerDashboard(app: FastifyInstance, options: DashboardRouteOptions): void {
  const { dashboard } = options;
  /** Answers the request itself and returns false unless it may see the dashboard. */
  const allowed = (request: FastifyRequest, reply: FastifyReply): boolean => {
    reply.headers(SECURITY_HEADERS);
    if (!dashboard) {
      reply.code(404).type("text/plain; charset=utf-8").send(`${DASHBOARD_OFF}\n`);
      return false;
    }
    if (!authorized(request.headers.authorization, dashboard.credential)) {
      reply
        .code(401)
        .header("www-authenticate", REALM)
        .type("text/plain; charset=utf-8")
        .send("sign in: the dashboard's user and token (basic auth), or the header Authorization: Bearer <token>\n");
      return false;
    }
    return true;
  };

  app.get(DASHBOARD_ROUTES.page, async (request, reply) => {
    if (allowed(request, reply)) return reply.type("text/html; charset=utf-8").send(PAGE_HTML);
    return reply;
  });
  app.get(DASHBOARD_ROUTES.script, async (request, reply) => {
    if (allowed(request, reply)) return reply.type("text/javascript; charset=utf-8").send(DASHBOARD_JS);
    return reply;
  });
  app.get(DASHBOARD_ROUTES.style, async (request, reply) => {
    if (allowed(request, reply)) return reply.type("text/css; charset=utf-8").send(DASHBOARD_CSS);
    return reply;
  });
  app.get(DASHBOARD_ROUTES.icon, async (request, reply) => {
    if (allowed(request, reply)) return reply.code(204).send();
    return reply;
  });
  app.get(DASHBOARD_ROUTES.events, (request, reply) => {
    if (!allowed(request, reply) || !dashboard) return reply;
    const { feed } = dashboard;
    if (feed.full) return reply.code(503).type("text/plain; charset=utf-8").send("too many dashboard pages are open; close one\n");
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
      // A proxy that buffers (nginx) would hold the events back.
      "x-accel-buffering": "no",
    });
    raw.write("retry: 3000\n\n");
    let ended = false;
    let unsubscribe: (() => void) | undefined;
    const keepAlive = setInterval(() => raw.write(": keep-alive\n\n"), (options.keepAliveSeconds ?? 25) * 1000);
    keepAlive.unref();
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      unsubscribe?.();
      raw.end();
    };
    unsubscribe = feed.subscribe({
      send: (message) => {
        // A page that does not read (1 MiB behind) is dropped rather than held in memory; its browser reconnects.
        if (raw.writableLength > 1024 * 1024) end();
        else raw.write(message);
      },
      end,
    });
    if (ended) unsubscribe?.();
    request.raw.on("close", end);
    return reply;
  });
}
