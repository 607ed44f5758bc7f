// event -> plan: which sandbox, which operation, or nothing and why. Pure, so
// the Action and the webhook server route a delivery identically, and every
// routing rule is a table row in the tests. Payloads are untrusted: a bad one
// yields a skip with a reason, never an exception. Only workflow_dispatch
// inputs, typed by a person with write access, fail loudly (InputError).
import { parseSlashCommand, type SlashCommandName } from "./commands.js";
import { parseDuration } from "./duration.js";
import { InputError, quoteInput } from "./errors.js";
import { stripRef } from "./identity.js";
import { type Json, obj, type PullRequestFacts, posInt, readPullRequest, sameRepo, sha, str } from "./payload.js";

export type Operation = "deploy" | "destroy" | "extend" | "status" | "help" | "sweep" | "skip";
export type CommandSetting = "auto" | "deploy" | "destroy" | "extend" | "sweep" | "status";

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
  /** A slash command: the caller must check the author has write, maintain or admin permission. */
  needsPermission?: boolean;
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
      return routePullRequest(payload, settings);
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
  return { operation: "deploy", reason: `push to branch ${quoteInput(branch)}`, target };
}

function routePullRequest(p: Json, settings: PlanSettings): Routed {
  const action = str(p.action, 40) ?? "";
  const facts = readPullRequest(p.pull_request, settings.repository);
  if (typeof facts === "string") return skip(facts);
  if (facts.baseRepo && settings.repository && !sameRepo(facts.baseRepo, settings.repository)) {
    return skip(`pull request #${facts.number} targets ${quoteInput(facts.baseRepo)}, not ${quoteInput(settings.repository)}`);
  }
  const target = targetOf(facts);
  const about = `pull request #${facts.number} ${action}`;
  if (action === "closed") {
    // Forks included: removing runs none of their code, and a label taken off
    // after the deploy must not leave the sandbox behind.
    return { operation: "destroy", reason: `${about}${facts.merged ? " (merged)" : ""}`, target };
  }
  const labeledAllow = action === "labeled" && facts.fork && str(obj(p.label)?.name, 200) === settings.forkLabel;
  if (!DEPLOY_ACTIONS.has(action) && !labeledAllow) {
    return skip(`${about}: only opened, synchronize, reopened and ready_for_review deploy, closed destroys`, target);
  }
  const gate = forkGate(facts, settings.forkLabel);
  if (gate) return { ...skip(gate, target), blocked: true };
  const notes = [
    facts.fork ? `from fork ${quoteInput(facts.headRepo ?? "(deleted)")}, allowed by label ${quoteInput(settings.forkLabel)}` : "",
  ];
  if (facts.draft) notes.push("a draft: deployed too, so it can be previewed before review");
  const note = notes.filter(Boolean).join("; ");
  return { operation: "deploy", reason: note ? `${about} (${note})` : about, target };
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
    return { ...plan, reason: `${plan.reason} of pull request #${pr}`, resolvePullRequest: pr };
  }
  const ref = inputs.branch ?? str(p.ref);
  if (ref === undefined) throw new InputError("no branch: give the branch input or run the workflow on a branch", { input: "branch" });
  if (ref.startsWith("refs/") && !ref.startsWith("refs/heads/")) {
    throw new InputError(`${quoteInput(ref)} is not a branch; give the branch input`, { input: "branch" });
  }
  const branch = stripRef(ref);
  if (branch === "" || branch.length > 1024) throw new InputError(`${quoteInput(ref)} is not a branch name`, { input: "branch" });
  return { ...plan, reason: `${plan.reason} of branch ${quoteInput(branch)}`, target: { branch, fork: false } };
}

/**
 * An explicit `command` input replaces the operation the event implies but
 * keeps its target. It cannot conjure a target the event lacks, nor lift the
 * fork gate: `command: deploy` still never deploys an unlabelled fork.
 */
function override(base: Routed, command: Exclude<CommandSetting, "auto">, eventName: string): Routed {
  if (command === "sweep") return { operation: "sweep", reason: `command: sweep (on a ${quoteInput(eventName, 40)} event)` };
  if (base.operation === "help") return base;
  if (base.blocked && command === "deploy") return base;
  if (!base.target && base.resolvePullRequest === undefined) {
    const why = base.operation === "skip" ? base.reason : `the ${quoteInput(eventName, 40)} event names no branch or pull request`;
    return skip(`command: ${command} has nothing to act on: ${why}`);
  }
  const { blocked, ...rest } = base;
  return { ...rest, operation: command, reason: `command: ${command} (the event alone would give ${base.operation}: ${base.reason})` };
}

/**
 * Complete a plan that needs its pull request looked up (resolvePullRequest),
 * given the PR as the REST API returns it. Applies the same fork gate as PR
 * events; a closed PR is not redeployed.
 */
export function resolvePullRequestTarget(plan: Plan, pullRequest: unknown, settings: Pick<PlanSettings, "forkLabel" | "repository">): Plan {
  if (plan.resolvePullRequest === undefined) return plan;
  const { resolvePullRequest: wanted, ...rest } = plan;
  const facts = readPullRequest(pullRequest, settings.repository);
  if (typeof facts === "string") return { ...rest, operation: "skip", reason: facts };
  if (facts.number !== wanted) return { ...rest, operation: "skip", reason: `asked for pull request #${wanted}, got #${facts.number}` };
  const target = targetOf(facts);
  if (plan.operation === "deploy") {
    if (facts.state === "closed")
      return { ...rest, operation: "skip", reason: `pull request #${facts.number} is closed; reopen it to deploy`, target };
    const gate = forkGate(facts, settings.forkLabel);
    if (gate) return { ...rest, operation: "skip", reason: gate, target };
  }
  return { ...rest, target };
}

function targetOf(facts: PullRequestFacts): PlanTarget {
  const target: PlanTarget = { branch: facts.branch, pullRequest: facts.number, fork: facts.fork };
  if (facts.commit) target.commit = facts.commit;
  if (facts.headRepo) target.headRepo = facts.headRepo;
  return target;
}

/** Why a fork's code may not be deployed, or undefined when it may. */
function forkGate(facts: PullRequestFacts, forkLabel: string): string | undefined {
  if (!facts.fork || facts.labels.includes(forkLabel)) return undefined;
  return `pull request #${facts.number} comes from fork ${quoteInput(facts.headRepo ?? "(deleted)")}: fork code is not deployed until a maintainer adds the label ${quoteInput(forkLabel)}`;
}

function skip(reason: string, target?: PlanTarget): Routed {
  return target ? { operation: "skip", reason, target } : { operation: "skip", reason };
}
