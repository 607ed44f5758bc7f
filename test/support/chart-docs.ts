// A chart's documentation as tests read it: values.yaml's keys and its
// `## @param` lines, the README's parameter table, values.schema.json. Every
// chart of this repository keeps the three in step, and its unit test says so.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export interface ChartDocs {
  /** values.yaml, parsed. */
  values: Record<string, unknown>;
  /** The `## @param` names of values.yaml, in file order. */
  params: string[];
  /** The names in the README's "## Parameters" tables, in order. */
  readmeRows: string[];
  /** The schema node of a dotted values path ($refs followed), or undefined. */
  // biome-ignore lint/suspicious/noExplicitAny: JSON schema
  schemaAt(path: string): any;
}

/** Leaf keys of a values tree, dotted: scalars, lists and empty maps. */
export function leaves(value: unknown, prefix = ""): string[] {
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

/** The value at a dotted path, or undefined. */
export function lookup(object: unknown, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>((cur, key) => (cur && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined), object);
}

export function chartDocs(chartDir: string): ChartDocs {
  const valuesText = readFileSync(join(chartDir, "values.yaml"), "utf8");
  const readme = readFileSync(join(chartDir, "README.md"), "utf8");
  const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8"));
  return {
    values: parse(valuesText) as Record<string, unknown>,
    params: [...valuesText.matchAll(/^\s*## @param (\S+) \S/gm)].map((m) => m[1] as string),
    readmeRows: [...readme.slice(readme.indexOf("## Parameters")).matchAll(/^\| `([^`]+)`\s+\|/gm)].map((m) => m[1] as string),
    schemaAt(path) {
      let node = schema;
      for (const key of path.split(".")) {
        while (node?.$ref) node = lookup(schema, node.$ref.replace("#/", "").replaceAll("/", "."));
        node = node?.properties?.[key];
        if (!node) return undefined;
      }
      return node;
    },
  };
}
