// JSON schemas of the Agent API (notes/agent-api.md §2, §8). Fastify
// validates bodies with them (a bad body is a 422, as FastAPI answers) and
// @fastify/swagger publishes them at /openapi.json, so the document is the
// code. Response schemas document; the server serializes with JSON.stringify
// so a schema can never drop a field the caller needs.

const str = { type: "string" } as const;
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: "null" }] });

export const workspaceIdParams = {
  type: "object",
  required: ["workspace_id"],
  properties: { workspace_id: { type: "string", description: "Workspace id (lower-case letters, digits, dashes; a uuid4 fits)" } },
} as const;

const errorBody = {
  type: "object",
  required: ["error"],
  properties: { error: { type: "object", required: ["code", "message"], properties: { code: str, message: str } } },
} as const;
const detailBody = { type: "object", properties: { detail: {} } } as const;

/** `{"status": <one of these>, "workspace_id": id}`, the answer of most routes. */
const statusBody = <S extends string>(...statuses: S[]) =>
  ({
    type: "object",
    required: ["status", "workspace_id"],
    properties: { status: { type: "string", enum: statuses }, workspace_id: str },
  }) as const;

const operation = statusBody("in_progress");

export const workspaceRecord = {
  type: "object",
  required: ["workspace_id", "container", "volume", "archive", "restore", "error"],
  properties: {
    workspace_id: str,
    container: nullable({
      type: "object",
      required: ["running", "healthy"],
      properties: { running: { type: "boolean" }, healthy: { type: "boolean" } },
    }),
    volume: nullable({ type: "object", required: ["exists"], properties: { exists: { type: "boolean" } } }),
    archive: nullable({
      type: "object",
      required: ["exists", "archive_key"],
      properties: { exists: { type: "boolean" }, archive_key: nullable(str) },
    }),
    restore: nullable({ type: "object", required: ["restore_op_id", "archive_key"], properties: { restore_op_id: str, archive_key: str } }),
    error: nullable({
      type: "object",
      required: ["operation", "error_code", "error_at", "archive_op_id", "restore_op_id"],
      properties: {
        operation: { type: "string", enum: ["archive", "restore"] },
        error_code: { type: "integer" },
        error_at: { type: "string", format: "date-time" },
        archive_op_id: nullable(str),
        restore_op_id: nullable(str),
      },
    }),
  },
} as const;

/** Responses every protected route can give besides its own. */
const common = {
  401: { description: "Missing or wrong bearer key", ...detailBody },
  422: { description: "Invalid path parameter or body", ...detailBody },
  500: { description: "Internal server error", ...detailBody },
} as const;

const withCommon = (own: Record<number, unknown>) => ({ ...own, ...common });

const upstream = {
  type: "object",
  required: ["hostname", "port", "url"],
  properties: { hostname: str, port: { type: "integer" }, url: str },
} as const;

export const schemas = {
  health: {
    tags: ["health"],
    response: { 200: { type: "object", required: ["status", "version"], properties: { status: str, version: str } } },
  },
  metrics: {
    tags: ["health"],
    produces: ["text/plain"],
    response: { 200: { description: "Prometheus text format", type: "string" } },
  },
  openapi: {
    tags: ["health"],
    response: withCommon({ 200: { description: "This document", type: "object", additionalProperties: true } }),
  },
  observe: {
    tags: ["workspaces"],
    response: withCommon({
      200: { type: "object", required: ["workspaces"], properties: { workspaces: { type: "array", items: workspaceRecord } } },
    }),
  },
  provision: {
    tags: ["workspaces"],
    params: workspaceIdParams,
    response: withCommon({
      201: statusBody("completed", "already_exists"),
    }),
  },
  start: {
    tags: ["workspaces"],
    params: workspaceIdParams,
    body: { type: "object", properties: { image: { anyOf: [{ type: "string" }, { type: "null" }] } } },
    response: withCommon({ 200: operation, 404: errorBody }),
  },
  stop: { tags: ["workspaces"], params: workspaceIdParams, response: withCommon({ 200: operation }) },
  delete: { tags: ["workspaces"], params: workspaceIdParams, response: withCommon({ 200: operation }) },
  archive: {
    tags: ["workspaces"],
    params: workspaceIdParams,
    body: { type: "object", required: ["archive_op_id"], properties: { archive_op_id: str } },
    response: withCommon({
      200: {
        type: "object",
        required: ["status", "workspace_id", "archive_key"],
        properties: { ...operation.properties, archive_key: str },
      },
      404: errorBody,
      409: errorBody,
    }),
  },
  restore: {
    tags: ["workspaces"],
    params: workspaceIdParams,
    body: { type: "object", required: ["archive_key", "restore_op_id"], properties: { archive_key: str, restore_op_id: str } },
    response: withCommon({
      200: {
        type: "object",
        required: ["status", "workspace_id", "restore_marker"],
        properties: { ...operation.properties, restore_marker: str },
      },
      404: errorBody,
      409: errorBody,
    }),
  },
  upstream: { tags: ["workspaces"], params: workspaceIdParams, response: withCommon({ 200: upstream, 404: errorBody }) },
  gc: {
    tags: ["workspaces"],
    body: {
      type: "object",
      required: ["archive_keys", "protected_workspaces"],
      properties: {
        archive_keys: { type: "array", items: str },
        protected_workspaces: { type: "array", items: { type: "array", items: str, minItems: 2, maxItems: 2 } },
        retention_count: { type: "integer", minimum: 0, default: 3 },
      },
    },
    response: withCommon({
      200: {
        type: "object",
        required: ["deleted_count", "deleted_keys"],
        properties: { deleted_count: { type: "integer" }, deleted_keys: { type: "array", items: str } },
      },
    }),
  },
  deleteArchive: {
    tags: ["workspaces"],
    querystring: { type: "object", required: ["archive_key"], properties: { archive_key: str } },
    response: withCommon({
      200: { type: "object", required: ["deleted", "archive_key"], properties: { deleted: { type: "boolean" }, archive_key: str } },
    }),
  },

  // The earlier route family (§8), served by the same operations.
  listInstances: {
    tags: ["earlier"],
    response: withCommon({
      200: {
        type: "object",
        required: ["instances"],
        properties: {
          instances: {
            type: "array",
            items: {
              type: "object",
              required: ["workspace_id", "running", "healthy"],
              properties: { workspace_id: str, running: { type: "boolean" }, healthy: { type: "boolean" } },
            },
          },
        },
      },
    }),
  },
  startInstance: {
    tags: ["earlier"],
    params: workspaceIdParams,
    body: { type: "object", properties: { image_ref: { anyOf: [{ type: "string" }, { type: "null" }] } } },
    response: withCommon({
      200: statusBody("started"),
      404: errorBody,
    }),
  },
  deleteInstance: {
    tags: ["earlier"],
    params: workspaceIdParams,
    response: withCommon({
      200: statusBody("deleted"),
    }),
  },
  instanceStatus: {
    tags: ["earlier"],
    params: workspaceIdParams,
    response: withCommon({
      200: {
        type: "object",
        required: ["exists", "running", "healthy", "reason", "message"],
        properties: { exists: { type: "boolean" }, running: { type: "boolean" }, healthy: { type: "boolean" }, reason: str, message: str },
      },
    }),
  },
  instanceUpstream: { tags: ["earlier"], params: workspaceIdParams, response: withCommon({ 200: upstream, 404: errorBody }) },
  listVolumes: {
    tags: ["earlier"],
    response: withCommon({
      200: {
        type: "object",
        required: ["volumes"],
        properties: {
          volumes: {
            type: "array",
            items: { type: "object", required: ["workspace_id", "exists"], properties: { workspace_id: str, exists: { type: "boolean" } } },
          },
        },
      },
    }),
  },
  createVolume: {
    tags: ["earlier"],
    params: workspaceIdParams,
    response: withCommon({
      201: statusBody("created", "already_exists"),
    }),
  },
  deleteVolume: {
    tags: ["earlier"],
    params: workspaceIdParams,
    response: withCommon({
      200: statusBody("deleted"),
    }),
  },
  volumeExists: {
    tags: ["earlier"],
    params: workspaceIdParams,
    response: withCommon({ 200: { type: "object", required: ["exists"], properties: { exists: { type: "boolean" } } } }),
  },
  job: {
    tags: ["earlier"],
    body: { type: "object", required: ["workspace_id", "op_id"], properties: { workspace_id: str, op_id: str } },
    response: withCommon({
      200: { type: "object", required: ["exit_code", "logs"], properties: { exit_code: { type: "integer" }, logs: str } },
      404: errorBody,
      409: errorBody,
    }),
  },
  storageGc: {
    tags: ["earlier"],
    body: {
      type: "object",
      required: ["protected"],
      properties: {
        protected: {
          type: "array",
          items: { type: "object", required: ["workspace_id", "op_id"], properties: { workspace_id: str, op_id: str } },
        },
      },
    },
    response: withCommon({
      200: {
        type: "object",
        required: ["deleted_count", "deleted_keys"],
        properties: { deleted_count: { type: "integer" }, deleted_keys: { type: "array", items: str } },
      },
    }),
  },
} as const;
