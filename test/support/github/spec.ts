// GitHub's own OpenAPI description, loaded once per process, and the route
// table that maps a request line onto one of its operations.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export type JsonObject = Record<string, unknown>;

export interface OpenApiParameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: JsonObject;
  "x-multi-segment"?: boolean;
}

export interface OpenApiOperation {
  operationId: string;
  summary?: string;
  externalDocs?: { url?: string };
  parameters?: Array<OpenApiParameter | { $ref: string }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonObject }> } | { $ref: string };
  responses: Record<string, JsonObject>;
}

export interface OpenApiSpec {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation | unknown>>;
  components: Record<"schemas" | "parameters" | "responses" | "examples" | "headers", Record<string, JsonObject>>;
}

export interface Route {
  method: string;
  template: string;
  operation: OpenApiOperation;
  /** Parameters resolved from `#/components/parameters`. */
  parameters: OpenApiParameter[];
  regex: RegExp;
  paramNames: string[];
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

let cachedSpec: OpenApiSpec | undefined;
let cachedRoutes: Route[] | undefined;
let specLoadMs = 0;

export function specPath(): string {
  return createRequire(import.meta.url).resolve("@octokit/openapi/generated/api.github.com.json");
}

/** The parsed description (13 MB of JSON, ~200 ms); parsed on first use, then shared. */
export function loadSpec(): OpenApiSpec {
  if (!cachedSpec) {
    const started = performance.now();
    cachedSpec = JSON.parse(readFileSync(specPath(), "utf8")) as OpenApiSpec;
    specLoadMs = performance.now() - started;
  }
  return cachedSpec;
}

/** How long parsing the description took in this process (0 before the first load). */
export function specLoadDuration(): number {
  return specLoadMs;
}

/** Follows one local `$ref` (`#/components/<kind>/<name>`) until a real object is reached. */
export function resolveRef<T>(value: T | { $ref: string }): T {
  let current: unknown = value;
  for (let hops = 0; hops < 10; hops++) {
    const ref = (current as { $ref?: unknown } | undefined)?.$ref;
    if (typeof ref !== "string") return current as T;
    const [hash, components, kind, name] = ref.split("/");
    if (hash !== "#" || components !== "components" || !kind || !name) throw new Error(`unsupported $ref ${ref}`);
    const target = (loadSpec().components as Record<string, Record<string, unknown>>)[kind]?.[name];
    if (target === undefined) throw new Error(`dangling $ref ${ref}`);
    current = target;
  }
  throw new Error("$ref chain too long");
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Literal segments beat parameters, and single-segment parameters beat
// multi-segment ones, so `/issues/comments` is never taken for `/issues/{issue_number}`.
function segmentRank(segment: string, multi: boolean): number {
  if (!segment.startsWith("{")) return 0;
  return multi ? 2 : 1;
}

function compareRoutes(a: Route, b: Route): number {
  const sa = a.template.split("/");
  const sb = b.template.split("/");
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const ra = segmentRank(sa[i] ?? "", isMulti(a, sa[i] ?? ""));
    const rb = segmentRank(sb[i] ?? "", isMulti(b, sb[i] ?? ""));
    if (ra !== rb) return ra - rb;
  }
  return sb.length - sa.length;
}

function isMulti(route: Route, segment: string): boolean {
  const name = segment.replace(/^\{|\}$/g, "");
  return route.parameters.some((p) => p.in === "path" && p.name === name && p["x-multi-segment"] === true);
}

function buildRoute(method: string, template: string, operation: OpenApiOperation, shared: unknown[]): Route {
  const parameters = [...shared, ...(operation.parameters ?? [])].map((p) => resolveRef<OpenApiParameter>(p as OpenApiParameter));
  const paramNames: string[] = [];
  const pattern = template
    .split("/")
    .map((segment) =>
      segment.replace(/\{([^}]+)\}|[^{]+/g, (whole, name: string | undefined) => {
        if (!name) return escapeRegex(whole);
        paramNames.push(name);
        const multi = parameters.some((p) => p.in === "path" && p.name === name && p["x-multi-segment"] === true);
        return multi ? "(.+)" : "([^/]+)";
      }),
    )
    .join("/");
  return { method, template, operation, parameters, regex: new RegExp(`^${pattern}$`), paramNames };
}

/** Every operation of the description, most specific path first. */
export function routes(): Route[] {
  if (!cachedRoutes) {
    const list: Route[] = [];
    for (const [template, item] of Object.entries(loadSpec().paths)) {
      const shared = ((item as { parameters?: unknown[] }).parameters ?? []) as unknown[];
      for (const [method, operation] of Object.entries(item)) {
        if (!HTTP_METHODS.has(method)) continue;
        list.push(buildRoute(method.toUpperCase(), template, operation as OpenApiOperation, shared));
      }
    }
    cachedRoutes = list.sort(compareRoutes);
  }
  return cachedRoutes;
}

/** The operation a request line addresses, with its raw (decoded) path parameters. */
export function matchRoute(method: string, pathname: string): RouteMatch | undefined {
  const upper = method.toUpperCase();
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  for (const route of routes()) {
    if (route.method !== upper) continue;
    const match = route.regex.exec(path);
    if (!match) continue;
    const params: Record<string, string> = {};
    route.paramNames.forEach((name, index) => {
      params[name] = decodeURIComponent(match[index + 1] ?? "");
    });
    return { route, params };
  }
  return undefined;
}

/** The route for a method and template, e.g. `("GET", "/repos/{owner}/{repo}")`. */
export function findRoute(method: string, template: string): Route {
  const route = routes().find((r) => r.method === method.toUpperCase() && r.template === template);
  if (!route) throw new Error(`the OpenAPI description has no ${method} ${template}`);
  return route;
}
