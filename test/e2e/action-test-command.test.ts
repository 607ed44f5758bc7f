// End to end: the bundled Action's `command: test`, run as GitHub runs it
// (test/support/action-runner.ts, the source bundled into a temporary
// directory), against a sandbox the same Action deployed on the ground's real
// node, so the test Job really runs: the Odoo stand-in runs the addons' tests
// (test/fixtures/odoo-standin-addons) and writes Odoo 18's log lines. The
// GitHub stand-in records the PR comments. The steps build on each other.
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ActionRun, bundleForTests, runBundledAction } from "../support/action-runner.js";
import { groundEnv, kubectl, kubectlJson, namespaceGone, tool, uniqueName } from "../support/cluster.js";
import { pullRequestEvent as pullRequestPayload } from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";
import { groundImage, realNodeMissing, requireRealNode } from "../support/real-node.js";

const REPO = "acme/testshop";
const PR = 77;
const BRANCH = `feature/${uniqueName("odoo-tests")}`;
const PREFIX = "e2etest-";
const REAL_NODE = "ground-real-0";
const PASSING = "standin_tests_pass";
const FAILING = "standin_tests_fail";

let github: GitHubStandin;
let workspace = "";
let sha = "";
let inputs: Record<string, string> = {};
let env: Record<string, string> = {};
let namespace = "";
let sandbox = "";

async function git(...args: string[]) {
  return execa("git", ["-C", workspace, "-c", "user.name=e2e", "-c", "user.email=e2e@example.test", ...args]);
}

function pullRequestEvent(action: string) {
  return pullRequestPayload(action, { number: PR, headRef: BRANCH, headSha: sha, fork: false }, REPO);
}

async function act(eventName: string, payload: unknown, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runBundledAction({ eventName, payload, inputs: { ...inputs, ...extra }, env });
}

function failureOf(run: ActionRun): string {
  return `exit ${run.exitCode}\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-2000)}`;
}

/** The counts row of the summary table (`| tests run | failed | errors |`), as numbers. */
function countsRow(markdown: string): number[] | undefined {
  const lines = markdown.split("\n");
  const header = lines.findIndex((l) => /^\| tests run \| failed \| errors \|$/.test(l.trim()));
  const row = header >= 0 ? lines[header + 2] : undefined;
  const cells = row
    ?.split("|")
    .map((c) => c.trim())
    .filter(Boolean);
  return cells?.length === 3 ? cells.map(Number) : undefined;
}

beforeAll(async () => {
  if (realNodeMissing()) return;
  await bundleForTests();
  workspace = await mkdtemp(join(tmpdir(), "e2e-test-command-"));
  for (const addon of [PASSING, FAILING]) {
    await cp(resolve("test/fixtures/odoo-standin-addons", addon), join(workspace, "addons", addon), { recursive: true });
  }
  await cp(resolve("Dockerfile.dev"), join(workspace, "Dockerfile.dev"));
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-q", "-m", "addons with a passing and a failing suite");
  sha = (await git("rev-parse", "HEAD")).stdout.trim();
  github = await startGitHubStandin({
    repository: REPO,
    token: "e2e-token",
    permissions: {},
    pullRequests: [{ number: PR, headRef: BRANCH, headSha: sha }],
    branches: [BRANCH],
  });
  inputs = {
    "github-token": "e2e-token",
    kubeconfig: await readFile(process.env.KUBECONFIG as string, "utf8"),
    "base-domain": "tests.example.test",
    "url-scheme": "http",
    registry: groundEnv("REGISTRY"),
    image: "acme/testshop-sandbox",
    builder: "buildah",
    // The real node's Odoo stand-in, so the image's Odoo runs the tests.
    "build-args": `ODOO_IMAGE=${groundImage("ODOO")}`,
    values: groundEnv("GROUND_REAL_NODE_VALUES"),
    "namespace-prefix": PREFIX,
    "wait-timeout": "6m",
    ttl: "24h",
    "max-ttl": "72h",
  };
  env = { GITHUB_REPOSITORY: REPO, GITHUB_API_URL: github.url, GITHUB_WORKSPACE: workspace, HELM: tool("HELM"), KUBECONFIG: "" };
}, 300_000);

afterAll(async () => {
  if (realNodeMissing()) return;
  if (namespace) {
    // The Action's own destroy first; the namespace by hand should that fail.
    await act("pull_request", pullRequestEvent("closed")).catch(() => undefined);
    await kubectl(["delete", "namespace", namespace, "--wait=false", "--ignore-not-found"], { reject: false });
    await namespaceGone(namespace, 180_000).catch(() => undefined);
  }
  await github?.close();
  if (workspace) await rm(workspace, { recursive: true, force: true });
}, 300_000);

describe("the bundled action's command: test on the real node", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("PR opened: builds the addons into the image and deploys the sandbox onto the real node", async () => {
    const run = await act("pull_request", pullRequestEvent("opened"));
    expect(run.exitCode, failureOf(run)).toBe(0);
    expect(run.outputs.result).toBe("deployed");
    namespace = run.outputs.namespace ?? "";
    sandbox = run.outputs.sandbox ?? "";
    // Not a test command: its outputs are empty.
    expect(run.outputs["tests-run"]).toBe("");
    expect(run.outputs["test-verdict"]).toBe("");
    const pods = await kubectlJson<{ items: { spec: { nodeName?: string } }[] }>([
      "-n",
      namespace,
      "get",
      "pods",
      "-l",
      "app.kubernetes.io/component=odoo",
    ]);
    expect(pods.items.map((p) => p.spec.nodeName)).toContain(REAL_NODE);
  }, 600_000);

  it("a failing test: the step fails, and outputs, step summary and PR comment carry the counts and the test's name", async (ctx) => {
    ctx.skip(!namespace, "the deploy step did not run");
    const commentsBefore = github.commentsOn(PR).length;
    const run = await act("pull_request", pullRequestEvent("synchronize"), { command: "test", modules: FAILING, "test-timeout": "5m" });
    expect(run.exitCode, failureOf(run)).not.toBe(0);
    expect(run.outputs.result).toBe("failed");
    expect(run.outputs.sandbox).toBe(sandbox);
    expect(run.outputs["test-verdict"]).toBe("failed");
    expect(run.outputs["tests-run"]).toBe("2");
    expect(run.outputs["tests-failed"]).toBe("1");
    expect(run.outputs["tests-errors"]).toBe("0");
    // The runner's error annotation names the sandbox, the step and why.
    expect(run.stdout).toMatch(new RegExp(`::error::sandbox ${sandbox}, step test: Odoo tests failed`));
    // Odoo's own log was streamed into the job log.
    expect(run.stdout).toContain("odoo.tests.result");

    expect(run.summary).toContain("Odoo tests failed");
    expect(countsRow(run.summary)).toEqual([2, 1, 0]);
    expect(run.summary).toContain(`FAIL \` ${FAILING}: TestFail.test_fails \``);

    const comments = github.commentsOn(PR);
    expect(comments).toHaveLength(commentsBefore + 1);
    const comment = comments.at(-1)?.body ?? "";
    expect(comment).toContain(`**Odoo tests failed** in \`${sandbox}\` (\`${FAILING}\`)`);
    expect(countsRow(comment)).toEqual([2, 1, 0]);
    expect(comment).toContain("Failing tests:");
    expect(comment).toContain(`FAIL \` ${FAILING}: TestFail.test_fails \``);
  }, 600_000);

  it("a passing suite: the step succeeds, with the counts in outputs, step summary and PR comment", async (ctx) => {
    ctx.skip(!namespace, "the deploy step did not run");
    const commentsBefore = github.commentsOn(PR).length;
    const run = await act("pull_request", pullRequestEvent("synchronize"), { command: "test", modules: PASSING, "test-timeout": "5m" });
    expect(run.exitCode, failureOf(run)).toBe(0);
    expect(run.outputs.result).toBe("tested");
    expect(run.outputs["test-verdict"]).toBe("passed");
    const testsRun = Number(run.outputs["tests-run"]);
    expect(testsRun).toBeGreaterThan(0);
    expect(run.outputs["tests-failed"]).toBe("0");
    expect(run.outputs["tests-errors"]).toBe("0");

    expect(run.summary).toContain("Odoo tests passed");
    expect(countsRow(run.summary)).toEqual([testsRun, 0, 0]);
    expect(run.summary).not.toContain("Failing tests:");

    const comments = github.commentsOn(PR);
    expect(comments).toHaveLength(commentsBefore + 1);
    const comment = comments.at(-1)?.body ?? "";
    expect(comment).toContain(`**Odoo tests passed** in \`${sandbox}\` (\`${PASSING}\`)`);
    expect(countsRow(comment)).toEqual([testsRun, 0, 0]);
    expect(comment).not.toContain("Failing tests:");

    // Each run cleaned up after itself: no test Job is left in the namespace.
    const jobs = await kubectlJson<{ items: { metadata: { deletionTimestamp?: string } }[] }>(["-n", namespace, "get", "jobs"]);
    expect(jobs.items.filter((j) => !j.metadata.deletionTimestamp)).toEqual([]);
  }, 600_000);
});
