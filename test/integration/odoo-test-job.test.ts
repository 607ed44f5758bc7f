// `k8s-sandbox test` on the ground's real node: a local-mode sandbox whose
// work tree holds addons with passing and failing tests; the test Job runs
// the Odoo stand-in (Odoo 18's test log lines and exit codes) with the
// sandbox's image and odoo.conf, reaches PostgreSQL through the chart's
// NetworkPolicy, and returns the suite's real verdict. Also: Odoo runs in dev
// mode in local mode, and concurrent runs never share a database.
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import type { Engine } from "../../src/operations/engine.js";
import { runTests, type TestOutcome } from "../../src/operations/test.js";

/** The verdict's reason, exit code and the log's last lines, for an assertion's message (a run once ended "crashed" only under load). */
const why = (outcome: TestOutcome, lines: string[]) =>
  `${outcome.summary.reason} (exit ${outcome.exitCode ?? "none"}, job ${outcome.job}); log's end:\n${lines.slice(-40).join("\n")}`;

/** One test run of the sandbox, its streamed log kept for the assertions' messages. */
async function testRun(modules: string[], deadlineSeconds: number): Promise<{ done: TestOutcome; lines: string[] }> {
  const lines: string[] = [];
  const done = await runTests(engine(), key, { modules, deadlineSeconds, onLine: (l) => lines.push(l) });
  return { done, lines };
}
import { createEngine } from "../../src/wiring/create-engine.js";
import { cliCommand } from "../support/cli.js";
import { groundEnv, kubectl, kubectlJson, uniqueName } from "../support/cluster.js";
import { groundSettings } from "../support/engine.js";
import { execIn, realNodeMissing, requireRealNode } from "../support/real-node.js";

const PREFIX = "testjob-";
let work = "";
let tree = "";
let localVolumesConfig = "";
let key = "";
let namespace = "";
const run = uniqueName("t");

function engine(): Engine & { log: MemoryLogger } {
  const log = new MemoryLogger();
  const settings = groundSettings(PREFIX, "testjob.ground.test", {
    repository: "ground/test-job",
    scheme: "http",
    mode: "local",
    waitTimeoutMs: 6 * 60_000,
    valuesFiles: [groundEnv("GROUND_REAL_NODE_VALUES"), join(work, "values.yaml")],
    localAddonsPath: join(tree, "addons"),
    localVolumesConfig,
  });
  return Object.assign(createEngine({ settings, logger: log, holder: "odoo-test-job" }), { log });
}

async function databases(): Promise<string[]> {
  const pods = await kubectlJson<{ items: { metadata: { name: string } }[] }>([
    "-n",
    namespace,
    "get",
    "pods",
    "-l",
    "app.kubernetes.io/component=postgres",
  ]);
  const pod = pods.items[0]?.metadata.name ?? "";
  const { out } = await execIn(namespace, pod, "postgres", [
    "sh",
    "-c",
    'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d postgres -tAc "SELECT datname FROM pg_database"',
  ]);
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

beforeAll(async () => {
  if (realNodeMissing()) return;
  work = await mkdtemp(join(tmpdir(), "odoo-test-job-"));
  tree = join(work, "tree");
  for (const addon of ["standin_tests_pass", "standin_tests_fail", "standin_tests_error"]) {
    await cp(resolve("test/fixtures/odoo-standin-addons", addon), join(tree, "addons", addon), { recursive: true });
  }
  const system = uniqueName("testjob-system");
  await kubectl(["create", "namespace", system]);
  await kubectl(["-n", system, "create", "configmap", "local-volumes", `--from-literal=allowedHostPaths=${work}`]);
  localVolumesConfig = `${system}/local-volumes`;
  // Room for two test pods at once beside Odoo (the concurrency test).
  await writeFile(join(work, "values.yaml"), stringify({ resourceQuota: { headroomPods: 2 } }));
  const result = await deploy(engine(), { branch: `testjob/${run}` });
  expect(result.result).toBe("deployed");
  key = result.identity.key;
  namespace = result.identity.namespace;
}, 8 * 60_000);

afterAll(async () => {
  if (realNodeMissing()) return;
  if (key) await destroy(engine(), key, { reason: "test", waitGone: true }).catch(() => undefined);
  if (localVolumesConfig) await kubectl(["delete", "namespace", localVolumesConfig.split("/")[0] ?? "", "--wait=false"], { reject: false });
  if (work) await rm(work, { recursive: true, force: true });
});

describe("k8s-sandbox test on the real node", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("passes a module whose tests pass: exit 0 and the counts from Odoo's log", async () => {
    const { done, lines } = await testRun(["standin_tests_pass"], 300);
    expect(done.summary.verdict, why(done, lines)).toBe("passed");
    expect(done.exitCode).toBe(0);
    expect(done.summary.testsRun).toBeGreaterThan(0);
    expect(done.summary.failures).toEqual([]);
    // The log was streamed as it came, with Odoo's own result line in it.
    expect(lines.some((l) => l.includes("odoo.tests.result:"))).toBe(true);
    // Cleaned up: the Job is gone (or going), the throwaway database dropped.
    const jobs = await kubectlJson<{ items: { metadata: { deletionTimestamp?: string } }[] }>(["-n", namespace, "get", "jobs"]);
    expect(jobs.items.filter((j) => !j.metadata.deletionTimestamp)).toEqual([]);
    expect(await databases()).not.toContain(done.database);
  });

  it("fails a module with a failing test: non-zero and the failing test named", async () => {
    const { done, lines } = await testRun(["standin_tests_fail"], 300);
    expect(done.summary.verdict, why(done, lines)).toBe("failed");
    expect(done.exitCode).toBe(1);
    expect(done.summary.failed).toBe(1);
    expect(done.summary.testsRun).toBe(2);
    expect(done.summary.failures).toEqual([{ kind: "FAIL", test: "TestFail.test_fails", module: "standin_tests_fail" }]);
  });

  it("counts a test that raises as an error, named from its ERROR line", async () => {
    const { done, lines } = await testRun(["standin_tests_error"], 300);
    expect(done.summary.verdict, why(done, lines)).toBe("failed");
    expect(done.exitCode).toBe(1);
    // test_raises raises; test_uses_the_orm needs records, which the stand-in has not (it errors, never passes).
    expect(done.summary).toMatchObject({ verdict: "failed", failed: 0, errors: 2 });
    expect(done.summary.failures).toEqual([
      { kind: "ERROR", test: "TestError.test_raises", module: "standin_tests_error" },
      { kind: "ERROR", test: "TestError.test_uses_the_orm", module: "standin_tests_error" },
    ]);
  });

  it("gives two concurrent runs of one sandbox two databases, and drops both", async () => {
    const [one, two] = await Promise.all([testRun(["standin_tests_pass"], 300), testRun(["standin_tests_pass"], 300)]);
    if (!one || !two) throw new Error("two runs were started");
    expect(one.done.database).not.toBe(two.done.database);
    expect(one.done.summary.verdict, why(one.done, one.lines)).toBe("passed");
    expect(two.done.summary.verdict, why(two.done, two.lines)).toBe("passed");
    // Each log names only its own database.
    expect(one.lines.some((l) => l.includes(`'${one.done.database}'`))).toBe(true);
    expect(two.lines.some((l) => l.includes(`'${two.done.database}'`))).toBe(true);
    const left = await databases();
    expect(left.filter((d) => d.includes("_test_"))).toEqual([]);
  });

  it("stops a run at its deadline and reports a timeout, dropping its database", async () => {
    // The stand-in takes ODOO_STANDIN_INSTALL_SECONDS (2 s) per module and the HttpCase
    // test waits for its server: after 15 s the test database exists and the run is not done.
    const { done, lines } = await testRun(["standin_tests_pass"], 15);
    expect(done.summary.verdict, why(done, lines)).toBe("timeout");
    // The Job's SIGTERM reached the script, which dropped the database it had created.
    expect(lines.join("\n")).toContain("stopped (deadline)");
    expect(lines.some((l) => l.includes(`dropped database ${done.database}`))).toBe(true);
    await expect.poll(async () => (await databases()).filter((d) => d.includes("_test_")), { timeout: 60_000, interval: 2000 }).toEqual([]);
  });

  it("runs Odoo in dev mode in local mode (the stand-in logs Odoo's reload watcher)", async () => {
    const { stdout } = await kubectl(["-n", namespace, "logs", "deploy/sandbox-odoo-dev-sandbox-odoo", "-c", "odoo"]);
    expect(stdout).toContain("AutoReload watcher running with watchdog");
    const args = await kubectlJson<{ spec: { template: { spec: { containers: { name: string; args: string[] }[] } } } }>([
      "-n",
      namespace,
      "get",
      "deploy/sandbox-odoo-dev-sandbox-odoo",
    ]);
    expect(args.spec.template.spec.containers.find((c) => c.name === "odoo")?.args).toContain("--dev=all");
  });

  it("the CLI exits with the verdict and prints the summary", async () => {
    const cli = async (modules: string) =>
      execa(...(await cliCommand(["test", key, "--modules", modules, "--prefix", PREFIX, "--deadline", "5m"])), {
        env: { KUBECONFIG: process.env.KUBECONFIG, K8S_SANDBOX_REGISTRY: "" },
        reject: false,
      });
    const pass = await cli("standin_tests_pass");
    expect(pass.exitCode, pass.stderr).toBe(0);
    expect(pass.stdout).toMatch(/^passed: /);
    const fail = await cli("standin_tests_fail");
    expect(fail.exitCode).toBe(1);
    expect(fail.stdout).toContain("FAIL standin_tests_fail: TestFail.test_fails");
  });
});
