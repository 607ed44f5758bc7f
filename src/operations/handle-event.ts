// One GitHub event, start to finish: plan it, check who asked, complete the
// plan from GitHub's facts (the PR, the branch's head, the approval of a
// fork's commit), run the operation, and report on GitHub (sticky comment,
// deployment statuses, reactions). The Action and the webhook server both
// call this, so an event reaching either is handled identically.
import type { GitHub } from "../adapters/github/client.js";
import { helpText } from "../domain/commands.js";
import { formatDuration } from "../domain/duration.js";
import { SandboxError } from "../domain/errors.js";
import { renderTestSummary } from "../domain/odoo-test-log.js";
import { readPullRequest } from "../domain/payload.js";
import { type CommandSetting, type Plan, type PlanTarget, planEvent, resolvePullRequestTarget, type WebhookEvent } from "../domain/plan.js";
import { code } from "../domain/report.js";
import { approvalShaProblem, approvalVerdict, type ImageSupply, mayCommand, planForImageSupply } from "../domain/trust.js";
import { build } from "./build.js";
import { destroy } from "./destroy.js";
import type { Engine, Result } from "./engine.js";
import { type DeployContext, environmentOf, quietly, report, runDeploy } from "./event-deploy.js";
import { extend } from "./extend.js";
import { identityFor } from "./namespace.js";
import { status } from "./status.js";
import { runTests, type TestOutcome } from "./test.js";
import { type SweepOutcome, sweep } from "./sweep.js";

export interface EventSettings {
  command: CommandSetting;
  forkLabel: string;
  repository: string;
  dispatchInputs?: Record<string, string>;
  comment: boolean;
  deployment: boolean;
  runUrl?: string;
  /** Deploy this prebuilt image rather than the one tagged with the target commit. */
  imageRef?: string;
  /** command: build writes the image to this OCI archive instead of pushing it. */
  imageArchive?: string;
  /** Branches are deployed only while they have an open pull request. */
  requirePullRequest?: boolean;
  /** Where images come from (domain/trust.ts): the Action builds its checkout (default), the controller deploys its CI's images. */
  images?: ImageSupply;
  /**
   * images: ci: the repository's preview workflow (file name or id), started
   * with workflow_dispatch on the branch when a push or pull request finds no
   * image for its commit; its workflow_run deploys. Never for a fork's code.
   */
  buildWorkflow?: string;
  /** command: test: what to run (see operations/test.ts). */
  test?: { modules: string[]; tags?: string; deadlineSeconds: number };
}

export interface EventOutcome {
  plan: Plan;
  result: Result;
  message: string;
  key?: string;
  namespace?: string;
  url?: string;
  image?: string;
  expiresAt?: Date;
  sweep?: SweepOutcome;
  test?: TestOutcome;
  error?: SandboxError;
}

export async function handleEvent(
  engine: Engine,
  github: GitHub | undefined,
  event: WebhookEvent,
  settings: EventSettings,
): Promise<EventOutcome> {
  const { logger } = engine;
  const supply = settings.images ?? "checkout";
  let plan = planForImageSupply(planEvent(event, settings), supply);
  logger.info(`event ${event.name}: ${plan.operation} (${plan.reason})`);
  const comment = plan.comment;
  const actor = comment?.author ?? plan.actor;

  if (plan.needsPermission && actor && plan.operation !== "skip") {
    // Fail closed: a permission GitHub would not tell us is no permission.
    const permission = github ? await github.permission(actor).catch(() => "unknown") : "unknown";
    if (!mayCommand(permission)) {
      const what = comment ? "run sandbox commands" : "approve a fork's preview";
      const message = `@${actor} may not ${what} here (permission: ${permission}; write, maintain or admin is needed). Nothing was changed.`;
      const pr = comment?.pullRequest ?? plan.target?.pullRequest;
      if (pr) await quietly(engine, () => github?.reply(pr, `Sorry, ${message}`));
      if (comment) await quietly(engine, () => github?.react(comment.id, "confused"));
      // A label someone without the right put on must not look like an approval.
      if (!comment && plan.operation === "approve" && pr) await quietly(engine, () => github?.removeLabel(pr, settings.forkLabel));
      return { plan, result: "refused", message };
    }
    if (comment) await quietly(engine, () => github?.react(comment.id, "eyes"));
  }

  if (plan.resolvePullRequest !== undefined || plan.resolvePullRequestByHead !== undefined) {
    if (!github) return { plan, result: "skipped", message: "the pull request cannot be looked up without a GitHub token" };
    const byHead = plan.resolvePullRequestByHead;
    const pr =
      plan.resolvePullRequest !== undefined
        ? await github.pullRequest(plan.resolvePullRequest)
        : await github.openPullRequestByHead(byHead?.owner ?? "", byHead?.branch ?? "");
    plan = planForImageSupply(resolvePullRequestTarget(plan, pr, settings), supply);
    if (plan.operation === "skip") logger.info(`skipped: ${plan.reason}`);
  }

  try {
    const outcome = await runPlan(engine, github, plan, settings);
    if (comment && plan.operation !== "skip" && plan.operation !== "help")
      await quietly(engine, () => github?.react(comment.id, outcome.error ? "-1" : "rocket"));
    return outcome;
  } catch (error) {
    if (comment) await quietly(engine, () => github?.react(comment.id, "-1"));
    throw error;
  }
}

async function runPlan(engine: Engine, github: GitHub | undefined, plan: Plan, settings: EventSettings): Promise<EventOutcome> {
  const { settings: s } = engine;
  switch (plan.operation) {
    case "skip":
      return { plan, result: "skipped", message: plan.reason };
    case "help": {
      const text = [
        plan.invalidCommand ? `${plan.invalidCommand}\n` : "",
        helpText({ defaultExtend: formatDuration(s.ttlMs), maxTtl: formatDuration(s.maxTtlMs) }),
      ].join("\n");
      if (plan.comment) await quietly(engine, () => github?.reply(plan.comment?.pullRequest ?? 0, text));
      return { plan, result: "skipped", message: plan.invalidCommand ?? "help" };
    }
    case "sweep": {
      const facts = github ? { openPullRequests: await github.openPullRequests(), existingBranches: await github.branches() } : {};
      const outcome = await sweep(engine, facts);
      for (const removed of outcome.removed) await quietly(engine, () => github?.retireEnvironment(environmentOf(removed.key)));
      return { plan, result: "swept", message: `${outcome.removed.length} removed, ${outcome.kept.length} kept`, sweep: outcome };
    }
  }
  const target = { ...(plan.target as PlanTarget) };
  const identity = identityFor(s, target);
  const base = { key: identity.key, namespace: identity.namespace, branch: identity.branch, url: identity.url };
  const ctx: DeployContext = { engine, github, plan, settings, identity };

  switch (plan.operation) {
    case "build": {
      if (!target.commit && !target.fork && github) target.commit = await github.branchHead(target.branch);
      const done = await build(engine, { key: identity.key, commit: target.commit }, { archive: settings.imageArchive });
      const image = done.commitImage ?? done.image;
      return { plan, result: "built", message: `${done.reused ? "found" : "built"} ${image}`, ...base, image };
    }
    case "deploy": {
      const gate = await gateDeploy(engine, github, plan, settings, target);
      if (gate) return { ...gate, ...base };
      return runDeploy(ctx, target);
    }
    case "approve":
      return approve(ctx, target);
    case "revoke":
      return revoke(ctx, target);
    case "destroy": {
      const done = await destroy(engine, identity.key, { reason: plan.reason });
      if (github && settings.deployment) await quietly(engine, () => github.retireEnvironment(environmentOf(identity.key)));
      await report(ctx, { state: "destroyed" });
      return { plan, result: "destroyed", message: done.existed ? `${identity.key} destroyed` : `${identity.key} did not exist`, ...base };
    }
    case "extend": {
      const by = plan.extendBy ?? s.ttlMs;
      const who = plan.comment?.author ?? "workflow_dispatch";
      const done = await extend(engine, identity.key, by, who);
      const note = `Extended by ${formatDuration(by)} at the request of ${who}${done.capped ? `, capped at max-ttl (${formatDuration(s.maxTtlMs)})` : ""}.`;
      const record = (await status(engine, identity.key)).record;
      await report(ctx, { state: "extended", commit: record?.commit, image: record?.image, expiresAt: done.expiresAt, note });
      return { plan, result: "extended", message: note, ...base, expiresAt: done.expiresAt };
    }
    case "test": {
      if (!settings.test) throw new SandboxError("command: test needs the modules input", { sandbox: identity.key, step: "test" });
      const request = settings.test;
      const done = await engine.logger.group(`Odoo tests: ${request.modules.join(", ")}`, () =>
        runTests(engine, identity.key, { ...request, onLine: (line) => engine.logger.info(line) }),
      );
      const summary = renderTestSummary(done.summary, { modules: done.modules, sandbox: identity.key });
      const pr = target.pullRequest ?? plan.comment?.pullRequest;
      if (pr && settings.comment) await quietly(engine, () => github?.reply(pr, summary));
      const passed = done.summary.verdict === "passed";
      const message = `Odoo tests ${done.summary.verdict}: ${done.summary.reason}`;
      return {
        plan,
        result: passed ? "tested" : "failed",
        message,
        ...base,
        test: done,
        ...(passed ? {} : { error: new SandboxError(message, { sandbox: identity.key, step: "test" }) }),
      };
    }
    case "status": {
      const st = await status(engine, identity.key);
      const message = st.exists
        ? `${identity.key}: ${st.ready ? "ready" : `not ready (${st.pending?.join("; ")})`}, expires ${st.record?.expiresAt?.toISOString() ?? "never"}`
        : `${identity.key} does not exist`;
      // What Kubernetes says (pod names, reasons, events) is someone else's text: a code span shows it as it is.
      if (plan.comment)
        await quietly(engine, () => github?.reply(plan.comment?.pullRequest ?? 0, `Sandbox ${code(identity.key)}: ${code(message)}`));
      return { plan, result: "status", message, ...base, expiresAt: st.record?.expiresAt };
    }
  }
  throw new Error(`unhandled operation ${plan.operation}`);
}

/**
 * What must hold before a deploy, from GitHub's facts: the commit to build is
 * known, the branch has a PR when that is required, and a fork's commit is
 * approved. Returns the outcome that stops the deploy, or undefined.
 */
async function gateDeploy(
  engine: Engine,
  github: GitHub | undefined,
  plan: Plan,
  settings: EventSettings,
  target: PlanTarget,
): Promise<Omit<EventOutcome, "key" | "namespace" | "url" | "branch"> | undefined> {
  if (!target.commit && (plan.image === "build" || plan.wantsBuild)) {
    // A manual run names a branch: build its head, and the build checks the checkout is that commit.
    target.commit = github ? await github.branchHead(target.branch) : undefined;
    if (!target.commit) {
      const why = github ? `branch ${code(target.branch)} does not exist on GitHub` : "there is no GitHub token to ask for it";
      return { plan, result: "refused", message: `cannot tell which commit to build: ${why}` };
    }
  }
  if (settings.requirePullRequest && target.pullRequest === undefined && !target.fork) {
    const facts = github
      ? readPullRequest(await github.openPullRequestByHead(github.owner, target.branch), settings.repository)
      : undefined;
    if (!facts || typeof facts === "string") {
      return { plan, result: "skipped", message: `branch ${target.branch} has no open pull request, and require-pull-request is set` };
    }
    target.pullRequest = facts.number;
  }
  if (target.fork) {
    if (!github || !target.commit) {
      return {
        plan,
        result: "refused",
        message: "a fork's commit is deployed only once its approval is confirmed on GitHub, which needs a token",
      };
    }
    const verdict = approvalVerdict(await github.approvals(target.commit), target.commit);
    if (!verdict.approved) {
      const message = `pull request #${target.pullRequest} comes from a fork: ${verdict.reason}`;
      await awaitingApproval({ engine, github, plan, settings, identity: identityFor(engine.settings, target) }, target, message);
      return { plan, result: "skipped", message };
    }
    engine.logger.info(`commit ${target.commit.slice(0, 12)} of the fork was ${verdict.by}`);
  }
  return undefined;
}

/** A writer approved a fork's head commit (label or comment): record it on the commit, then deploy its image if it is built. */
async function approve(ctx: DeployContext, target: PlanTarget): Promise<EventOutcome> {
  const { engine, github, plan, identity } = ctx;
  const base = { key: identity.key, namespace: identity.namespace, url: identity.url };
  if (!target.fork)
    return { plan, result: "skipped", message: `pull request #${target.pullRequest} is not from a fork: it needs no approval`, ...base };
  const problem = approvalShaProblem(plan.approveCommit, target.commit);
  if (problem || !github || !target.commit) {
    const message = problem ?? "approving needs a GitHub token";
    if (plan.comment) await quietly(engine, () => github?.reply(plan.comment?.pullRequest ?? 0, `Not approved: ${message}`));
    return { plan, result: "refused", message, ...base };
  }
  const by = plan.comment?.author ?? plan.actor ?? "a maintainer";
  await github.setApproval(target.commit, "success", `approved by @${by}`, ctx.settings.runUrl);
  engine.logger.info(`commit ${target.commit.slice(0, 12)} approved by ${by}`);
  const outcome = await runDeploy(ctx, target, { quietRefusal: true });
  if (outcome.result !== "refused") return outcome;
  const message = `commit ${target.commit.slice(0, 12)} approved by ${by}; ${outcome.message}. The preview deploys when its build finishes.`;
  return { ...outcome, result: "approved", message };
}

/** A push to a fork's PR, or its label taken off: the approval does not carry over, and the label shows it. */
async function revoke(ctx: DeployContext, target: PlanTarget): Promise<EventOutcome> {
  const { github, plan, settings, identity } = ctx;
  const base = { key: identity.key, namespace: identity.namespace, url: identity.url };
  if (!github) return { plan, result: "skipped", message: `${plan.reason}; without a GitHub token nothing is recorded`, ...base };
  if (target.pullRequest) await github.removeLabel(target.pullRequest, settings.forkLabel);
  if (target.commit && approvalVerdict(await github.approvals(target.commit), target.commit).approved) {
    await github.setApproval(target.commit, "failure", "approval withdrawn", settings.runUrl);
  }
  const message = `${plan.reason}: ${target.commit ? `commit ${target.commit.slice(0, 12)} is not approved` : "not approved"}`;
  await awaitingApproval(ctx, target, message);
  return { plan, result: "skipped", message, ...base };
}

async function awaitingApproval(ctx: DeployContext, target: PlanTarget, note: string): Promise<void> {
  if (!target.commit) return;
  await report(ctx, {
    state: "awaiting-approval",
    commit: target.commit,
    note,
    approval: { commit: target.commit, label: ctx.settings.forkLabel },
  });
}

export { environmentOf } from "./event-deploy.js";
