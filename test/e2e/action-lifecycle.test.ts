// End to end: the bundled Action, run as GitHub runs it, against the real
// test ground (API server, controllers, kwok node, Helm, registry, buildah)
// and a GitHub stand-in that refuses anything GitHub's OpenAPI description
// would. Payloads are @octokit/webhooks-examples, adjusted only in
// branch/PR/comment fields. The steps build on each other, in order.
// The workspace is a git checkout, as actions/checkout leaves it: the engine
// builds only the commit it is at, so tests move it between real commits.
import { existsSync, readdirSync } from "node:fs";
import { appendFile, cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { getOctokit } from "@actions/github";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ActionRun, bundleForTests, runBundledAction } from "../support/action-runner.js";
import { kubectl, kubectlJson, namespaceGone, tool } from "../support/cluster.js";
import {
  loadWebhookExample,
  pullRequestEvent as pullRequestPayload,
  withBranch,
  withComment,
  withPullRequest,
  withRepository,
} from "../support/github/examples.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";
import { ensureStandinBase } from "../support/images.js";
import { sandboxIdentity } from "../../src/domain/identity.js";
import { repoHash } from "../../src/domain/metadata.js";

const REPO = "acme/shop";
const PR = 4242;
const BRANCH = "feature/Login-E2E";
/** Real commits of the workspace: A, B (same tree as A), C (a changed addon, never built). */
let SHA_A = "";
let SHA_B = "";
let SHA_C = "";
const PREFIX = "e2e-sandbox-";

let github: GitHubStandin;
let workspace: string;
let inputs: Record<string, string>;
let env: Record<string, string>;
let postScript = "";

async function git(...args: string[]) {
  return execa("git", ["-C", workspace, "-c", "user.name=e2e", "-c", "user.email=e2e@example.test", ...args]);
}

/** A new commit on top of `from` (the workspace is left at it); `change` edits the tree first. */
async function commitOn(from: string, message: string, change?: () => Promise<void>): Promise<string> {
  await checkout(from);
  if (change) await change();
  await git("add", "-A");
  await git("commit", "-q", "--allow-empty", "-m", message);
  return (await git("rev-parse", "HEAD")).stdout.trim();
}

async function checkout(sha: string): Promise<void> {
  await git("checkout", "-q", "--detach", sha);
}

/** GitHub's view moves with a push: the PR's head and its branch. */
function pushed(pr: number, sha: string): void {
  const record = github.state.pullRequests.get(pr);
  if (!record) throw new Error(`no PR ${pr} in the stand-in`);
  record.headSha = sha;
  if (!record.fork) github.state.branches.set(record.headRef, sha);
}

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
  return pullRequestPayload(action, { number: PR, headRef: BRANCH, headSha: sha, fork: false });
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
  postScript = join(dirname(await bundleForTests()), "post.js");
  const base = await ensureStandinBase();
  workspace = await mkdtemp(join(tmpdir(), "e2e-workspace-"));
  await cp(resolve("examples/sample-addons"), join(workspace, "addons"), { recursive: true });
  await cp(resolve("Dockerfile.dev"), join(workspace, "Dockerfile.dev"));
  await cp(resolve(".dockerignore"), join(workspace, ".dockerignore")).catch(() => undefined);
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-q", "-m", "A");
  SHA_A = (await git("rev-parse", "HEAD")).stdout.trim();
  SHA_B = await commitOn(SHA_A, "B: no change to the tree");
  SHA_C = await commitOn(SHA_B, "C: never built", () => appendFile(join(workspace, "addons", "README.md"), "\nC\n"));
  await checkout(SHA_A);
  github = await startGitHubStandin({
    repository: REPO,
    token: "e2e-token",
    permissions: { "writer-wendy": "write", "reader-rob": "read", "triage-tina": "triage" },
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
    await checkout(SHA_A);
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
    await checkout(SHA_B);
    pushed(PR, SHA_B);
    const run = await act("pull_request", pullRequestEvent("synchronize", SHA_B));
    // B's tree is A's: the image is reused and tagged with B's commit for later look-ups.
    expect(run.stdout).toContain(`tagged it sha-${SHA_B}`);
    expect(run.outputs.result).toBe("deployed");
    expect(await helmRevision(namespace)).toBe(2);
    expect(github.commentsOn(PR)).toHaveLength(1);
    expect(github.commentsOn(PR)[0]?.body).toContain(SHA_B.slice(0, 12));
  });

  it("the same commit again: unchanged, with no build and no helm upgrade", async () => {
    const run = await act("pull_request", pullRequestEvent("synchronize", SHA_B));
    // On failure, the engine's own reason for deploying again (one CI run saw "deployed" here once).
    const why = run.stdout.split("\n").filter((line) => /deploying:|not ready|waiting/.test(line));
    expect(run.outputs.result, why.join("\n")).toBe("unchanged");
    expect(run.stdout).toMatch(/already in the registry: build skipped/);
    expect(run.stdout).not.toMatch(/building .* with buildah/);
    expect(await helmRevision(namespace)).toBe(2);
  });

  it("/sandbox redeploy deploys the image already built for the head, whatever is checked out, and builds nothing", async () => {
    // A comment's run checks out the default branch: here another commit entirely.
    await checkout(SHA_C);
    const payload = await commentEvent("/sandbox redeploy", "writer-wendy");
    const run = await act("issue_comment", payload);
    expect(["deployed", "unchanged"]).toContain(run.outputs.result);
    expect(run.outputs.image).toBe(`${process.env.REGISTRY}/acme/shop-sandbox:sha-${SHA_B}`);
    expect(run.stdout).toMatch(
      // B's tree is A's: the image first built for that tree (by A, or by an earlier run's commit), under B's commit tag.
      new RegExp(
        `sha-${SHA_B} is in the registry \\(built from commit [0-9a-f]{12}\\): deploying it as commit ${SHA_B.slice(0, 12)}, nothing is built`,
      ),
    );
    expect(run.stdout).not.toMatch(/building .* with buildah|build context/);
    expect((await sandboxNamespace())?.metadata.annotations["k8s-dev-sandbox/commit"]).toBe(SHA_B);
  });

  it("/sandbox redeploy of a head that was never built refuses and says what to do", async () => {
    const revisionBefore = await helmRevision(namespace);
    pushed(PR, SHA_C);
    try {
      const run = await act("issue_comment", await commentEvent("/sandbox redeploy", "writer-wendy"));
      expect(run.outputs.result).toBe("refused");
      expect(run.stdout).toMatch(new RegExp(`::warning::.*no image was built for commit ${SHA_C.slice(0, 12)}`));
      const sticky = github.commentsOn(PR).find((c) => c.body.includes("k8s-dev-sandbox:sticky"))?.body ?? "";
      expect(sticky).toContain("Preview not deployed");
      expect(sticky).toContain("re-run the build workflow");
      expect(await helmRevision(namespace)).toBe(revisionBefore);
    } finally {
      pushed(PR, SHA_B);
    }
  });

  it("a new sandbox beyond max-sandboxes is refused politely on its PR, and nothing is created", async () => {
    const number = PR + 20;
    github.addPullRequest({ number, headRef: "feature/Capacity-E2E", headSha: SHA_A });
    await checkout(SHA_A);
    const payload = withPullRequest(loadWebhookExample("pull_request.opened"), {
      number,
      headRef: "feature/Capacity-E2E",
      headSha: SHA_A,
      fork: false,
    });
    // The PR sandbox above exists: one is the most allowed.
    const run = await act("pull_request", payload, { "max-sandboxes": "1" });
    expect(run.exitCode).toBe(0);
    expect(run.outputs.result).toBe("refused");
    const sticky = github.commentsOn(number)[0]?.body ?? "";
    expect(sticky).toContain("Preview not deployed");
    expect(sticky).toContain("max-sandboxes allows (1)");
    expect((await kubectl(["get", "namespace", run.outputs.namespace as string], { reject: false })).exitCode).not.toBe(0);
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

  it("a command from someone with triage is refused and changes nothing", async () => {
    const run = await act("issue_comment", await commentEvent("/sandbox destroy", "triage-tina"));
    expect(run.outputs.result).toBe("refused");
    expect((await sandboxNamespace())?.metadata.name).toBe(namespace);
    expect(
      github.commentsOn(PR).some((c) => c.body.includes("@triage-tina may not run sandbox commands") && c.body.includes("triage")),
    ).toBe(true);
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
        annotations: { "k8s-dev-sandbox/expires-at": past, "k8s-dev-sandbox/branch": BRANCH, "k8s-dev-sandbox/repo": REPO },
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
        // Our label and key, another prefix: another installation of this tool.
        name: "other-install-old-one",
        labels: { ...ours, "k8s-dev-sandbox/key": "old-one" },
        annotations: { "k8s-dev-sandbox/expires-at": past, "k8s-dev-sandbox/repo": REPO },
        expectGone: false,
      },
      {
        // Our label and prefix, another repository sharing the cluster.
        name: `${PREFIX}theirs-old`,
        labels: { ...ours, "k8s-dev-sandbox/key": "theirs-old", "k8s-dev-sandbox/repo-hash": repoHash("someone/else") },
        annotations: { "k8s-dev-sandbox/expires-at": past, "k8s-dev-sandbox/repo": "someone/else" },
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
    await checkout(SHA_A);
    github.state.branches.set(branch, SHA_A);
    const deployed = await act("push", push, { comment: "false" });
    expect(deployed.outputs.result).toBe("deployed");
    const del = loadWebhookExample("delete");
    del.ref = branch;
    del.ref_type = "branch";
    const destroyed = await act("delete", del, { comment: "false" });
    expect(destroyed.outputs.result).toBe("destroyed");
    await namespaceGone(deployed.outputs.namespace as string);
  });

  it("refuses to build when the checkout is not the pushed commit, and creates nothing", async () => {
    const branch = "hotfix/Wrong-Checkout-E2E";
    const push = withBranch(
      loadWebhookExample("push", (p) => !p.deleted && p.ref?.startsWith("refs/heads/")),
      branch,
    );
    push.after = SHA_B;
    github.state.branches.set(branch, SHA_B);
    await checkout(SHA_A);
    const run = await act("push", push, { comment: "false" }, { expectFailure: true });
    expect(run.outputs.result).toBe("failed");
    const key = sandboxIdentity({ branch, baseDomain: "preview.example.test" }).key;
    expect(run.stdout).toMatch(
      new RegExp(
        `::error::sandbox ${key}, step build context: refusing to build: the build context is at commit ${SHA_A.slice(0, 12)}, not the target commit ${SHA_B.slice(0, 12)}`,
      ),
    );
    expect((await kubectl(["get", "namespace", `${PREFIX}${key}`], { reject: false })).exitCode).not.toBe(0);
  });

  it("with require-pull-request, a branch without an open PR is not deployed", async () => {
    const push = withBranch(
      loadWebhookExample("push", (p) => !p.deleted && p.ref?.startsWith("refs/heads/")),
      "lonely/No-PR-E2E",
    );
    push.after = SHA_A;
    await checkout(SHA_A);
    const run = await act("push", push, { comment: "false", "require-pull-request": "true" });
    expect(run.outputs.result).toBe("skipped");
    expect(run.stdout).toContain("has no open pull request");
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
    // The engine asks GitHub for the branch's head and builds only if the checkout is that commit.
    github.state.branches.set(branch, SHA_A);
    await checkout(SHA_A);
    const deployed = await act("workflow_dispatch", dispatch({ command: "deploy", branch }), { comment: "false", deployment: "false" });
    expect(deployed.stdout).toContain(`is at commit ${SHA_A.slice(0, 12)}, the target: building it`);
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
});

describe("a fork's pull request: built without secrets, deployed by workflow_run once its commit is approved", () => {
  const FORK_PR = PR + 1;
  const FORK_BRANCH = "fork-feature";
  let F1 = "";
  let F2 = "";
  let forkNamespace = "";
  const quiet = { deployment: "false" };

  function forkPayload(action: string, sha: string, extra: { label?: string; sender?: string } = {}) {
    const payload = withPullRequest(loadWebhookExample(`pull_request.${action}`), {
      number: FORK_PR,
      headRef: FORK_BRANCH,
      headSha: sha,
      fork: true,
      forkOwner: "stranger",
      state: action === "closed" ? "closed" : "open",
    });
    if (extra.label) payload.label = { name: extra.label };
    if (extra.sender) payload.sender = { ...payload.sender, login: extra.sender };
    return payload;
  }

  /** What preview-build.yml does on the fork's pull_request: no kubeconfig, no registry credentials; an archive. */
  async function unprivilegedBuild(sha: string): Promise<string> {
    await checkout(sha);
    const archive = join(await mkdtemp(join(tmpdir(), "fork-build-")), "sandbox-image.tar");
    const run = await act("pull_request", forkPayload("synchronize", sha), {
      command: "build",
      kubeconfig: "",
      "image-archive": archive,
      comment: "false",
      deployment: "false",
    });
    expect(run.outputs.result).toBe("built");
    expect(run.stdout).toContain(`wrote ${run.outputs.image?.replace(/:sha-.*/, "")}`);
    expect(existsSync(archive)).toBe(true);
    // What preview-deploy.yml does next, as data: copy the archive under the commit GitHub says the run built.
    await execa("skopeo", [
      "copy",
      "--dest-tls-verify=false",
      `oci-archive:${archive}`,
      `docker://${process.env.REGISTRY}/acme/shop-sandbox:sha-${sha}`,
    ]);
    return archive;
  }

  function buildCompleted(sha: string) {
    const payload = loadWebhookExample("workflow_run.completed", (p) => p.workflow_run.conclusion === "success");
    Object.assign(payload.workflow_run, {
      name: "preview-build",
      event: "pull_request",
      head_sha: sha,
      head_branch: FORK_BRANCH,
      head_repository: { ...payload.workflow_run.head_repository, full_name: "stranger/shop" },
      // GitHub lists no fork PRs here: the engine finds the PR by its head.
      pull_requests: [],
    });
    return payload;
  }

  const annotation = async (name: string) =>
    (await kubectlJson<NamespaceJson>(["get", "namespace", forkNamespace])).metadata.annotations[`k8s-dev-sandbox/${name}`];

  beforeAll(async () => {
    F1 = await commitOn(SHA_A, "fork: first change", () => appendFile(join(workspace, "addons", "README.md"), "\nfork 1\n"));
    F2 = await commitOn(F1, "fork: second change", () => appendFile(join(workspace, "addons", "README.md"), "\nfork 2\n"));
    github.addPullRequest({ number: FORK_PR, headRef: FORK_BRANCH, headSha: F1, fork: true, forkOwner: "stranger" });
    forkNamespace = `${PREFIX}pr-${FORK_PR}`;
  });

  it("the fork's own pull_request run only builds: no kubeconfig needed or used", async () => {
    await unprivilegedBuild(F1);
  });

  it("deploy on pull_request from a fork is skipped: GitHub gives that run no secrets", async () => {
    const run = await act("pull_request", forkPayload("opened", F1), { kubeconfig: "", ...quiet });
    expect(run.outputs.result).toBe("skipped");
    expect(run.stdout).toMatch(/fork .*stranger.* deployed by workflow_run once a maintainer approved its head commit/);
  });

  it("workflow_run of the build does not deploy an unapproved commit, and asks for an approval", async () => {
    const run = await act("workflow_run", buildCompleted(F1), quiet);
    expect(run.outputs.result).toBe("skipped");
    expect(run.stdout).toContain(`commit ${F1.slice(0, 12)} has not been approved`);
    expect((await kubectl(["get", "namespace", forkNamespace], { reject: false })).exitCode).not.toBe(0);
    const sticky = github.commentsOn(FORK_PR)[0]?.body ?? "";
    expect(sticky).toContain("awaiting approval");
    expect(sticky).toContain(`/sandbox approve ${F1.slice(0, 12)}`);
  });

  it("the label by a writer approves exactly the labelled commit and deploys the image built for it", async () => {
    github.state.pullRequests.get(FORK_PR)?.labels.push("sandbox:allow");
    const run = await act("pull_request_target", forkPayload("labeled", F1, { label: "sandbox:allow", sender: "writer-wendy" }), quiet);
    expect(run.outputs.result).toBe("deployed");
    expect(run.outputs.image).toBe(`${process.env.REGISTRY}/acme/shop-sandbox:sha-${F1}`);
    expect(run.stdout).not.toMatch(/building .* with buildah/);
    expect(github.state.statuses.get(F1)?.map((st) => `${st.context}=${st.state}`)).toEqual(["k8s-dev-sandbox/approval=success"]);
    expect(await annotation("commit")).toBe(F1);
  });

  it("a push after the approval is built, but not deployed until approved again", async () => {
    pushed(FORK_PR, F2);
    const revoked = await act("pull_request_target", forkPayload("synchronize", F2), quiet);
    expect(revoked.outputs.result).toBe("skipped");
    expect(github.state.pullRequests.get(FORK_PR)?.labels).not.toContain("sandbox:allow");
    await unprivilegedBuild(F2);
    const run = await act("workflow_run", buildCompleted(F2), quiet);
    expect(run.outputs.result).toBe("skipped");
    expect(run.stdout).toContain(`commit ${F2.slice(0, 12)} has not been approved`);
    expect(await annotation("commit")).toBe(F1);
  });

  it("an older build finishing late is not deployed over the newer head", async () => {
    const run = await act("workflow_run", buildCompleted(F1), quiet);
    expect(run.outputs.result).toBe("skipped");
    expect(run.stdout).toContain("no longer the head");
    expect(await annotation("commit")).toBe(F1);
  });

  it("/sandbox approve <commit> by a writer deploys the new head", async () => {
    const payload = withComment(withPullRequest(loadWebhookExample("issue_comment.created"), { number: FORK_PR }), {
      body: `/sandbox approve ${F2.slice(0, 12)}`,
      author: "writer-wendy",
    });
    const created = await getOctokit("e2e-token", { baseUrl: github.url }).rest.issues.createComment({
      owner: "acme",
      repo: "shop",
      issue_number: FORK_PR,
      body: payload.comment.body,
    });
    payload.comment.id = created.data.id;
    const run = await act("issue_comment", payload, quiet);
    expect(run.outputs.result).toBe("deployed");
    expect(await annotation("commit")).toBe(F2);
    expect(run.stdout).not.toMatch(/building .* with buildah/);
  });

  it("closing the PR destroys the fork's sandbox", async () => {
    const run = await act("pull_request", forkPayload("closed", F2), quiet);
    expect(run.outputs.result).toBe("destroyed");
    await namespaceGone(forkNamespace);
  });
});

describe("sandboxes of another repository", () => {
  const branch = "owned/Elsewhere-E2E";
  const key = () => sandboxIdentity({ branch, baseDomain: "preview.example.test" }).key;

  beforeAll(async () => {
    await kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
          name: `${PREFIX}${key()}`,
          labels: {
            "app.kubernetes.io/managed-by": "k8s-dev-sandbox",
            "k8s-dev-sandbox/key": key(),
            "k8s-dev-sandbox/repo-hash": repoHash("someone/else"),
          },
          annotations: { "k8s-dev-sandbox/repo": "someone/else", "k8s-dev-sandbox/expires-at": "2099-01-01T00:00:00Z" },
        },
      }),
    });
  });

  afterAll(async () => {
    await kubectl(["delete", "namespace", `${PREFIX}${key()}`, "--ignore-not-found", "--wait=false"], { reject: false });
  });

  it("are neither taken over by a deploy, nor destroyed, nor extended", async () => {
    await checkout(SHA_A);
    const push = withBranch(
      loadWebhookExample("push", (p) => !p.deleted && p.ref?.startsWith("refs/heads/")),
      branch,
    );
    push.after = SHA_A;
    github.state.branches.set(branch, SHA_A);
    const deployed = await act("push", push, { comment: "false", deployment: "false" }, { expectFailure: true });
    expect(deployed.outputs.result).toBe("failed");
    expect(deployed.stdout).toMatch(/::error::.*belongs to repository someone\/else, not acme\/shop; refusing to touch it/);
    const del = loadWebhookExample("delete");
    del.ref = branch;
    del.ref_type = "branch";
    const destroyed = await act("delete", del, { comment: "false", deployment: "false" }, { expectFailure: true });
    expect(destroyed.stdout).toMatch(/belongs to repository someone\/else/);
    const dispatch = loadWebhookExample("workflow_dispatch");
    dispatch.ref = `refs/heads/${branch}`;
    dispatch.inputs = { command: "extend", branch, duration: "3d" };
    const extended = await act("workflow_dispatch", dispatch, { comment: "false", deployment: "false" }, { expectFailure: true });
    expect(extended.stdout).toMatch(/belongs to repository someone\/else/);
    const ns = await kubectlJson<NamespaceJson & { status: { phase: string } }>(["get", "namespace", `${PREFIX}${key()}`]);
    expect(ns.status.phase).toBe("Active");
    expect(ns.metadata.annotations["k8s-dev-sandbox/expires-at"]).toBe("2099-01-01T00:00:00Z");
    expect(ns.metadata.annotations["k8s-dev-sandbox/repo"]).toBe("someone/else");
  });
});

describe("the kubeconfig on the runner", () => {
  it("is written under RUNNER_TEMP and gone when the step ends; the post step removes one a killed step left", async () => {
    const temp = await mkdtemp(join(tmpdir(), "runner-temp-"));
    const dispatch = loadWebhookExample("workflow_dispatch");
    dispatch.ref = "refs/heads/status/Only-E2E";
    dispatch.inputs = { command: "status", branch: "status/Only-E2E" };
    const run = await runBundledAction({
      eventName: "workflow_dispatch",
      payload: withRepository(dispatch, REPO),
      inputs: { ...inputs, comment: "false", deployment: "false" },
      env: { ...env, RUNNER_TEMP: temp },
    });
    expect(run.outputs.result).toBe("status");
    expect(readdirSync(temp).filter((n) => n.startsWith("k8s-sandbox-kube-"))).toEqual([]);
    // A main step killed before its cleanup: the post step (action.yml `post:`) finds the directory in its state.
    const left = join(temp, "k8s-sandbox-kube-left");
    await mkdir(left);
    await writeFile(join(left, "config"), "apiVersion: v1\n");
    await execa(process.execPath, [postScript], { env: { RUNNER_TEMP: temp, "STATE_kubeconfig-dir": left } });
    expect(existsSync(left)).toBe(false);
    // It never removes anything else, whatever the state says.
    const elsewhere = await mkdtemp(join(tmpdir(), "k8s-sandbox-kube-"));
    const refused = await execa(process.execPath, [postScript], { env: { RUNNER_TEMP: temp, "STATE_kubeconfig-dir": elsewhere } });
    expect(refused.stdout).toContain("not removing");
    expect(existsSync(elsewhere)).toBe(true);
  });

  it("an empty kubeconfig fails with what to do, instead of using the runner's own credentials", async () => {
    const dispatch = loadWebhookExample("workflow_dispatch");
    dispatch.ref = "refs/heads/status/Only-E2E";
    dispatch.inputs = { command: "status", branch: "status/Only-E2E" };
    // The runner's KUBECONFIG points at the ground: it must not be used.
    const run = await runBundledAction({
      eventName: "workflow_dispatch",
      payload: withRepository(dispatch, REPO),
      inputs: { ...inputs, kubeconfig: "", comment: "false", deployment: "false" },
      env: { ...env, KUBECONFIG: process.env.KUBECONFIG as string },
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toMatch(/::error::.*no kubeconfig: pass the cluster's kubeconfig as a secret/);
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
    await checkout(SHA_A);
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
