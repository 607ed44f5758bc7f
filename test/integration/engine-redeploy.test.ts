// A redeploy at the same commit does nothing only when nothing Helm would
// render changed: a changed chart file, values file or --set must deploy
// again (a new Helm revision), and the same inputs again must not.
import { appendFile, cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { SandboxError } from "../../src/domain/errors.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import type { Engine, EngineSettings } from "../../src/operations/engine.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { kubectl, namespaceGone, tool, uniqueName } from "../support/cluster.js";
import { groundSettings } from "../support/engine.js";
import { chartDir } from "../support/helm.js";

const PREFIX = `${uniqueName("redeploy")}-`;
const COMMIT = "f".repeat(40);
const BRANCH = "feature/redeploy";

let work = "";
let chart = "";
let valuesFile = "";

function engine(extra: Partial<EngineSettings> = {}): Engine & { log: MemoryLogger } {
  const log = new MemoryLogger();
  // 5 min, not the ground's 2: this file runs twice at once in CI (Node 24 and
  // Node 20) beside eight other processes, and once a claim waited 2 min for
  // its volume (CI of 2026-11-26 09:10; the provisioner served others meanwhile).
  const settings = groundSettings(PREFIX, "redeploy.example.test", {
    chart,
    valuesFiles: [valuesFile],
    waitTimeoutMs: 300_000,
    ...extra,
  });
  return Object.assign(createEngine({ settings, logger: log, holder: "redeploy-test" }), { log });
}

async function revision(namespace: string): Promise<number> {
  const { stdout } = await execa(tool("HELM"), ["status", "sandbox", "-n", namespace, "-o", "json"], {
    env: { KUBECONFIG: process.env.KUBECONFIG },
  });
  return JSON.parse(stdout).version as number;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "redeploy-"));
  // A copy of the chart, so the test can change a file of it.
  chart = join(work, "chart");
  await cp(chartDir, chart, { recursive: true });
  valuesFile = join(work, "values.yaml");
  await writeFile(valuesFile, stringify({ odoo: { logLevel: "info" } }));
});

let key = "";

afterAll(async () => {
  if (key) await destroy(engine(), key, { waitGone: true }).catch(() => undefined);
  const { stdout } = await kubectl(["get", "namespaces", "-o", "name"]);
  for (const name of stdout
    .split("\n")
    .map((l) => l.replace("namespace/", ""))
    .filter((n) => n.startsWith(PREFIX))) {
    await kubectl(["delete", "namespace", name, "--wait=false"], { reject: false });
    await namespaceGone(name, 120_000);
  }
  await rm(work, { recursive: true, force: true });
});

describe("redeploy at the same commit", () => {
  let namespace = "";
  let expected = 0;

  /** Deploys BRANCH at COMMIT and checks the result and the Helm revision. */
  async function redeploy(result: "deployed" | "unchanged", extra: Partial<EngineSettings> = {}): Promise<MemoryLogger> {
    const e = engine(extra);
    const done = await deploy(e, { branch: BRANCH, commit: COMMIT });
    expect(done.result, e.log.lines.join("\n")).toBe(result);
    namespace = done.identity.namespace;
    key = done.identity.key;
    if (result === "deployed") expected++;
    expect(await revision(namespace)).toBe(expected);
    return e.log;
  }

  it("deploys first, then does nothing for the same inputs", async () => {
    await redeploy("deployed");
    await redeploy("unchanged");
  });

  it("deploys again when a values file changed, and only once", async () => {
    await writeFile(valuesFile, stringify({ odoo: { logLevel: "debug" } }));
    const log = await redeploy("deployed");
    expect(log.lines.join("\n")).toMatch(/deploying: the chart, values or image changed since the last deploy/);
    await redeploy("unchanged");
  });

  it("deploys again when a --set changed, and only once", async () => {
    await redeploy("deployed", { sets: ["nginx.replicas=2"] });
    await redeploy("unchanged", { sets: ["nginx.replicas=2"] });
    // Dropping the --set is a change too.
    await redeploy("deployed");
  });

  it("deploys again when a file of the chart changed, and only once", async () => {
    await appendFile(join(chart, "templates", "NOTES.txt"), "\n{{- /* changed by the redeploy test */}}\n");
    await redeploy("deployed");
    await redeploy("unchanged");
  });

  it("deploys again when the chart's CI defaults changed", async () => {
    await appendFile(join(chart, "values-ci.yaml"), "\n# changed by the redeploy test\n");
    await redeploy("deployed");
  });

  it("refuses a --set that overrides what the engine generates, before touching anything", async () => {
    const e = engine({ sets: ["sandbox.mode=local,sandbox.local.addonsHostPath=/"] });
    const error = await deploy(e, { branch: "feature/override", commit: COMMIT }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(SandboxError);
    expect((error as SandboxError).message).toMatch(
      /set: "sandbox\.mode=local,sandbox\.local\.addonsHostPath=\/" sets sandbox\.mode, which only the engine may set/,
    );
    expect((error as SandboxError).step).toBe("values");
    expect((await kubectl(["get", "ns", `${PREFIX}feature-override`], { reject: false })).exitCode).not.toBe(0);
    // The sandbox deployed above is untouched.
    expect(await revision(namespace)).toBe(expected);
  });
});
