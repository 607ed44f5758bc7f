// Turns OpenAPI 3.0.3 schemas into self-contained JSON Schemas that ajv can
// compile: component `$ref`s become `$defs`, and `nullable` becomes an explicit
// alternative with null (ajv's own `nullable` support refuses schemas without
// `type`, which GitHub's description has over a hundred of).
import { type JsonObject, loadSpec } from "./spec.js";

const SCHEMA_REF = "#/components/schemas/";
const converted = new Map<string, unknown>();

function convert(node: unknown, found: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((item) => convert(item, found));
  if (node === null || typeof node !== "object") return node;
  const source = node as JsonObject;
  if (typeof source.$ref === "string") {
    if (!source.$ref.startsWith(SCHEMA_REF)) throw new Error(`unexpected $ref in a schema: ${source.$ref}`);
    const name = source.$ref.slice(SCHEMA_REF.length);
    found.add(name);
    return { $ref: `#/$defs/${encodeURIComponent(name)}` };
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === "nullable" || key === "example" || key === "examples" || key.startsWith("x-")) continue;
    // `properties` and `patternProperties` map names to schemas, and a property may be called `nullable`.
    if ((key === "properties" || key === "patternProperties") && value && typeof value === "object") {
      out[key] = Object.fromEntries(Object.entries(value as JsonObject).map(([name, schema]) => [name, convert(schema, found)]));
    } else if (key === "enum" || key === "required" || key === "default") {
      out[key] = value;
    } else {
      out[key] = convert(value, found);
    }
  }
  if (source.nullable === true) {
    // An enum that lists no null would still refuse null inside the first branch, which is what we want: the second branch admits it.
    return { anyOf: [out, { type: "null" }] };
  }
  return out;
}

function componentDependencies(name: string): { schema: unknown; refs: Set<string> } {
  const refs = new Set<string>();
  const source = loadSpec().components.schemas[name];
  if (!source) throw new Error(`the OpenAPI description has no schema ${name}`);
  const schema = convert(source, refs);
  return { schema, refs };
}

const dependencyCache = new Map<string, Set<string>>();

function definition(name: string): { schema: unknown; refs: Set<string> } {
  const cached = converted.get(name);
  const refs = dependencyCache.get(name);
  if (cached !== undefined && refs) return { schema: cached, refs };
  const fresh = componentDependencies(name);
  converted.set(name, fresh.schema);
  dependencyCache.set(name, fresh.refs);
  return fresh;
}

/**
 * A JSON Schema for an OpenAPI schema object, carrying every component it
 * reaches (transitively) under `$defs`, so it compiles on its own.
 */
export function toJsonSchema(openApiSchema: unknown): JsonObject {
  const pending = new Set<string>();
  const root = convert(openApiSchema, pending);
  const defs: JsonObject = {};
  const queue = [...pending];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    const key = encodeURIComponent(name);
    if (key in defs) continue;
    const { schema, refs } = definition(name);
    defs[key] = schema;
    for (const ref of refs) if (!(encodeURIComponent(ref) in defs)) queue.push(ref);
  }
  // `allOf` keeps the root's keywords in force even when the root is a bare `$ref` (draft-07 ignores `$ref` siblings).
  return { $defs: defs, allOf: [root] };
}

/** A component schema by name (`issue-comment`, `deployment`, ...), as a self-contained JSON Schema. */
export function componentSchema(name: string): JsonObject {
  return toJsonSchema({ $ref: `${SCHEMA_REF}${name}` });
}
