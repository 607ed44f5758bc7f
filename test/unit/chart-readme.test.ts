// values.yaml documents every key (`## @param`), the README's parameter table
// lists exactly those, and values.schema.json knows each of them: the three
// cannot drift apart.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartDir } from "../support/helm.js";

const valuesText = readFileSync(join(chartDir, "values.yaml"), "utf8");
const values = parse(valuesText) as Record<string, unknown>;
const params = [...valuesText.matchAll(/^\s*## @param (\S+) \S/gm)].map((m) => m[1] as string);
const readme = readFileSync(join(chartDir, "README.md"), "utf8");
const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8"));

/** Leaf keys: scalars, lists and empty maps. */
function leaves(value: unknown, prefix = ""): string[] {
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

function lookup(object: unknown, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>((cur, key) => (cur && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined), object);
}

// biome-ignore lint/suspicious/noExplicitAny: JSON schema
function schemaAt(path: string): any {
  // biome-ignore lint/suspicious/noExplicitAny: JSON schema
  let node: any = schema;
  for (const key of path.split(".")) {
    while (node?.$ref) node = lookup(schema, node.$ref.replace("#/", "").replaceAll("/", "."));
    node = node?.properties?.[key];
    if (!node) return undefined;
  }
  return node;
}

describe("values.yaml documentation", () => {
  it("has a @param for every key", () => {
    const undocumented = leaves(values).filter((leaf) => !params.some((p) => leaf === p || leaf.startsWith(`${p}.`)));
    expect(undocumented).toEqual([]);
  });

  it("documents only keys that exist", () => {
    expect(params.filter((p) => lookup(values, p) === undefined)).toEqual([]);
    expect(new Set(params).size).toBe(params.length);
  });

  it("lists the same parameters, in order, in the README table", () => {
    const table = readme.slice(readme.indexOf("## Parameters"));
    const rows = [...table.matchAll(/^\| `([^`]+)`\s+\|/gm)].map((m) => m[1]);
    expect(rows).toEqual(params);
  });

  it("gives every parameter a schema", () => {
    expect(params.filter((p) => schemaAt(p) === undefined)).toEqual([]);
  });

  it("keeps values-ci.yaml to keys values.yaml has", () => {
    const ci = parse(readFileSync(join(chartDir, "values-ci.yaml"), "utf8"));
    expect(leaves(ci).filter((leaf) => lookup(values, leaf) === undefined)).toEqual([]);
  });
});
