// A webhook delivery as the controller sees it before queueing: which events
// it acts on, the name its payload is planned under, and which sandbox
// (subject) the work is about. Pure, so every routing rule is a table row.
import { obj, str } from "./payload.js";
import type { Plan } from "./plan.js";
import type { WorkKind } from "./work-queue.js";

/** The events the controller acts on; the Action's workflow-only events (schedule, workflow_dispatch) are not deliveries to it. */
export const HANDLED_EVENTS: ReadonlySet<string> = new Set(["push", "pull_request", "delete", "issue_comment", "workflow_run"]);

/**
 * The event name a delivery is planned under. GitHub sends one pull_request
 * webhook per action; the Action sees two runs of it: pull_request (for a
 * fork: the fork's code, no secrets) and pull_request_target (secrets, never
 * the fork's code: approvals). The controller holds credentials for every
 * delivery and never builds, so a fork's pull_request is the Action's
 * pull_request_target (approve by label, withdraw on push, destroy on
 * close) and a same-repository one is the Action's pull_request.
 */
export function planningEventName(name: string, payload: unknown): string {
  if (name !== "pull_request") return name;
  const pr = obj(obj(payload)?.pull_request);
  const head = str(obj(obj(pr?.head)?.repo)?.full_name, 200);
  const base = str(obj(obj(pr?.base)?.repo)?.full_name, 200);
  // A deleted fork has no head repository: it is still a fork.
  const fork = head === undefined || base === undefined || head.toLowerCase() !== base.toLowerCase();
  return fork ? "pull_request_target" : name;
}

/** The repository a payload is about, as GitHub spells it, or undefined. */
export function repositoryOf(payload: unknown): string | undefined {
  return str(obj(obj(payload)?.repository)?.full_name, 200);
}

/** The installation of the GitHub App the delivery came through, when it came through one. */
export function installationOf(payload: unknown): number | undefined {
  const id = obj(obj(payload)?.installation)?.id;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/**
 * The repositories a GitHub App was just given access to, as GitHub spells
 * them: an installation created, unsuspended or with new permissions
 * accepted (its `repositories`), or repositories added to one. Anything else,
 * removals included, gives none: losing access destroys nothing (the Action
 * may still serve those repositories; their sandboxes expire by their TTL).
 */
export function repositoriesGained(event: string, payload: unknown): string[] {
  const body = obj(payload);
  const action = str(body?.action, 40);
  const list =
    event === "installation" && (action === "created" || action === "unsuspend" || action === "new_permissions_accepted")
      ? body?.repositories
      : event === "installation_repositories" && action === "added"
        ? body?.repositories_added
        : undefined;
  if (!Array.isArray(list)) return [];
  return list.map((entry) => str(obj(entry)?.full_name, 200)).filter((name): name is string => name !== undefined);
}

/**
 * Which sandbox the work is about, and what it does to it: the queue runs one
 * item per key at a time and lets a newer deploy or destroy replace a waiting
 * deploy. A pull request is its own subject whether the event named its
 * branch or only its number (a comment); a branch without a PR is its branch.
 */
export function workSubject(repository: string, plan: Plan): { key: string; kind: WorkKind } {
  const repo = repository.toLowerCase();
  const pr = plan.target?.pullRequest ?? plan.resolvePullRequest ?? plan.comment?.pullRequest;
  const byHead = plan.resolvePullRequestByHead;
  const subject =
    pr !== undefined
      ? `pr:${pr}`
      : plan.target
        ? `branch:${plan.target.branch}`
        : byHead
          ? `head:${byHead.owner}:${byHead.branch}`
          : "repository";
  const kind: WorkKind = plan.operation === "deploy" ? "deploy" : plan.operation === "destroy" ? "destroy" : "other";
  return { key: `${repo}#${subject}`, kind };
}
