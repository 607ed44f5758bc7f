// The dashboard's HTTP surface on a real fastify server on loopback: off by
// default, the credential, the security headers, the page without inline
// script, and the event stream (fed here from a namespace list in memory;
// test/integration/controller-dashboard.test.ts feeds it from the ground's
// watch and reads it in Chromium).
import { Script } from "node:vm";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { NamespaceShape } from "../../src/adapters/kubernetes/client.js";
import { serve as serveCommand } from "../../src/cli/serve.js";
import { DASHBOARD_JS, PAGE_HTML } from "../../src/controller/dashboard/assets.js";
import { authorized, credentialProblem } from "../../src/controller/dashboard/auth.js";
import { DashboardFeed } from "../../src/controller/dashboard/feed.js";
import { DASHBOARD_ROUTES, registerDashboard } from "../../src/controller/dashboard/routes.js";
import { namespaceMetadata } from "../../src/domain/metadata.js";

const TOKEN = "a-dashboard-token-of-some-length";
const CREDENTIAL = { user: "admin", token: TOKEN };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

function namespace(key: string, branch: string): NamespaceShape {
  const meta = namespaceMetadata({ key, repo: "acme/shop", branch, status: "ready", createdAt: new Date("2026-11-26T07:00:00Z") });
  return { name: `dev-sandbox-${key}`, labels: meta.labels, annotations: meta.annotations };
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function serve(options: { on: boolean; namespaces?: NamespaceShape[]; maxClients?: number }) {
  const namespaces = options.namespaces ?? [];
  const feed = new DashboardFeed({
    prefix: "dev-sandbox-",
    githubUrl: "https://github.com",
    snapshot: () => namespaces,
    problem: () => undefined,
    maxClients: options.maxClients,
  });
  app = Fastify({ logger: false });
  registerDashboard(app, { dashboard: options.on ? { feed, credential: CREDENTIAL } : undefined });
  app.addHook("preClose", async () => feed.close());
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, feed, namespaces };
}

/** Reads Server-Sent Events from a response until `count` have arrived. */
async function readEvents(response: Response, count: number): Promise<{ event: string; data: unknown }[]> {
  const reader = response.body?.getReader();
  if (!reader) throw new Error("no body");
  const events: { event: string; data: unknown }[] = [];
  let text = "";
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    let end = text.indexOf("\n\n");
    while (end >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data) });
      end = text.indexOf("\n\n");
    }
  }
  await reader.cancel();
  return events;
}

describe("the dashboard when no credential is configured", () => {
  it.each(Object.values(DASHBOARD_ROUTES))("%s answers 404 and says how to turn it on", async (path) => {
    const { url } = await serve({ on: false });
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("K8S_SANDBOX_DASHBOARD_TOKEN");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
  });
});

describe("the dashboard's credential", () => {
  it.each([
    ["no header", undefined],
    ["a wrong bearer token", `Bearer ${TOKEN}x`],
    ["an empty bearer token", "Bearer "],
    ["basic auth with a wrong user", basic("root", TOKEN)],
    ["basic auth with a wrong password", basic("admin", "guess")],
    ["basic auth that is not base64 of user:password", "Basic !!!"],
    ["another scheme", `Token ${TOKEN}`],
  ])("%s: 401 with a basic-auth challenge", async (_what, header) => {
    const { url } = await serve({ on: true });
    const response = await fetch(url, { headers: header ? { authorization: header } : {} });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    expect(await response.text()).not.toContain("<table");
  });

  it.each([
    ["a bearer token", `Bearer ${TOKEN}`],
    ["basic auth", basic("admin", TOKEN)],
    ["a lower-case scheme", `bearer ${TOKEN}`],
  ])("%s opens the page", async (_what, header) => {
    const { url } = await serve({ on: true });
    const response = await fetch(url, { headers: { authorization: header } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
  });

  it("authorized() compares user and token, and a password may hold a colon", () => {
    const withColon = { user: "ops", token: "with:colon:inside-0123" };
    expect(authorized(basic("ops", "with:colon:inside-0123"), withColon)).toBe(true);
    expect(authorized(basic("ops", "with:colon"), withColon)).toBe(false);
    expect(authorized(`Bearer ${TOKEN}`, CREDENTIAL)).toBe(true);
    expect(authorized(`Bearer  ${TOKEN} `, CREDENTIAL)).toBe(true);
    expect(authorized(`Bearer${TOKEN}`, CREDENTIAL)).toBe(false);
  });

  it("refuses a short token or a user with a colon", () => {
    expect(credentialProblem({ user: "admin", token: "short" })).toMatch(/shorter than 16/);
    expect(credentialProblem({ user: "a:b", token: TOKEN })).toMatch(/colon/);
    expect(credentialProblem(CREDENTIAL)).toBeUndefined();
  });
});

describe("the page", () => {
  it("has no inline script and no external asset, under a CSP that allows neither", async () => {
    const { url } = await serve({ on: true });
    const response = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await response.text();
    for (const tag of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
      expect(tag[0]).toMatch(/src="dashboard\/app\.js"/);
      expect(tag[1]).toBe("");
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it("serves its script and style as their own routes", async () => {
    const { url } = await serve({ on: true });
    const headers = { authorization: `Bearer ${TOKEN}` };
    const script = await fetch(`${url}${DASHBOARD_ROUTES.script}`, { headers });
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await script.text()).toBe(DASHBOARD_JS);
    const style = await fetch(`${url}${DASHBOARD_ROUTES.style}`, { headers });
    expect(style.headers.get("content-type")).toBe("text/css; charset=utf-8");
  });

  it("its script compiles, and never parses data as HTML", () => {
    expect(() => new Script(DASHBOARD_JS, { filename: "app.js" })).not.toThrow();
    expect(DASHBOARD_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(PAGE_HTML).not.toMatch(/style=/);
  });
});

describe("the event stream", () => {
  it("sends the table at once, then each change, one event per change whatever the text holds", async () => {
    const { url, feed, namespaces } = await serve({ on: true, namespaces: [namespace("a", "main")] });
    const response = await fetch(`${url}${DASHBOARD_ROUTES.events}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const hostile = 'x\n\nevent: remove\ndata: {"namespace":"dev-sandbox-a"}\n\n';
    const added = namespace("b", hostile);
    namespaces.push(added);
    // The page was subscribed (and its snapshot written) before the response's headers arrived.
    const reading = readEvents(response, 3);
    feed.changed({ type: "upsert", namespace: added });
    feed.changed({ type: "remove", name: "dev-sandbox-a" });
    const events = await reading;
    expect(events.map((e) => e.event)).toEqual(["snapshot", "upsert", "remove"]);
    const snapshot = events[0]?.data as { rows: { key: string }[] };
    expect(snapshot.rows.map((r) => r.key)).toContain("a");
    expect((events[1]?.data as { branch?: { text: string } } | undefined)?.branch?.text).toBe(hostile);
    expect(events[2]?.data).toEqual({ namespace: "dev-sandbox-a" });
  });

  it("refuses pages beyond the limit, and shutdown ends the open streams", async () => {
    const { url } = await serve({ on: true, maxClients: 1 });
    const headers = { authorization: `Bearer ${TOKEN}` };
    const first = await fetch(`${url}${DASHBOARD_ROUTES.events}`, { headers });
    expect(first.status).toBe(200);
    const second = await fetch(`${url}${DASHBOARD_ROUTES.events}`, { headers });
    expect(second.status).toBe(503);
    await app?.close();
    app = undefined;
    // The stream ended: reading it to the end finishes.
    expect(await first.text()).toContain("event: snapshot");
  });
});

describe("the feed", () => {
  it("a namespace that stops being one of ours (its label taken off) leaves the table", () => {
    const feed = new DashboardFeed({
      prefix: "dev-sandbox-",
      githubUrl: "https://github.com",
      snapshot: () => [],
      problem: () => undefined,
    });
    const sent: string[] = [];
    feed.subscribe({ send: (text) => sent.push(text), end: () => undefined });
    const ours = namespace("a", "main");
    feed.changed({ type: "upsert", namespace: ours });
    feed.changed({ type: "upsert", namespace: { ...ours, labels: {} } });
    // Another prefix's namespaces are not this controller's: nothing is sent for them.
    feed.changed({ type: "remove", name: "other-prefix-a" });
    expect(sent.map((text) => /^event: (\w+)/.exec(text)?.[1])).toEqual(["snapshot", "upsert", "remove"]);
    feed.close();
  });
});

describe("k8s-sandbox serve", () => {
  it("refuses to start with a dashboard token shorter than 16 characters, before listening", async () => {
    const env = {
      GITHUB_WEBHOOK_SECRET: "a-webhook-secret-of-length",
      GITHUB_TOKEN: "ghs_token",
      K8S_SANDBOX_DASHBOARD_TOKEN: "short",
    };
    await expect(serveCommand(["--port", "0", "--host", "127.0.0.1"], env)).rejects.toThrow(
      /dashboard token is shorter than 16 characters.*K8S_SANDBOX_DASHBOARD_TOKEN/,
    );
  });
});
