// `helm lint --strict` and `helm template` for every values set the chart
// ships (ct lint's convention: ci/*-values.yaml), under Helm 4 and, when its
// binary is there, Helm 3.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chartDir, helmBinaries, helmTemplate, runHelm } from "../support/helm.js";

const ciValues = readdirSync(join(chartDir, "ci"))
  .filter((f) => f.endsWith("-values.yaml"))
  .sort()
  .map((f) => `ci/${f}`);

const valueSets: { name: string; files: string[] }[] = [
  { name: "defaults (values.yaml)", files: [] },
  { name: "values-ci.yaml", files: ["values-ci.yaml"] },
  ...ciValues.map((f) => ({ name: f, files: [f] })),
  // How the engine layers them in CI mode.
  { name: "values-ci.yaml + ci/ci-values.yaml", files: ["values-ci.yaml", "ci/ci-values.yaml"] },
];

describe("the chart ships a values file per mode", () => {
  it("has ci, local and minimal value sets", () => {
    expect(ciValues).toEqual(expect.arrayContaining(["ci/ci-values.yaml", "ci/local-values.yaml", "ci/minimal-values.yaml"]));
  });
});

describe.each(helmBinaries())("$name", ({ path: helm }) => {
  it.each(valueSets)("lints strictly with $name", async ({ files }) => {
    const args = ["lint", "--strict", chartDir, ...files.flatMap((f) => ["--values", join(chartDir, f)])];
    const run = await runHelm(args, helm);
    expect(run.stdout + run.stderr, run.stdout + run.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(run.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(run.exitCode).toBe(0);
  });

  it.each(valueSets)("renders with $name", async ({ files }) => {
    const objects = await helmTemplate({ valuesFiles: files, helm });
    expect(objects.length).toBeGreaterThan(5);
    for (const o of objects) {
      expect(o.apiVersion, `${o.kind}/${o.metadata?.name}`).toBeTruthy();
      expect(o.metadata.name.length, `${o.kind}/${o.metadata.name}`).toBeLessThanOrEqual(63);
    }
  });
});
