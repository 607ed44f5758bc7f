// The request pipeline: the checks GitHub makes before an endpoint runs
// (User-Agent, credentials, route, parameters, body), then the handler, then a
// check that the answer is one GitHub could have given.
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { type AppState, appCredentials, installationForbids } from "./app-auth.js";
import type { Site } from "./factories-repo.js";
import { errorBody, type Handler, type Reply, validationFailed } from "./replies.js";
import { matchRoute, type Route } from "./spec.js";
import type { StandinState } from "./state.js";
import { documentationUrl, responseProblems, validateRequest } from "./validator.js";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** `issues/create-comment`, when the request matched an operation. */
  operationId?: string;
  /** The path template, e.g. `/repos/{owner}/{repo}/issues/{issue_number}/comments`. */
  route?: string;
  status: number;
  response?: unknown;
  /** Why the request was refused, or why the stand-in failed it. */
  reason?: string;
  /** The answer came from `failNext`, not from the endpoint. */
  injected?: boolean;
  /** With an App: what the request authenticated as, "app" (its JWT) or "installation <id>". */
  authenticatedAs?: string;
}

export interface InjectedFailure {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface Pipeline {
  site: Site;
  state: StandinState;
  handlers: Record<string, Handler>;
  token?: string;
  validateResponses: boolean;
  failures: InjectedFailure[];
  requests: RecordedRequest[];
  rejected: RecordedRequest[];
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function queryObject(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? (values[0] as string) : values;
  }
  return query;
}

function credentialsProblem(header: string | undefined, token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (!header) return "Requires authentication";
  const match = /^(?:token|bearer)\s+(\S+)$/i.exec(header.trim());
  return match?.[1] === token ? undefined : "Bad credentials";
}

function rateLimitHeaders(state: StandinState, counts: boolean): Record<string, string> {
  if (counts) state.rateLimit.used += 1;
  const { limit, used, reset } = state.rateLimit;
  return {
    "x-ratelimit-limit": String(limit),
    "x-ratelimit-remaining": String(Math.max(0, limit - used)),
    "x-ratelimit-reset": String(reset),
    "x-ratelimit-used": String(used),
    "x-ratelimit-resource": "core",
  };
}

function send(response: ServerResponse, reply: Reply, headers: Record<string, string>): void {
  const all: Record<string, string> = {
    "x-github-request-id": randomUUID().toUpperCase(),
    "x-github-api-version-selected": "2022-11-28",
    "x-github-media-type": "github.v3; format=json",
    ...headers,
    ...reply.headers,
  };
  if (reply.body === undefined) {
    response.writeHead(reply.status, all).end();
    return;
  }
  const text = JSON.stringify(reply.body);
  response
    .writeHead(reply.status, {
      ...all,
      "content-type": "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(text)),
    })
    .end(text);
}

function repositoryMatches(state: StandinState, params: Record<string, string>): boolean {
  if (params.owner === undefined || params.repo === undefined) return true;
  const { owner, name } = state.repository;
  return params.owner.toLowerCase() === owner.toLowerCase() && params.repo.toLowerCase() === name.toLowerCase();
}

// Records end up in test failure output; keep the credential's scheme, not the credential.
function redacted(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const authorization = headers.authorization;
  if (!authorization) return { ...headers };
  return { ...headers, authorization: `${authorization.split(/\s+/)[0]} [redacted]` };
}

interface Outcome {
  reply: Reply;
  route?: Route;
  reason?: string;
  injected?: boolean;
  authenticatedAs?: string;
}

function decide(pipeline: Pipeline, request: IncomingMessage, url: URL, rawBody: string): Outcome {
  const method = request.method ?? "GET";
  const match = matchRoute(method, url.pathname);
  const route = match?.route;
  const failure = pipeline.failures.shift();
  if (failure) return { reply: failure, route, injected: true };
  if (!request.headers["user-agent"]) {
    const message = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.";
    return { reply: { status: 403, body: errorBody(403, message) }, route, reason: "no User-Agent header" };
  }
  const app: AppState | undefined = pipeline.state.app;
  const endpoint = route ? `${route.method} ${route.template}` : undefined;
  const asApp = app ? appCredentials(app, request.headers.authorization, endpoint) : undefined;
  const credentials = asApp ? asApp.problem : credentialsProblem(request.headers.authorization, pipeline.token);
  if (credentials) return { reply: { status: 401, body: errorBody(401, credentials) }, route, reason: credentials };
  const authenticatedAs = asApp?.as;
  if (!match || !route)
    return { reply: { status: 404, body: errorBody(404, "Not Found") }, reason: `no operation for ${method} ${url.pathname}` };
  const forbidden = app && endpoint ? installationForbids(app, request.headers.authorization, endpoint) : undefined;
  if (forbidden) {
    const reply = { status: 403, body: errorBody(403, forbidden, documentationUrl(route.operation)) };
    return { reply, route, reason: forbidden, authenticatedAs };
  }
  const docs = documentationUrl(route.operation);
  let body: unknown;
  if (rawBody.trim() !== "") {
    try {
      body = JSON.parse(rawBody);
    } catch {
      return { reply: { status: 400, body: errorBody(400, "Problems parsing JSON", docs) }, route, reason: "body is not JSON" };
    }
  }
  const checked = validateRequest(route, { params: match.params, query: queryObject(url), body, hasBody: body !== undefined });
  if (!checked.ok) {
    const message = `Invalid request.\n\n${checked.issues.map((i) => i.message).join("\n")}`;
    const errors = checked.issues.map((i) => ({ resource: route.operation.operationId, field: i.field, code: i.code, message: i.message }));
    return { reply: validationFailed(docs, message, errors), route, reason: message };
  }
  if (!repositoryMatches(pipeline.state, match.params))
    return { reply: { status: 404, body: errorBody(404, "Not Found", docs) }, route, authenticatedAs };
  const handler = pipeline.handlers[`${route.method} ${route.template}`];
  if (!handler) {
    const message = `the GitHub stand-in does not implement ${route.operation.operationId} (${route.method} ${route.template})`;
    return { reply: { status: 501, body: errorBody(501, message, docs) }, route, reason: message, authenticatedAs };
  }
  const reply = handler({
    site: pipeline.site,
    state: pipeline.state,
    params: checked.params,
    query: checked.query,
    body: checked.body,
    url,
    documentationUrl: docs,
  });
  if (pipeline.validateResponses) {
    const problems = responseProblems(route, reply.status, reply.body);
    if (problems.length > 0) {
      const message = `the GitHub stand-in produced an invalid ${reply.status} response for ${route.operation.operationId}: ${problems.join("; ")}`;
      return { reply: { status: 500, body: errorBody(500, message, docs) }, route, reason: message, authenticatedAs };
    }
  }
  return { reply, route, authenticatedAs };
}

export async function handle(pipeline: Pipeline, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", pipeline.site.api);
  const rawBody = await readBody(request);
  let outcome: Outcome;
  try {
    outcome = decide(pipeline, request, url, rawBody);
  } catch (error) {
    const message = `the GitHub stand-in crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    outcome = { reply: { status: 500, body: errorBody(500, message) }, reason: message };
  }
  const { reply, route, reason, injected, authenticatedAs } = outcome;
  let parsedBody: unknown = rawBody;
  try {
    parsedBody = rawBody.trim() === "" ? undefined : JSON.parse(rawBody);
  } catch {
    // Keep the raw text: the record should show what was sent.
  }
  const record: RecordedRequest = {
    method: request.method ?? "GET",
    path: url.pathname,
    query: queryObject(url),
    headers: redacted(request.headers),
    body: parsedBody,
    status: reply.status,
    response: reply.body,
  };
  if (route) {
    record.operationId = route.operation.operationId;
    record.route = route.template;
  }
  if (reason) record.reason = reason;
  if (injected) record.injected = true;
  if (authenticatedAs) record.authenticatedAs = authenticatedAs;
  pipeline.requests.push(record);
  if (reason) pipeline.rejected.push(record);
  send(response, reply, rateLimitHeaders(pipeline.state, route?.template !== "/rate_limit"));
}
