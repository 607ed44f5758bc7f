// Webhook payloads for tests: real examples from @octokit/webhooks-examples,
// deep-cloned, with helpers that change only the fields a test cares about
// (branch, pull request, comment, repository) and keep the rest realistic.
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// biome-ignore lint/suspicious/noExplicitAny: payloads are free-form JSON that tests reshape at will.
export type WebhookPayload = any;

interface WebhookDefinition {
  name: string;
  actions: string[];
  examples: WebhookPayload[];
}

let definitions: WebhookDefinition[] | undefined;

function loadDefinitions(): WebhookDefinition[] {
  if (!definitions) {
    const path = createRequire(import.meta.url).resolve("@octokit/webhooks-examples/api.github.com/index.json");
    definitions = JSON.parse(readFileSync(path, "utf8")) as WebhookDefinition[];
  }
  return definitions;
}

/**
 * A deep clone of the first example of `eventName` (`pull_request`, or with an
 * action: `pull_request.opened`) that satisfies `predicate`.
 */
export function loadWebhookExample(eventName: string, predicate?: (payload: WebhookPayload) => boolean): WebhookPayload {
  const [name, action] = eventName.split(".");
  const definition = loadDefinitions().find((d) => d.name === name);
  if (!definition) throw new Error(`@octokit/webhooks-examples has no "${name}" event`);
  const example = definition.examples.find((e) => (action === undefined || e.action === action) && (!predicate || predicate(e)));
  if (!example) throw new Error(`no "${eventName}" example matches${predicate ? " the predicate" : ""}`);
  return structuredClone(example);
}

/** Every event name the examples cover. */
export function webhookEventNames(): string[] {
  return loadDefinitions().map((d) => d.name);
}

/** Points the payload at a branch: push/create/delete refs, a pull request's head, a workflow run's head branch. */
export function withBranch(payload: WebhookPayload, branch: string): WebhookPayload {
  if (payload.pull_request?.head) {
    payload.pull_request.head.ref = branch;
    payload.pull_request.head.label = `${payload.pull_request.head.user?.login ?? payload.repository?.owner?.login}:${branch}`;
  }
  if (typeof payload.ref === "string") {
    if (payload.ref_type !== undefined) {
      payload.ref = branch;
      payload.ref_type = "branch";
    } else {
      payload.ref = `refs/heads/${branch}`;
    }
  }
  for (const key of ["workflow_run", "check_suite", "workflow_job"]) {
    if (payload[key] && "head_branch" in payload[key]) payload[key].head_branch = branch;
  }
  if (payload.deployment && typeof payload.deployment.ref === "string") payload.deployment.ref = branch;
  return payload;
}

export interface PullRequestShape {
  number?: number;
  headRef?: string;
  headSha?: string;
  baseRef?: string;
  /** Head in someone else's fork (owner `fork-owner` unless `forkOwner` says otherwise). */
  fork?: boolean;
  forkOwner?: string;
  labels?: string[];
  state?: "open" | "closed";
  draft?: boolean;
}

function labelObjects(payload: WebhookPayload, names: string[]): WebhookPayload[] {
  const repoUrl: string = payload.repository?.url ?? "https://api.github.com/repos/Codertocat/Hello-World";
  return names.map((name, index) => ({
    id: 1_000_000 + index,
    node_id: Buffer.from(`Label:${name}`).toString("base64"),
    url: `${repoUrl}/labels/${encodeURIComponent(name)}`,
    name,
    description: "",
    color: "ededed",
    default: false,
  }));
}

// Rewrites `/pulls/1`, `/pull/1`, `/issues/1` in the URL fields of one object (not nested ones).
function renumberUrls(target: WebhookPayload, from: number, to: number): void {
  if (!target || from === to) return;
  const pattern = new RegExp(`/(pulls|pull|issues)/${from}(?=$|[/#.?])`, "g");
  for (const [key, value] of Object.entries(target)) {
    if (typeof value === "string" && key.endsWith("url")) target[key] = value.replace(pattern, `/$1/${to}`);
  }
  for (const link of Object.values(target._links ?? {}) as Array<{ href?: string }>) {
    if (typeof link.href === "string") link.href = link.href.replace(pattern, `/$1/${to}`);
  }
}

function forkRepository(base: WebhookPayload, owner: string): WebhookPayload {
  const repo = structuredClone(base);
  const oldFullName: string = repo.full_name;
  const fullName = `${owner}/${repo.name}`;
  for (const [key, value] of Object.entries(repo)) {
    if (typeof value === "string" && key.endsWith("url")) repo[key] = value.replace(oldFullName, fullName);
  }
  repo.id = (repo.id ?? 0) + 1;
  repo.full_name = fullName;
  repo.fork = true;
  repo.owner = { ...repo.owner, login: owner, id: (repo.owner?.id ?? 0) + 1 };
  return repo;
}

/**
 * Reshapes a `pull_request*` payload's pull request, or turns an `issue_comment`
 * payload's issue into that pull request (sets `issue.pull_request`).
 */
export function withPullRequest(payload: WebhookPayload, shape: PullRequestShape): WebhookPayload {
  const pr = payload.pull_request;
  if (pr) {
    if (shape.number !== undefined) {
      renumberUrls(pr, pr.number, shape.number);
      pr.number = shape.number;
      if ("number" in payload) payload.number = shape.number;
    }
    if (shape.headRef !== undefined) withBranch(payload, shape.headRef);
    if (shape.headSha !== undefined) pr.head.sha = shape.headSha;
    if (shape.baseRef !== undefined) {
      pr.base.ref = shape.baseRef;
      pr.base.label = `${pr.base.user?.login}:${shape.baseRef}`;
    }
    if (shape.fork !== undefined) {
      const owner = shape.fork ? (shape.forkOwner ?? "fork-owner") : pr.base.repo.owner.login;
      pr.head.repo = shape.fork ? forkRepository(pr.base.repo, owner) : structuredClone(pr.base.repo);
      pr.head.user = shape.fork ? { ...pr.head.user, login: owner, id: (pr.head.user?.id ?? 0) + 1 } : structuredClone(pr.base.user);
      pr.head.label = `${owner}:${pr.head.ref}`;
    }
    if (shape.labels !== undefined) pr.labels = labelObjects(payload, shape.labels);
    if (shape.state !== undefined) pr.state = shape.state;
    if (shape.draft !== undefined) pr.draft = shape.draft;
  }
  const issue = payload.issue;
  if (issue) {
    const number = shape.number ?? issue.number;
    renumberUrls(issue, issue.number, number);
    if (payload.comment) renumberUrls(payload.comment, issue.number, number);
    issue.number = number;
    const html: string = issue.html_url.replace(/\/issues\/(\d+)$/, "/pull/$1");
    const api: string = issue.url.replace(/\/issues\/(\d+)$/, "/pulls/$1");
    issue.pull_request = { url: api, html_url: html, diff_url: `${html}.diff`, patch_url: `${html}.patch`, merged_at: null };
    if (shape.labels !== undefined) issue.labels = labelObjects(payload, shape.labels);
    if (shape.state !== undefined) issue.state = shape.state;
  }
  if (!pr && !issue) throw new Error("withPullRequest needs a payload with a pull_request or an issue");
  return payload;
}

/** Sets an `issue_comment` payload's comment text and author (also the sender). */
export function withComment(
  payload: WebhookPayload,
  comment: { body: string; author?: string; authorAssociation?: string },
): WebhookPayload {
  if (!payload.comment) throw new Error("withComment needs a payload with a comment");
  payload.comment.body = comment.body;
  if (comment.author !== undefined) {
    payload.comment.user = { ...payload.comment.user, login: comment.author };
    payload.sender = { ...payload.sender, login: comment.author };
  }
  if (comment.authorAssociation !== undefined) payload.comment.author_association = comment.authorAssociation;
  return payload;
}

/** Moves the payload to another repository (`owner/name`), URLs included, e.g. the stand-in's. */
export function withRepository(payload: WebhookPayload, fullName: string): WebhookPayload {
  const oldFullName: string | undefined = payload.repository?.full_name;
  const [owner, name] = fullName.split("/");
  if (!oldFullName || !owner || !name) throw new Error("withRepository needs a payload with a repository and an owner/name");
  const rewritten = JSON.parse(
    JSON.stringify(payload).replaceAll(`/${oldFullName}`, `/${fullName}`).replaceAll(`"${oldFullName}"`, `"${fullName}"`),
  );
  for (const repo of [rewritten.repository, rewritten.pull_request?.base?.repo]) {
    if (!repo) continue;
    repo.name = name;
    repo.full_name = fullName;
    if (repo.owner) repo.owner.login = owner;
  }
  return rewritten;
}

/**
 * A `pull_request.<action>` example reshaped to a pull request (closed when
 * the action is "closed", open otherwise), moved to `repository` when given.
 */
export function pullRequestEvent(action: string, shape: PullRequestShape, repository?: string): WebhookPayload {
  const payload = withPullRequest(loadWebhookExample(`pull_request.${action}`), {
    state: action === "closed" ? "closed" : "open",
    ...shape,
  });
  return repository ? withRepository(payload, repository) : payload;
}

/** Headers GitHub sends with a delivery, signed with `secret` like `x-hub-signature-256`. */
export function webhookHeaders(eventName: string, body: string, secret: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/standin",
    "x-github-event": eventName,
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
  };
}
