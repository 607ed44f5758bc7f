// End to end: the bundled Action, run as GitHub runs it, against the real
// test ground (API server, controllers, kwok node, Helm, registry, buildah)
// and a GitHub stand-in that refuses anything GitHub's OpenAPI description
// would. Payloads are @octokit/webhooks-examples, adjusted only in
// branch/PR/comment fields. The steps build on each other, in order.
import { cp, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { getOctokit } from "@actions/github";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ActionRun, runBundledAction } from "../support/action-runner.js";
import { kubectl, kubectlJson, namespaceGone, tool } from "../support/cluster.js";
import { loadWebhookExample, withBranch, withComment, withPullRequest, withRepository } from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";
import { ensureStandinBase } from "../support/images.js";

const REPO = "acme/shop";
const PR = 4242;
const BRANCH = "feature/Login-E2E";
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);
const PREFIX = "e2e-sandbox-";

let github: GitHubStandin;
let workspace: string;
let inputs: Record<string, string>;
let env: Record<string, string>;

interface NamespaceJson {
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
}

async function act(
  eventName: string,
  payload: unknown,
  extra: Record<string, string> = {},
  options: { expectFailure?: boolean } = {},
): Promise<ActionRun> {
  const run = await runBundledAction({ eventName, payload: withRepository(payload, REPO), inputs: { ...inputs, ...extra }, env });
  if (run.exitCode !== 0 && !options.expectFailure) {
    throw new Error(`the action failed (${run.exitCode}):\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-2000)}`);
  }
  return run;
}

function pullRequestEvent(action: string, sha: string) {
  return withPullRequest(loadWebhookExample(`pull_request.${action}`), {
    number: PR,
    headRef: BRANCH,
    headSha: sha,
    fork: false,
    state: action === "closed" ? "closed" : "open",
  });
}

/** The comment exists on GitHub (the stand-in) before its event arrives, as it would. */
async function commentEvent(body: string, author: string) {
  const created = await getOctokit("e2e-token", { baseUrl: github.url }).rest.issues.createComment({
    owner: "acme",
    repo: "shop",
    issue_number: PR,
    body,
  });
  const payload = withComment(withPullRequest(loadWebhookExample("issue_comment.created"), { number: PR }), { body, author });
  payload.comment.id = created.data.id;
  return payload;
}

async function sandboxNamespace(): Promise<NamespaceJson | undefined> {
  const list = await kubectlJson<{ items: NamespaceJson[] }>(["get", "namespaces", "-l", "app.kubernetes.io/managed-by=k8s-dev-sandbox"]);
  return list.items.find((n) => n.metadata.name.startsWith(`${PREFIX}feature-login-e2e`));
}

async function helmRevision(namespace: string): Promise<number> {
  const { stdout } = await execa(tool("HELM"), ["status", "sandbox", "-n", namespace, "-o", "json"], {
    env: { KUBECONFIG: process.env.KUBECONFIG },
  });
  return JSON.parse(stdout).version as number;
}

beforeAll(async () => {
  await removeOurNamespaces();
  await execa("node", ["scripts/bundle.mjs"]);
  const base = await ensureStandinBase();
  workspace = await mkdtemp(join(tmpdir(), "e2e-workspace-"));
  await cp(resolve("examples/sample-addons"), join(workspace, "addons"), { recursive: true });
  await cp(resolve("Dockerfile.dev"), join(workspace, "Dockerfile.dev"));
  await cp(resolve(".dockerignore"), join(workspace, ".dockerignore")).catch(() => undefined);
  github = await startGitHubStandin({
    repository: REPO,
    token: "e2e-token",
    permissions: { "writer-wendy": "write", "reader-rob": "read" },
    pullRequests: [{ number: PR, headRef: BRANCH, headSha: SHA_A }],
    branches: [BRANCH],
  });
  inputs = {
    "github-token": "e2e-token",
    kubeconfig: await readFile(process.env.KUBECONFIG as string, "utf8"),
    "base-domain": "preview.example.test",
    registry: process.env.REGISTRY as string,
    image: "acme/shop-sandbox",
    builder: "buildah",
    "build-args": `ODOO_IMAGE=${base}`,
    "namespace-prefix": PREFIX,
    "wait-timeout": "3m",
    ttl: "168h",
    "max-ttl": "720h",
  };
  env = { GITHUB_REPOSITORY: REPO, GITHUB_API_URL: github.url, GITHUB_WORKSPACE: workspace, HELM: tool("HELM"), KUBECONFIG: "" };
}, 300_000);

/** Namespaces of this suite, from this or an earlier interrupted run. */
async function removeOurNamespaces(): Promise<void> {
  const { stdout } = await kubectl(["get", "namespaces", "-o", "name"]);
  for (const name of stdout
    .split("\n")
    .map((l) => l.replace("namespace/", ""))
    .filter((n) => n.startsWith(PREFIX))) {
    await kubectl(["delete", "namespace", name, "--wait=false", "--ignore-not-found"], { reject: false });
    await namespaceGone(name);
  }
}

afterAll(async () => {
  await removeOurNamespaces().catch(() => undefined);
  await github?.close();
});

describe("the bundled action over a pull request's life", () => {
  let namespace = "";

  it("PR opened: builds, deploys, comments once and reports a successful deployment with its URL", async () => {
    const run = await act("pull_request", pullRequestEvent("opened", SHA_A));
    expect(run.outputs.result).toBe("deployed");
    expect(run.outputs.url).toMatch(/^https:\/\/feature-login-e2e-[0-9a-f]{6}\.preview\.example\.test$/);
    namespace = run.outputs.namespace as string;
    const ns = await sandboxNamespace();
    expect(ns?.metadata.name).toBe(namespace);
    expect(ns?.metadata.labels["k8s-dev-sandbox/key"]).toBe(run.outputs.sandbox);
    expect(ns?.metadata.annotations["k8s-dev-sandbox/pr"]).toBe(String(PR));
    expect(ns?.metadata.annotations["k8s-dev-sandbox/commit"]).toBe(SHA_A);
    expect(ns?.metadata.annotations["k8s-dev-sandbox/status"]).toBe("ready");
    expect(await helmRevision(namespace)).toBe(1);
    // The chart's CI-mode defaults come first, then the engine's generated values.
    const { stdout: supplied } = await execa(tool("HELM"), ["get", "values", "sandbox", "-n", namespace, "-o", "json"], {
      env: { KUBECONFIG: process.env.KUBECONFIG },
    });
    const values = JSON.parse(supplied);
    expect(values.odoo).toMatchObject({ demoData: false, devMode: false, image: run.outputs.image });
    expect(values.sandbox).toMatchObject({ mode: "ci", key: run.outputs.sandbox, commit: SHA_A, pullRequest: PR });
    const comments = github.commentsOn(PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain(run.outputs.url);
    const deployments = github.state.deployments;
    expect(deployments).toHaveLength(1);
    expect(deployments[0]?.statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
    expect(deployments[0]?.statuses[1]?.environmentUrl).toBe(run.outputs.url);
    // Secrets are registered with the runner (::add-mask::) and never printed otherwise.
    const printed = run.stdout
      .split("\n")
      .filter((line) => !line.startsWith("::add-mask::"))
      .join("\n");
    expect(run.stdout).toContain("::add-mask::e2e-token");
    expect(printed).not.toContain("e2e-token");
    expect(printed).not.toContain("PRIVATE KEY");
    expect(run.summary).toContain(run.outputs.sandbox);
  });

  it("synchronize with a new commit: the same comment is edited and the release upgraded", async () => {
    const run = await act("pull_request", pullRequestEvent("synchronize", SHA_B));
    expect(run.outputs.result).toBe("deployed");
    expect(await helmRevision(namespace)).toBe(2);
    expect(github.commentsOn(PR)).toHaveLength(1);
    expect(github.commentsOn(PR)[0]?.body).toContain(SHA_B.slice(0, 12));
  });

  it("the same commit again: unchanged, with no build and no helm upgrade", async () => {
    const run = await act("pull_request", pullRequestEvent("synchronize", SHA_B));
    expect(run.outputs.result).toBe("unchanged");
    expect(run.stdout).toMatch(/already in the registry: build skipped/);
    expect(run.stdout).not.toMatch(/building .* with buildah/);
    expect(await helmRevision(namespace)).toBe(2);
  });

  it("/sandbox extend 48h from a writer moves the expiry and answers", async () => {
    const before = (await sandboxNamespace())?.metadata.annotations["k8s-dev-sandbox/expires-at"] as string;
    const payload = await commentEvent("/sandbox extend 48h", "writer-wendy");
    const run = await act("issue_comment", payload);
    expect(run.outputs.result).toBe("extended");
    const after = (await sandboxNamespace())?.metadata.annotations["k8s-dev-sandbox/expires-at"] as string;
    expect(new Date(after).getTime() - new Date(before).getTime()).toBeGreaterThanOrEqual(47 * 3600_000);
    expect((await sandboxNamespace())?.metadata.annotations["k8s-dev-sandbox/extended-by"]).toBe("writer-wendy");
    const reactions = github.state.reactions.get(payload.comment.id) ?? [];
    expect(reactions.map((r) => r.content)).toEqual(expect.arrayContaining(["eyes", "rocket"]));
  });

  it("/sandbox extend from a read-only user is refused and changes nothing", async () => {
    const before = (await sandboxNamespace())?.metadata.annotations["k8s-dev-sandbox/expires-at"];
    const run = await act("issue_comment", await commentEvent("/sandbox extend 30d", "reader-rob"));
    expect(run.outputs.result).toBe("refused");
    expect((await sandboxNamespace())?.metadata.annotations["k8s-dev-sandbox/expires-at"]).toBe(before);
    const replies = github.commentsOn(PR).filter((c) => c.body.includes("may not run sandbox commands") && c.body.includes("reader-rob"));
    expect(replies).toHaveLength(1);
  });

  it("PR closed: the namespace goes and the deployment is marked inactive", async () => {
    const run = await act("pull_request", pullRequestEvent("closed", SHA_B));
    expect(run.outputs.result).toBe("destroyed");
    await namespaceGone(namespace);
    const statuses = github.state.deployments.flatMap((d) => d.statuses.map((s) => s.state));
    expect(statuses).toContain("inactive");
    expect(github.commentsOn(PR)[0]?.body).toMatch(/destroyed/i);
  });

  it("a scheduled sweep removes only our expired sandboxes, never foreign or kept ones", async () => {
    const past = "2020-01-01T00:00:00Z";
    const future = "2099-01-01T00:00:00Z";
    const ours = { "app.kubernetes.io/managed-by": "k8s-dev-sandbox" };
    const fixtures: { name: string; labels: Record<string, string>; annotations: Record<string, string>; expectGone: boolean }[] = [
      {
        name: `${PREFIX}old-one`,
        labels: { ...ours, "k8s-dev-sandbox/key": "old-one" },
        annotations: { "k8s-dev-sandbox/expires-at": past, "k8s-dev-sandbox/branch": BRANCH },
        expectGone: true,
      },
      {
        name: `${PREFIX}fresh-one`,
        labels: { ...ours, "k8s-dev-sandbox/key": "fresh-one" },
        annotations: { "k8s-dev-sandbox/expires-at": future, "k8s-dev-sandbox/branch": BRANCH },
        expectGone: false,
      },
      {
        name: `${PREFIX}kept-one`,
        labels: { ...ours, "k8s-dev-sandbox/key": "kept-one" },
        annotations: { "k8s-dev-sandbox/expires-at": past, "k8s-dev-sandbox/keep": "true", "k8s-dev-sandbox/branch": BRANCH },
        expectGone: false,
      },
      {
        name: `${PREFIX}foreign-one`,
        labels: { "k8s-dev-sandbox/key": "foreign-one" },
        annotations: { "k8s-dev-sandbox/expires-at": past },
        expectGone: false,
      },
      {
        name: "someone-elses-team",
        labels: { "app.kubernetes.io/managed-by": "helm" },
        annotations: { "k8s-dev-sandbox/expires-at": past, "k8s-dev-sandbox/repo": REPO },
        expectGone: false,
      },
    ];
    for (const f of fixtures) {
      await kubectl(["apply", "-f", "-"], {
        input: JSON.stringify({
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: f.name, labels: f.labels, annotations: f.annotations },
        }),
      });
    }
    try {
      const run = await act("schedule", { schedule: "0 3 * * *", repository: loadWebhookExample("push").repository });
      expect(run.outputs.result).toBe("swept");
      for (const f of fixtures.filter((x) => x.expectGone)) await namespaceGone(f.name);
      for (const f of fixtures.filter((x) => !x.expectGone)) {
        const ns = await kubectlJson<NamespaceJson & { status: { phase: string } }>(["get", "namespace", f.name]);
        expect(ns.status.phase, f.name).toBe("Active");
      }
    } finally {
      for (const f of fixtures) await kubectl(["delete", "namespace", f.name, "--ignore-not-found", "--wait=false"], { reject: false });
    }
  });
});

describe("push and delete events", () => {
  it("a push deploys the branch and deleting the branch destroys it", async () => {
    const branch = "hotfix/Push-E2E";
    const push = withBranch(
      loadWebhookExample("push", (p) => !p.deleted && p.ref?.startsWith("refs/heads/")),
      branch,
    );
    push.after = SHA_A;
    const deployed = await act("push", push, { comment: "false" });
    expect(deployed.outputs.result).toBe("deployed");
    const del = loadWebhookExample("delete");
    del.ref = branch;
    del.ref_type = "branch";
    const destroyed = await act("delete", del, { comment: "false" });
    expect(destroyed.outputs.result).toBe("destroyed");
    await namespaceGone(deployed.outputs.namespace as string);
  });
});

describe("manual runs and forks", () => {
  it("workflow_dispatch deploys, extends and destroys a branch by hand", async () => {
    const branch = "manual/Dispatch-E2E";
    const dispatch = (inputs: Record<string, string>) => {
      const payload = loadWebhookExample("workflow_dispatch");
      payload.ref = `refs/heads/${branch}`;
      payload.inputs = inputs;
      return payload;
    };
    const deployed = await act("workflow_dispatch", dispatch({ command: "deploy", branch }), { comment: "false", deployment: "false" });
    expect(deployed.outputs.result).toBe("deployed");
    const extended = await act("workflow_dispatch", dispatch({ command: "extend", branch, duration: "3d" }), {
      comment: "false",
      deployment: "false",
    });
    expect(extended.outputs.result).toBe("extended");
    expect(new Date(extended.outputs["expires-at"] as string).getTime()).toBeGreaterThan(
      new Date(deployed.outputs["expires-at"] as string).getTime(),
    );
    const destroyed = await act("workflow_dispatch", dispatch({ command: "destroy", branch }), { comment: "false", deployment: "false" });
    expect(destroyed.outputs.result).toBe("destroyed");
    await namespaceGone(deployed.outputs.namespace as string);
  });

  it("a fork's PR is skipped with a clear message unless a maintainer labelled it", async () => {
    const fork = (labels: string[]) =>
      withPullRequest(loadWebhookExample("pull_request.opened"), {
        number: PR + 1,
        headRef: "main",
        headSha: SHA_A,
        fork: true,
        forkOwner: "stranger",
        labels,
      });
    const skipped = await act("pull_request", fork([]), { comment: "false", deployment: "false" });
    expect(skipped.outputs.result).toBe("skipped");
    expect(skipped.stdout).toMatch(/fork .*stranger.* not deployed until a maintainer adds the label .*sandbox:allow/);
    expect((await kubectl(["get", "namespace", `${PREFIX}pr-${PR + 1}`], { reject: false })).exitCode).not.toBe(0);
    const allowed = await act("pull_request", fork(["sandbox:allow"]), { comment: "false", deployment: "false" });
    expect(allowed.outputs.result).toBe("deployed");
    expect(allowed.outputs.sandbox).toBe(`pr-${PR + 1}`);
    const closed = await act(
      "pull_request",
      withPullRequest(loadWebhookExample("pull_request.closed"), {
        number: PR + 1,
        headRef: "main",
        fork: true,
        forkOwner: "stranger",
        state: "closed",
      }),
      {
        comment: "false",
        deployment: "false",
      },
    );
    expect(closed.outputs.result).toBe("destroyed");
  });
});

describe("a failed deploy", () => {
  it("fails the job, reports the step and Helm's error on the PR and the deployment, and keeps the namespace", async () => {
    const number = PR + 10;
    github.addPullRequest({ number, headRef: "feature/Broken-E2E", headSha: SHA_A });
    const payload = withPullRequest(loadWebhookExample("pull_request.opened"), {
      number,
      headRef: "feature/Broken-E2E",
      headSha: SHA_A,
      fork: false,
    });
    // A value the chart's schema refuses: Helm fails at install time.
    const run = await act("pull_request", payload, { set: "odoo.workers=-1" }, { expectFailure: true });
    expect(run.exitCode).not.toBe(0);
    expect(run.outputs.result).toBe("failed");
    expect(run.stdout).toMatch(/::error::.*sandbox feature-broken-e2e-[0-9a-f]{6}, step helm upgrade: helm failed with: .*workers/);
    const comment = github.commentsOn(number)[0]?.body ?? "";
    expect(comment).toContain("🔴 Preview failed");
    expect(comment).toMatch(/Failed at step `helm upgrade`/);
    expect(comment).toMatch(/<details><summary>Evidence<\/summary>[\s\S]*workers/);
    const deployment = github.state.deployments.find((d) => d.environment === `preview/${run.outputs.sandbox}`);
    expect(deployment?.statuses.map((s) => s.state)).toEqual(["in_progress", "failure"]);
    const ns = await kubectlJson<NamespaceJson>(["get", "namespace", run.outputs.namespace as string]);
    expect(ns.metadata.annotations["k8s-dev-sandbox/status"]).toBe("failed");
    expect(ns.metadata.annotations["k8s-dev-sandbox/last-step"]).toBe("helm upgrade");
    expect(ns.metadata.annotations["k8s-dev-sandbox/expires-at"]).toMatch(/^\d{4}-/);
  });
});

// Last, so it covers every request of every test above.
describe("every request to GitHub", () => {
  it("was one GitHub would accept", () => {
    expect(github.requests.length).toBeGreaterThan(50);
    expect(github.rejected.map((r) => `${r.method} ${r.path} -> ${r.status}: ${r.reason ?? ""}`)).toEqual([]);
  });
});
