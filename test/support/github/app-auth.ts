// GitHub App authentication, as GitHub does it: the App signs a short JSON
// Web Token (RS256, iss = the App's id, at most 10 minutes) with its private
// key; with that JWT, and only with it, it may read itself (GET /app), find
// the installation of a repository, and trade the JWT for an installation
// token (POST /app/installations/{id}/access_tokens) that expires after an
// hour. Every other endpoint takes only an unexpired installation token, and
// only within the permissions it was issued with (app-permissions.ts).
import { createPublicKey, type KeyObject, randomBytes, verify } from "node:crypto";
import { APP_JWT_ENDPOINTS, missingPermission } from "./app-permissions.js";
import { repoApi } from "./factories-repo.js";
import { type Handler, notFound } from "./replies.js";
import { loadSpec } from "./spec.js";

export interface AppSeed {
  /** The App's id: the JWT's `iss`. */
  id: number;
  /** Its slug: what it writes as (`<slug>[bot]`). */
  slug: string;
  /** The public half of the App's key (PEM): JWTs are checked against it. */
  publicKey: string;
  /** The one installation, on the stand-in's repository. */
  installationId: number;
  /** Granted to the installation, and so to its tokens (the App manifest's default_permissions). */
  permissions: Record<string, string>;
  events: string[];
  /** How long an installation token lives; GitHub's live one hour. */
  tokenLifetimeMs?: number;
  /** The stand-in's clock (ms); tests move it to expire tokens. */
  now?: () => number;
}

interface IssuedToken {
  installationId: number;
  expiresAt: number;
  permissions: Record<string, string>;
}

export interface AppState {
  seed: AppSeed;
  key: KeyObject;
  tokens: Map<string, IssuedToken>;
  /** JWTs accepted, and refused with why (for tests). */
  jwtsAccepted: number;
  jwtsRefused: string[];
}

export function createAppState(seed: AppSeed): AppState {
  return { seed, key: createPublicKey(seed.publicKey), tokens: new Map(), jwtsAccepted: 0, jwtsRefused: [] };
}

const nowMs = (app: AppState) => (app.seed.now ?? Date.now)();

function base64urlJson(part: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Why GitHub would refuse this JWT (its own messages), or undefined. */
export function jwtProblem(app: AppState, jwt: string): string | undefined {
  const parts = jwt.split(".");
  if (parts.length !== 3) return "A JSON web token could not be decoded";
  const [head = "", body = "", signature = ""] = parts;
  const header = base64urlJson(head);
  const claims = base64urlJson(body);
  if (!header || !claims || header.alg !== "RS256") return "A JSON web token could not be decoded";
  if (!verify("RSA-SHA256", Buffer.from(`${head}.${body}`), app.key, Buffer.from(signature, "base64url"))) {
    return "A JSON web token could not be decoded";
  }
  const now = Math.floor(nowMs(app) / 1000);
  const { iat, exp, iss } = claims;
  if (String(iss) !== String(app.seed.id)) return `'Issuer' claim ('iss') must be the App's id (got ${JSON.stringify(iss)})`;
  // GitHub allows a little clock drift forward, and no token living past 10 minutes.
  if (typeof iat !== "number" || !Number.isInteger(iat) || iat > now + 60)
    return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
  if (typeof exp !== "number" || exp <= now)
    return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
  if (exp > now + 600 + 60) return "'Expiration time' claim ('exp') is too far in the future";
  return undefined;
}

export interface AppCredentials {
  problem?: string;
  /** What the request authenticated as: "app" (the JWT) or "installation <id>". */
  as?: string;
}

/** The credentials check of the App mode: a JWT for the App's own endpoints, an installation token for the rest. */
export function appCredentials(app: AppState, header: string | undefined, endpoint: string | undefined): AppCredentials {
  if (!header) return { problem: "Requires authentication" };
  const match = /^(token|bearer)\s+(\S+)$/i.exec(header.trim());
  const credential = match?.[2];
  if (!credential) return { problem: "Bad credentials" };
  if (endpoint && APP_JWT_ENDPOINTS.has(endpoint)) {
    const problem = jwtProblem(app, credential);
    if (problem) {
      app.jwtsRefused.push(problem);
      return { problem };
    }
    app.jwtsAccepted++;
    return { as: "app" };
  }
  const token = app.tokens.get(credential);
  if (!token || token.expiresAt <= nowMs(app)) return { problem: "Bad credentials" };
  return { as: `installation ${token.installationId}` };
}

/** Why the token's permissions do not cover the endpoint (GitHub answers 403), or undefined. */
export function installationForbids(app: AppState, header: string | undefined, endpoint: string): string | undefined {
  const credential = /^(?:token|bearer)\s+(\S+)$/i.exec(header?.trim() ?? "")?.[1] ?? "";
  const token = app.tokens.get(credential);
  if (!token) return undefined;
  const missing = missingPermission(token.permissions, endpoint);
  return missing ? `Resource not accessible by integration (needs ${missing})` : undefined;
}

/** An example of GitHub's own description, with our values over it: the shape is GitHub's, not ours. */
function example(name: string): Record<string, unknown> {
  const found = loadSpec().components.examples[name] as { value?: Record<string, unknown> } | undefined;
  if (!found?.value) throw new Error(`@octokit/openapi has no example ${name}`);
  return structuredClone(found.value);
}

function appOf(context: { state: { app?: AppState } }): AppState {
  const app = context.state.app;
  if (!app) throw new Error("the stand-in was started without an App");
  return app;
}

const getApp: Handler = (context) => {
  const app = appOf(context);
  const body = example("integration");
  Object.assign(body, {
    id: app.seed.id,
    slug: app.seed.slug,
    name: app.seed.slug,
    permissions: app.seed.permissions,
    events: app.seed.events,
    html_url: `https://github.com/apps/${app.seed.slug}`,
  });
  return { status: 200, body };
};

function installation(context: Parameters<Handler>[0], app: AppState): Record<string, unknown> {
  const body = example("installation");
  const { owner } = context.state.repository;
  Object.assign(body, {
    id: app.seed.installationId,
    app_id: app.seed.id,
    app_slug: app.seed.slug,
    target_type: "Organization",
    permissions: app.seed.permissions,
    events: app.seed.events,
    repository_selection: "selected",
    access_tokens_url: `${context.site.api}/app/installations/${app.seed.installationId}/access_tokens`,
    repositories_url: `${context.site.api}/installation/repositories`,
  });
  Object.assign(body.account as Record<string, unknown>, { login: owner });
  return body;
}

const getRepositoryInstallation: Handler = (context) => ({ status: 200, body: installation(context, appOf(context)) });

const createInstallationToken: Handler = (context) => {
  const app = appOf(context);
  if (context.params.installation_id !== app.seed.installationId) return notFound(context);
  const token = `ghs_${randomBytes(18).toString("base64url").replace(/[-_]/g, "A").slice(0, 36)}`;
  const expiresAt = nowMs(app) + (app.seed.tokenLifetimeMs ?? 3600_000);
  app.tokens.set(token, { installationId: app.seed.installationId, expiresAt, permissions: app.seed.permissions });
  const body = example("installation-token");
  const { owner, name, id } = context.state.repository;
  Object.assign(body, {
    token,
    expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
    permissions: app.seed.permissions,
    repository_selection: "selected",
  });
  const repositories = body.repositories as Record<string, unknown>[] | undefined;
  const first = repositories?.[0];
  if (first) {
    Object.assign(first, { id, name, full_name: `${owner}/${name}`, url: repoApi(context.site) });
    body.repositories = [first];
  }
  return { status: 201, body };
};

export const appRoutes: Record<string, Handler> = {
  "GET /app": getApp,
  "GET /repos/{owner}/{repo}/installation": getRepositoryInstallation,
  "POST /app/installations/{installation_id}/access_tokens": createInstallationToken,
};
