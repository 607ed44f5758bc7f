// docs/github-app-manifest.json asks GitHub for exactly what the controller
// uses. The endpoints are read from the code (every Octokit REST method the
// GitHub adapter calls, every route the App access requests), mapped to their
// routes by @octokit/plugin-rest-endpoint-methods, and looked up in the
// permission table of test/support/github/app-permissions.ts (GitHub's own
// permission list; @octokit/openapi has none). The manifest must cover every
// endpoint the controller cannot do without, grant nothing that could be
// taken away without breaking one, and subscribe to exactly the events the
// intake handles.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { HANDLED_EVENTS } from "../../src/domain/delivery.js";
import {
  APP_JWT_ENDPOINTS,
  ENDPOINT_PERMISSIONS,
  EVENT_PERMISSIONS,
  grants,
  TOKEN_ONLY_ENDPOINTS,
} from "../support/github/app-permissions.js";
import { findRoute } from "../support/github/spec.js";

interface Manifest {
  name: string;
  url: string;
  hook_attributes: { url: string; active?: boolean };
  redirect_url: string;
  public: boolean;
  default_permissions: Record<string, string>;
  default_events: string[];
}

const manifest = JSON.parse(readFileSync("docs/github-app-manifest.json", "utf8")) as Manifest;

/** Octokit's own map from `rest.<scope>.<method>` to "METHOD /route". */
async function octokitRoutes(): Promise<Record<string, Record<string, string[]>>> {
  const entry = createRequire(import.meta.url).resolve("@octokit/plugin-rest-endpoint-methods");
  const file = join(dirname(entry), "generated", "endpoints.js");
  return (await import(pathToFileURL(file).href)).default;
}

/** Every GitHub endpoint the controller's code can call. */
async function endpointsInCode(): Promise<Set<string>> {
  const routes = await octokitRoutes();
  const found = new Set<string>();
  const adapter = readFileSync("src/adapters/github/client.ts", "utf8");
  for (const [, scope, method] of adapter.matchAll(/this\.octokit\.rest\.(\w+)\.(\w+)/g)) {
    const route = routes[scope as string]?.[method as string]?.[0];
    if (!route) throw new Error(`octokit.rest.${scope}.${method} is not a REST method Octokit knows`);
    found.add(route);
  }
  const access = readFileSync("src/controller/github-access.ts", "utf8");
  for (const [, route] of access.matchAll(/request\("([A-Z]+ \/[^"]*)"/g)) found.add(route as string);
  // @octokit/auth-app trades the App's JWT for an installation token when asked for one.
  if (/\.auth\(\{\s*type:\s*"installation"/.test(access)) found.add("POST /app/installations/{installation_id}/access_tokens");
  return found;
}

/** Whether these permissions cover every endpoint the controller needs, and every event it subscribes to. */
function covers(granted: Record<string, string>): boolean {
  const endpoints = Object.values(ENDPOINT_PERMISSIONS).filter((e) => !e.optional);
  return (
    endpoints.every((e) => e.anyOf.some((need) => grants(granted, need))) &&
    manifest.default_events.every((event) => {
      const need = EVENT_PERMISSIONS[event];
      return need !== undefined && grants(granted, need);
    })
  );
}

describe("the GitHub App manifest", () => {
  it("is GitHub's manifest format: name, url, webhook at the controller's path, redirect, private", () => {
    expect(manifest.name.length).toBeGreaterThan(0);
    expect(manifest.name.length).toBeLessThanOrEqual(34); // GitHub's limit for an App name
    expect(new URL(manifest.url).protocol).toBe("https:");
    expect(new URL(manifest.hook_attributes.url).pathname).toBe("/api/github/webhooks");
    expect(new URL(manifest.redirect_url).protocol).toBe("https:");
    expect(manifest.public).toBe(false);
  });

  it("the permission table knows every endpoint the code calls, and only those, and each is a real GitHub route", async () => {
    const inCode = await endpointsInCode();
    // A new call to GitHub fails here until its permission is looked up and written into the table.
    const known = new Set([...Object.keys(ENDPOINT_PERMISSIONS), ...APP_JWT_ENDPOINTS, ...TOKEN_ONLY_ENDPOINTS]);
    expect([...inCode].filter((e) => !known.has(e))).toEqual([]);
    expect([...known].filter((e) => !inCode.has(e))).toEqual([]);
    for (const endpoint of known) {
      const [method = "", template = ""] = endpoint.split(" ");
      expect(() => findRoute(method, template), endpoint).not.toThrow();
    }
    expect(inCode.size).toBeGreaterThanOrEqual(20);
  });

  it("grants every permission the controller needs", () => {
    for (const [endpoint, needed] of Object.entries(ENDPOINT_PERMISSIONS)) {
      if (needed.optional) continue;
      expect(
        needed.anyOf.some((need) => grants(manifest.default_permissions, need)),
        `${endpoint} needs ${needed.anyOf.map((n) => n.join(": ")).join(" or ")}`,
      ).toBe(true);
    }
    expect(covers(manifest.default_permissions)).toBe(true);
  });

  it("grants nothing more: without any one permission, or with read instead of write, something breaks", () => {
    const granted = manifest.default_permissions;
    for (const [permission, access] of Object.entries(granted)) {
      // Every App has metadata: read; GitHub adds it back when it is taken away.
      if (permission === "metadata") continue;
      const without = Object.fromEntries(Object.entries(granted).filter(([p]) => p !== permission));
      expect(covers(without), `${permission} is not needed`).toBe(false);
      if (access === "write") expect(covers({ ...granted, [permission]: "read" }), `${permission}: write is more than needed`).toBe(false);
    }
    expect(granted.metadata).toBe("read");
  });

  it("leaves out what is optional: Administration (deleting environments) would also let the App delete the repository", () => {
    const optional = Object.entries(ENDPOINT_PERMISSIONS).filter(([, e]) => e.optional);
    expect(optional.map(([endpoint]) => endpoint)).toEqual(["DELETE /repos/{owner}/{repo}/environments/{environment_name}"]);
    expect(manifest.default_permissions.administration).toBeUndefined();
  });

  it("subscribes to exactly the events the intake handles, each allowed by a granted permission", () => {
    expect([...manifest.default_events].sort()).toEqual([...HANDLED_EVENTS].sort());
    for (const event of manifest.default_events) {
      const need = EVENT_PERMISSIONS[event];
      expect(need, event).toBeDefined();
      expect(grants(manifest.default_permissions, need as NonNullable<typeof need>), event).toBe(true);
    }
  });
});
