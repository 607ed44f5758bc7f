// event -> plan: which sandbox, which operation, or nothing and why. Pure, so
// the Action and the webhook server route a delivery identically, and every
// routing rule is a table row in the tests. Payloads are untrusted: a bad one
// yields a skip with a reason, never an exception. Only workflow_dispatch
// inputs, typed by a person with write access, fail loudly (InputError).
//
// Trust (docs/design.md, "Trust model"): only push, pull_request and
// workflow_dispatch runs build the checkout; every other event deploys an
// image the build made. A fork's PR is built by the unprivileged
// pull_request run and deployed by workflow_run once a maintainer approved
// its head commit; pull_request_target only records and withdraws approvals.
import { parseSlashCommand, type SlashCommandName } from "./commands.js";
import { parseDuration } from "./duration.js";
import { InputError, quoteInput } from "./errors.js";
import { stripRef } from "./identity.js";
import { type Json, obj, type PullRequestFacts, posInt, readPullRequest, sameRepo, sha, str } from "./payload.js";
import { buildRefusal, type ImageSource, imageSourceFor, staleCommitProblem } from "./trust.js";

export type Operation = "deploy" | "destroy" | "extend" | "status" | "help" | "sweep" | "skip" | "build" | "approve" | "revoke" | "test";
export type CommandSetting = "auto" | "deploy" | "destroy" | "extend" | "sweep" | "status" | "build" | "test";

export interface PlanSettings {
  command: CommandSetting;
  forkLabel: string;
  /** `owner/name` of the repository the engine serves. */
  repository: string;
  dispatchInputs?: Record<string, string>;
}

export interface PlanTarget {
  branch: string;
  pullRequest?: number;
  commit?: string;
  fork: boolean;
  headRepo?: string;
}

export interface Plan {
  operation: Operation;
  reason: string;
  target?: PlanTarget;
  /** For extend; undefined means the caller's default (the ttl). */
  extendBy?: number;
  comment?: { id: number; author: string; body?: string; pullRequest: number };
  /** The caller must check that the comment's author (or `actor`) has write, maintain or admin permission. */
  needsPermission?: boolean;
  /** Who asked, when it was not a comment (the sender of a label event). */
  actor?: string;
  /** Deploy: build the checkout, or use the image the build made for the target commit (trust.ts). */
  image?: ImageSource;
  /**
   * Set by planForImageSupply (trust.ts) for a front door that never builds:
   * the event is one whose run would have built, so a missing image may be
   * asked of the repository's CI. Never set on workflow_run, so a finished
   * build that made no image cannot start another.
   */
  wantsBuild?: boolean;
  /** Approve: the commit the approver named (a comment: a prefix) or saw (a label event: the head). */
  approveCommit?: string;
  /** The PR found by resolvePullRequest* must still have this head commit, or the plan is stale. */
  expectCommit?: string;
  /**
   * A workflow_run of a fork's PR: GitHub leaves fork PRs out of the
   * payload's pull_requests, so the PR is found by its head instead.
   */
  resolvePullRequestByHead?: { owner: string; branch: string };
  invalidCommand?: string;
  /**
   * The event names a pull request but not its branch or whether it is a
   * fork (comments, dispatch by PR number): fetch the PR and call
   * resolvePullRequestTarget() before acting.
   */
  resolvePullRequest?: number;
}

export interface WebhookEvent {
  name: string;
  payload: unknown;
}

type Routed = Plan & { blocked?: boolean };

export function planEvent(event: WebhookEvent, settings: PlanSettings): Plan {
  const routed = route(event, settings);
  const { blocked, ...plan } = settings.command === "auto" ? routed : override(routed, settings.command, event.name);
  return plan;
}

const DEPLOY_ACTIONS = new Set(["opened", "synchronize", "reopened", "ready_for_review"]);
const SLASH_OPERATION: Record<SlashCommandName, Operation> = {
  extend: "extend",
  destroy: "destroy",
  redeploy: "deploy",
  status: "status",
  approve: "approve",
  help: "help",
};

function route(event: WebhookEvent, settings: PlanSettings): Routed {
  const name = typeof event?.name === "string" ? event.name : "";
  const payload = obj(event?.payload);
  if (name === "schedule")
    return { operation: "sweep", reason: "scheduled run: sweep expired sandboxes and those whose PR is closed or branch is gone" };
  if (!payload) return skip(`the ${quoteInput(name, 40)} event has no payload object`);
  const repo = str(obj(payload.repository)?.full_name, 200);
  if (repo && settings.repository && !sameRepo(repo, settings.repository)) {
    return skip(`the event is about ${quoteInput(repo)}, not ${quoteInput(settings.repository)}`);
  }
  switch (name) {
    case "push":
      return routePush(payload);
    case "pull_request":
    case "pull_request_target":
      return routePullRequest(payload, settings, name);
    case "workflow_run":
      return routeWorkflowRun(payload, settings);
    case "delete":
      return routeDelete(payload);
    case "issue_comment":
      return routeComment(payload);
    case "workflow_dispatch":
      return routeDispatch(payload, settings);
    default:
      return skip(`${quoteInput(name, 40)} events do not affect sandboxes`);
  }
}

function routePush(p: Json): Routed {
  const ref = str(p.ref);
  if (!ref) return skip("the push event has no ref");
  if (ref.startsWith("refs/tags/")) return skip(`push of tag ${quoteInput(ref.slice(10))}: tags get no sandbox`);
  if (!ref.startsWith("refs/heads/") || ref === "refs/heads/") return skip(`push to ${quoteInput(ref)}, which is not a branch`);
  const branch = stripRef(ref);
  if (p.deleted === true)
    return { operation: "destroy", reason: `branch ${quoteInput(branch)} was deleted`, target: { branch, fork: false } };
  const target: PlanTarget = { branch, fork: false };
  const commit = sha(p.after);
  if (commit) target.commit = commit;
  return { operation: "deploy", reason: `push to branch ${quoteInput(branch)}`, target, image: "build" };
}

function routePullRequest(p: Json, settings: PlanSettings, eventName: string): Routed {
  const action = str(p.action, 40) ?? "";
  const facts = readPullRequest(p.pull_request, settings.repository);
  if (typeof facts === "string") return skip(facts);
  if (facts.baseRepo && settings.repository && !sameRepo(facts.baseRepo, settings.repository)) {
    return skip(`pull request #${facts.number} targets ${quoteInput(facts.baseRepo)}, not ${quoteInput(settings.repository)}`);
  }
  const target = targetOf(facts);
  const about = `pull request #${facts.number} ${action}`;
  if (action === "closed") {
    // Forks included: removing runs none of their code, and an approval
    // withdrawn after the deploy must not leave the sandbox behind.
    return { operation: "destroy", reason: `${about}${facts.merged ? " (merged)" : ""}`, target };
  }
  if (eventName === "pull_request_target") return routePullRequestTarget(p, facts, target, about, settings);
  if (!DEPLOY_ACTIONS.has(action)) {
    return skip(`${about}: only opened, synchronize, reopened and ready_for_review deploy, closed destroys`, target);
  }
  if (facts.fork) return { ...skip(forkNote(facts, settings.forkLabel), target), blocked: true };
  const note = facts.draft ? " (a draft: deployed too, so it can be previewed before review)" : "";
  return { operation: "deploy", reason: `${about}${note}`, target, image: "build" };
}

/**
 * pull_request_target runs with secrets on every fork's events, beside a
 * checkout of the default branch: it never builds or deploys. It keeps the
 * approval bound to one commit: the label by a writer approves the head it
 * was put on, a push or the label's removal withdraws it.
 */
function routePullRequestTarget(p: Json, facts: PullRequestFacts, target: PlanTarget, about: string, settings: PlanSettings): Routed {
  const action = str(p.action, 40) ?? "";
  const label = str(obj(p.label)?.name, 200);
  const sender = str(obj(p.sender)?.login, 100);
  if (!facts.fork)
    return skip(`${about}: a pull request from this repository needs no approval; its previews come from the build workflow`, target);
  if (action === "labeled" && label === settings.forkLabel) {
    if (!facts.commit) return skip(`${about}: the event names no head commit to approve`, target);
    if (!sender) return skip(`${about}: the event names no sender to check`, target);
    return {
      operation: "approve",
      reason: `${about} ${quoteInput(label)} by ${quoteInput(sender)}: approve commit ${facts.commit.slice(0, 12)}`,
      target,
      actor: sender,
      needsPermission: true,
      approveCommit: facts.commit,
      image: "prebuilt",
    };
  }
  if (action === "unlabeled" && label === settings.forkLabel) {
    // Withdrawing needs no permission check: it can only make the engine do less.
    return { operation: "revoke", reason: `${about}: label ${quoteInput(label)} removed`, target };
  }
  if (action === "synchronize") {
    return { operation: "revoke", reason: `${about}: new commits since any approval; a maintainer approves the new head again`, target };
  }
  return skip(
    `${about}: pull_request_target never builds or deploys a fork's code; its previews come from the build workflow through workflow_run`,
    target,
  );
}

/**
 * A completed run of the build workflow: deploy the image it made for its
 * head commit. Everything used is GitHub's own record of the run (head_sha,
 * head_branch, head_repository), never what the run produced.
 */
function routeWorkflowRun(p: Json, settings: PlanSettings): Routed {
  const action = str(p.action, 40);
  if (action !== "completed") return skip(`workflow_run ${action ?? "event"}: only a completed build deploys`);
  const run = obj(p.workflow_run);
  if (!run) return skip("the workflow_run event has no workflow_run object");
  const name = quoteInput(str(run.name, 200) ?? str(run.path, 200) ?? "build", 60);
  const conclusion = str(run.conclusion, 40);
  if (conclusion !== "success") return skip(`the build run ${name} ended ${conclusion ?? "without a conclusion"}: nothing to deploy`);
  const commit = sha(run.head_sha);
  const branch = str(run.head_branch);
  if (!commit || !branch) return skip(`the build run ${name} names no valid head commit and branch`);
  const headRepo = str(obj(run.head_repository)?.full_name, 200);
  const ours = settings.repository || str(obj(p.repository)?.full_name, 200) || "";
  const fork = headRepo === undefined || !sameRepo(headRepo, ours);
  const event = str(run.event, 40);
  const base = { operation: "deploy" as const, image: "prebuilt" as const, expectCommit: commit };
  // A dispatched run (the controller asks for one, domain/trust.ts) builds a
  // branch of this repository: only writers can dispatch, only on its refs.
  if (event === "push" || event === "workflow_dispatch") {
    if (fork)
      return skip(
        `the build run ${name} ran on a ${event === "push" ? "push" : "dispatch"} to ${quoteInput(headRepo ?? "(deleted)")}, not to this repository`,
      );
    return {
      ...base,
      reason: `build ${name} of branch ${quoteInput(branch)} at ${commit.slice(0, 12)} succeeded`,
      target: { branch, commit, fork: false },
    };
  }
  if (event !== "pull_request")
    return skip(
      `the build run ${name} ran on ${quoteInput(event ?? "?", 40)}: only push, pull_request and workflow_dispatch builds deploy`,
    );
  const reason = `build ${name} of ${fork ? `fork ${quoteInput(headRepo ?? "(deleted)")} ` : ""}branch ${quoteInput(branch)} at ${commit.slice(0, 12)} succeeded`;
  const listed = (Array.isArray(run.pull_requests) ? run.pull_requests : [])
    .map((entry) => obj(entry))
    .find((entry) => sha(obj(entry?.head)?.sha) === commit && baseIs(obj(obj(entry?.base)?.repo), ours));
  const number = posInt(listed?.number);
  if (number !== undefined) return { ...base, reason, resolvePullRequest: number };
  const owner = headRepo?.split("/")[0];
  if (!owner) return skip(`${reason}, but its fork is gone: nothing to deploy`);
  return { ...base, reason, resolvePullRequestByHead: { owner, branch } };
}

/** A workflow_run's pull request entries name their base repository only by API URL. */
function baseIs(repo: Json | undefined, repository: string): boolean {
  const url = str(repo?.url, 300);
  return !!url && !!repository && url.toLowerCase().endsWith(`/repos/${repository.toLowerCase()}`);
}

function forkNote(facts: PullRequestFacts, forkLabel: string): string {
  return `pull request #${facts.number} comes from fork ${quoteInput(facts.headRepo ?? "(deleted)")}: fork code is built without secrets (command: build) and deployed by workflow_run once a maintainer approved its head commit (label ${quoteInput(forkLabel)} or \`/sandbox approve <commit>\`)`;
}

function routeDelete(p: Json): Routed {
  const ref = str(p.ref);
  const type = str(p.ref_type, 20);
  if (!ref) return skip("the delete event has no ref");
  if (type !== "branch") return skip(`deleted ${type ?? "ref"} ${quoteInput(ref)}: only branches have sandboxes`);
  const branch = stripRef(ref);
  return { operation: "destroy", reason: `branch ${quoteInput(branch)} was deleted`, target: { branch, fork: false } };
}

function routeComment(p: Json): Routed {
  const action = str(p.action, 40);
  // Edited comments never run commands: editing an old comment must not
  // replay it, and the edit history is not a permission boundary we trust.
  if (action !== "created") return skip(`comment ${action ?? "event"}: only new comments carry commands`);
  const issue = obj(p.issue);
  const number = posInt(issue?.number);
  if (!issue || number === undefined) return skip("the comment event has no valid issue");
  if (!obj(issue.pull_request)) return skip(`comment on issue #${number}, not a pull request`);
  const c = obj(p.comment);
  const id = posInt(c?.id);
  const user = obj(c?.user);
  const author = str(user?.login, 100);
  if (!c || id === undefined || !author) return skip("the comment has no valid id or author");
  // Bots (ours included) never command us: no reply loops.
  if (user?.type === "Bot") return skip(`comment by bot ${quoteInput(author)}`);
  const parsed = parseSlashCommand(typeof c.body === "string" ? c.body : "");
  if (parsed.kind === "none") return skip(`comment by ${quoteInput(author)} on pull request #${number} is not a /sandbox command`);
  const firstLine = (typeof c.body === "string" ? c.body : "").trimStart().split(/\r?\n/, 1)[0]?.slice(0, 200) ?? "";
  const comment = { id, author, body: firstLine, pullRequest: number };
  if (parsed.kind === "invalid") {
    return {
      operation: "help",
      reason: `invalid command from ${quoteInput(author)} on pull request #${number}`,
      comment,
      needsPermission: true,
      invalidCommand: parsed.message,
    };
  }
  const operation = SLASH_OPERATION[parsed.command];
  const plan: Routed = {
    operation,
    reason: `/sandbox ${parsed.command}${parsed.durationText ? ` ${parsed.durationText}` : ""} by ${quoteInput(author)} on pull request #${number}`,
    comment,
    needsPermission: true,
  };
  if (parsed.duration !== undefined) plan.extendBy = parsed.duration;
  if (parsed.sha !== undefined) plan.approveCommit = parsed.sha;
  // A comment's run checks out the default branch: it redeploys the image
  // the build made for the PR's head, never what happens to be checked out.
  if (operation === "deploy" || operation === "approve") plan.image = "prebuilt";
  if (operation !== "help") plan.resolvePullRequest = number;
  return plan;
}

const DISPATCH_COMMANDS = new Set(["deploy", "destroy", "extend", "sweep", "status"]);

function routeDispatch(p: Json, settings: PlanSettings): Routed {
  const inputs: Record<string, string> = {};
  // Payload inputs first, then the ones the front door passed: those win.
  for (const source of [obj(p.inputs) ?? {}, settings.dispatchInputs ?? {}]) {
    for (const [k, v] of Object.entries(source)) if (typeof v === "string" && v.trim() !== "") inputs[k] = v.trim();
  }
  const command = (inputs.command ?? "auto").toLowerCase();
  const operation = command === "auto" ? "deploy" : command;
  if (!DISPATCH_COMMANDS.has(operation)) {
    throw new InputError(`${quoteInput(inputs.command)} is not a command; use deploy, destroy, extend, sweep or status`, {
      input: "command",
    });
  }
  if (operation === "sweep") return { operation: "sweep", reason: "manual run: sweep" };
  const plan: Routed = { operation: operation as Operation, reason: `manual run: ${operation}` };
  if (inputs.duration !== undefined) plan.extendBy = parseDuration(inputs.duration, "duration");
  const prText = inputs["pull-request"];
  if (prText !== undefined) {
    const pr = /^#?[1-9]\d{0,9}$/.test(prText) ? Number(prText.replace("#", "")) : Number.NaN;
    if (!Number.isSafeInteger(pr)) throw new InputError(`${quoteInput(prText)} is not a pull request number`, { input: "pull-request" });
    return { ...plan, reason: `${plan.reason} of pull request #${pr}`, resolvePullRequest: pr, image: "build" };
  }
  const ref = inputs.branch ?? str(p.ref);
  if (ref === undefined) throw new InputError("no branch: give the branch input or run the workflow on a branch", { input: "branch" });
  if (ref.startsWith("refs/") && !ref.startsWith("refs/heads/")) {
    throw new InputError(`${quoteInput(ref)} is not a branch; give the branch input`, { input: "branch" });
  }
  const branch = stripRef(ref);
  if (branch === "" || branch.length > 1024) throw new InputError(`${quoteInput(ref)} is not a branch name`, { input: "branch" });
  // No commit here: the caller looks up the branch's head, and the build checks the checkout is it.
  return { ...plan, reason: `${plan.reason} of branch ${quoteInput(branch)}`, target: { branch, fork: false }, image: "build" };
}

/**
 * An explicit `command` input replaces the operation the event implies but
 * keeps its target. It cannot conjure a target the event lacks, lift the
 * fork gate (`command: deploy` never deploys an unapproved fork), or build
 * on an event whose run holds secrets beside a checkout of other code.
 */
function override(base: Routed, command: Exclude<CommandSetting, "auto">, eventName: string): Routed {
  if (command === "sweep") return { operation: "sweep", reason: `command: sweep (on a ${quoteInput(eventName, 40)} event)` };
  if (base.operation === "help") return base;
  if (base.blocked && command === "deploy") return base;
  if (!base.target && base.resolvePullRequest === undefined && base.resolvePullRequestByHead === undefined) {
    const why = base.operation === "skip" ? base.reason : `the ${quoteInput(eventName, 40)} event names no branch or pull request`;
    return skip(`command: ${command} has nothing to act on: ${why}`);
  }
  if (command === "build") {
    const refusal = buildRefusal(eventName);
    if (refusal) return skip(refusal, base.target);
  }
  const { blocked, approveCommit, actor, ...rest } = base;
  const plan: Routed = {
    ...rest,
    operation: command,
    reason: `command: ${command} (the event alone would give ${base.operation}: ${base.reason})`,
  };
  if (command === "deploy") plan.image = base.target ? imageSourceFor(eventName, base.target) : (base.image ?? "prebuilt");
  else delete plan.image;
  return plan;
}

/**
 * Complete a plan that needs its pull request looked up (resolvePullRequest
 * or resolvePullRequestByHead), given the PR as the REST API returns it. A
 * closed PR is not deployed; a PR whose head moved on is stale; a fork's
 * code is never built, only its approved image deployed.
 */
export function resolvePullRequestTarget(plan: Plan, pullRequest: unknown, settings: Pick<PlanSettings, "forkLabel" | "repository">): Plan {
  if (plan.resolvePullRequest === undefined && plan.resolvePullRequestByHead === undefined) return plan;
  const { resolvePullRequest: wanted, resolvePullRequestByHead: byHead, ...rest } = plan;
  if (pullRequest === undefined && byHead) {
    return {
      ...rest,
      operation: "skip",
      reason: `${plan.reason}, but no open pull request has head ${quoteInput(`${byHead.owner}:${byHead.branch}`)}`,
    };
  }
  const facts = readPullRequest(pullRequest, settings.repository);
  if (typeof facts === "string") return { ...rest, operation: "skip", reason: facts };
  if (wanted !== undefined && facts.number !== wanted)
    return { ...rest, operation: "skip", reason: `asked for pull request #${wanted}, got #${facts.number}` };
  const target = targetOf(facts);
  if (plan.operation === "deploy" || plan.operation === "approve" || plan.operation === "build") {
    if (facts.state === "closed") {
      return { ...rest, operation: "skip", reason: `pull request #${facts.number} is closed; reopen it to deploy`, target };
    }
    const stale = staleCommitProblem(plan.expectCommit, facts.commit, `pull request #${facts.number}`);
    if (stale) return { ...rest, operation: "skip", reason: stale, target };
  }
  if (plan.operation === "deploy" && facts.fork) return { ...rest, image: "prebuilt", target };
  return { ...rest, target };
}

function targetOf(facts: PullRequestFacts): PlanTarget {
  const target: PlanTarget = { branch: facts.branch, pullRequest: facts.number, fork: facts.fork };
  if (facts.commit) target.commit = facts.commit;
  if (facts.headRepo) target.headRepo = facts.headRepo;
  return target;
}

function skip(reason: string, target?: PlanTarget): Routed {
  return target ? { operation: "skip", reason, target } : { operation: "skip", reason };
}
