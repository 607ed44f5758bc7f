// values.yaml documents every key (`## @param`), the README's parameter table
// lists exactly those, and values.schema.json knows each of them: the three
// cannot drift apart.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartDocs, leaves, lookup } from "../support/chart-docs.js";
import { chartDir } from "../support/helm.js";

const { values, params, readmeRows, schemaAt } = chartDocs(chartDir);

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
    expect(readmeRows).toEqual(params);
  });

  it("gives every parameter a schema", () => {
    expect(params.filter((p) => schemaAt(p) === undefined)).toEqual([]);
  });

  it("keeps values-ci.yaml to keys values.yaml has", () => {
    const ci = parse(readFileSync(join(chartDir, "values-ci.yaml"), "utf8"));
    expect(leaves(ci).filter((leaf) => lookup(values, leaf) === undefined)).toEqual([]);
  });
});
