// Request and response validation against the operation's own schemas. Each
// validator is compiled the first time its operation is used, then cached.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsImport from "ajv-formats";
import { toJsonSchema } from "./schema.js";
import { type JsonObject, type OpenApiOperation, type Route, resolveRef } from "./spec.js";

type FormatsPlugin = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS with a `default` export; which one we get depends on the loader.
const addFormats = ((addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? addFormatsImport) as unknown as FormatsPlugin;

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    validateSchema: false,
    logger: false,
    coerceTypes: coerce,
    useDefaults: coerce,
  });
  addFormats(ajv);
  // Formats GitHub made up; the description gives them no grammar.
  ajv.addFormat("repo.nwo", true);
  ajv.addFormat("timestamp", true);
  // GitHub sends "" for URLs never set (a deployment status's target_url defaults to ""), still typed `format: uri`.
  const uri = ajv.formats.uri as (value: string) => boolean;
  ajv.addFormat("uri", { type: "string", validate: (value: string) => value === "" || uri(value) });
  return ajv;
}

// Parameters arrive as strings and are coerced (and defaulted) like GitHub does; bodies and responses are checked as sent.
const paramsAjv = makeAjv(true);
const strictAjv = makeAjv(false);

export interface ValidationIssue {
  location: "path" | "query" | "body";
  field: string;
  code: "missing_field" | "invalid";
  message: string;
}

export type RequestValidation =
  | { ok: true; params: JsonObject; query: JsonObject; body: unknown }
  | { ok: false; issues: ValidationIssue[] };

interface RequestValidators {
  path: ValidateFunction;
  query: ValidateFunction;
  body?: { validate: ValidateFunction; required: boolean };
}

const requestCache = new Map<string, RequestValidators>();
const responseCache = new Map<string, ValidateFunction | null>();

function parameterObjectSchema(route: Route, location: "path" | "query"): JsonObject {
  const properties: JsonObject = {};
  const required: string[] = [];
  for (const parameter of route.parameters) {
    if (parameter.in !== location) continue;
    properties[parameter.name] = parameter.schema ?? {};
    if (parameter.required) required.push(parameter.name);
  }
  return toJsonSchema({ type: "object", properties, required });
}

function requestValidators(route: Route): RequestValidators {
  const key = `${route.method} ${route.template}`;
  let validators = requestCache.get(key);
  if (!validators) {
    validators = {
      path: paramsAjv.compile(parameterObjectSchema(route, "path")),
      query: paramsAjv.compile(parameterObjectSchema(route, "query")),
    };
    const requestBody = route.operation.requestBody ? resolveRef(route.operation.requestBody) : undefined;
    const schema = requestBody?.content?.["application/json"]?.schema;
    if (schema) validators.body = { validate: strictAjv.compile(toJsonSchema(schema)), required: requestBody?.required === true };
    requestCache.set(key, validators);
  }
  return validators;
}

function issuesFrom(location: ValidationIssue["location"], errors: ErrorObject[] | null | undefined): ValidationIssue[] {
  const issues = new Map<string, ValidationIssue>();
  for (const error of errors ?? []) {
    const base = error.instancePath.replace(/^\//, "").replaceAll("/", ".");
    if (error.keyword === "required") {
      const missing = String((error.params as { missingProperty?: string }).missingProperty);
      const field = base ? `${base}.${missing}` : missing;
      issues.set(`m:${field}`, { location, field, code: "missing_field", message: `"${field}" wasn't supplied.` });
    } else {
      const field = base || location;
      const message = `${location === "body" ? "" : `${location} parameter `}"${field}" ${error.message ?? "is invalid"}${
        error.keyword === "enum" ? `: ${(error.params as { allowedValues?: unknown[] }).allowedValues?.join(", ")}` : ""
      }.`;
      if (!issues.has(`i:${field}`)) issues.set(`i:${field}`, { location, field, code: "invalid", message });
    }
  }
  return [...issues.values()];
}

/** Checks path, query and JSON body; returns the coerced, defaulted values when all are valid. */
export function validateRequest(
  route: Route,
  input: { params: Record<string, string>; query: Record<string, string | string[]>; body: unknown; hasBody: boolean },
): RequestValidation {
  const validators = requestValidators(route);
  const params: JsonObject = { ...input.params };
  const query: JsonObject = { ...input.query };
  const issues: ValidationIssue[] = [];
  if (!validators.path(params)) issues.push(...issuesFrom("path", validators.path.errors));
  if (!validators.query(query)) issues.push(...issuesFrom("query", validators.query.errors));
  let body = input.body;
  if (validators.body) {
    if (!input.hasBody && !validators.body.required) body = undefined;
    else {
      if (!input.hasBody) body = {};
      if (!validators.body.validate(body)) issues.push(...issuesFrom("body", validators.body.validate.errors));
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, params, query, body };
}

function responseValidator(route: Route, status: number): ValidateFunction | null | "undocumented" {
  const key = `${route.method} ${route.template} ${status}`;
  if (responseCache.has(key)) return responseCache.get(key) ?? null;
  const documented = route.operation.responses[String(status)];
  let schema: unknown;
  if (documented) {
    schema = resolveRef<{ content?: Record<string, { schema?: unknown }> }>(documented).content?.["application/json"]?.schema;
  } else if (status >= 400) {
    // Undocumented errors still carry GitHub's usual error shape.
    schema = { $ref: "#/components/schemas/basic-error" };
  } else {
    return "undocumented";
  }
  const validate = schema ? strictAjv.compile(toJsonSchema(schema)) : null;
  responseCache.set(key, validate);
  return validate;
}

/** Problems with a response body for this operation and status; empty when GitHub could have sent it. */
export function responseProblems(route: Route, status: number, body: unknown): string[] {
  const validate = responseValidator(route, status);
  if (validate === "undocumented") return [`${route.operation.operationId} documents no ${status} response`];
  if (validate === null)
    return body === undefined || body === "" ? [] : [`a ${status} response of ${route.operation.operationId} has no body`];
  if (validate(body)) return [];
  return (validate.errors ?? [])
    .slice(0, 20)
    .map((e) => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"} ${JSON.stringify(e.params)}`);
}

export function documentationUrl(operation: OpenApiOperation): string {
  return operation.externalDocs?.url ?? "https://docs.github.com/rest";
}
