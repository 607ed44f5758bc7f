// One GitHub event, start to finish: plan it, check who asked, run the
// operation, and report on GitHub (sticky comment, deployment statuses,
// reactions). The Action and the webhook server both call this, so an event
// reaching either is handled identically.
import type { GitHub } from "../adapters/github/client.js";
import { describe } from "../adapters/github/client.js";
import { helpText } from "../domain/commands.js";
import { formatDuration } from "../domain/duration.js";
import { SandboxError } from "../domain/errors.js";
import { type CommandSetting, type Plan, type PlanTarget, planEvent, resolvePullRequestTarget, type WebhookEvent } from "../domain/plan.js";
import { type ReportFacts, renderComment } from "../domain/report.js";
import { deploy } from "./deploy.js";
import { destroy } from "./destroy.js";
import type { Engine, Result } from "./engine.js";
import { extend } from "./extend.js";
import { identityFor } from "./namespace.js";
import { status } from "./status.js";
import { type SweepOutcome, sweep } from "./sweep.js";

export interface EventSettings {
  command: CommandSetting;
  forkLabel: string;
  repository: string;
  dispatchInputs?: Record<string, string>;
  comment: boolean;
  deployment: boolean;
  runUrl?: string;
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
  error?: SandboxError;
}

const WRITERS = new Set(["admin", "maintain", "write"]);

export async function handleEvent(
  engine: Engine,
  github: GitHub | undefined,
  event: WebhookEvent,
  settings: EventSettings,
): Promise<EventOutcome> {
  const { logger } = engine;
  let plan = planEvent(event, settings);
  logger.info(`event ${event.name}: ${plan.operation} (${plan.reason})`);
  const comment = plan.comment;

  if (comment && plan.needsPermission && plan.operation !== "skip") {
    const permission = github ? await github.permission(comment.author).catch(() => "none" as const) : "none";
    if (!WRITERS.has(permission)) {
      const message = `@${comment.author} may not run sandbox commands here (permission: ${permission}; write, maintain or admin is needed). Nothing was changed.`;
      await quietly(engine, () => github?.reply(comment.pullRequest, `Sorry, ${message}`));
      await quietly(engine, () => github?.react(comment.id, "confused"));
      return { plan, result: "refused", message };
    }
    await quietly(engine, () => github?.react(comment.id, "eyes"));
  }

  if (plan.resolvePullRequest !== undefined) {
    if (!github)
      return { plan, result: "skipped", message: `pull request #${plan.resolvePullRequest} cannot be looked up without a GitHub token` };
    plan = resolvePullRequestTarget(plan, await github.pullRequest(plan.resolvePullRequest), settings);
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
  const { settings: s, logger } = engine;
  const pr = plan.target?.pullRequest ?? plan.comment?.pullRequest;
  const commentOn = settings.comment && github && pr ? pr : undefined;
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
  const target = plan.target as PlanTarget;
  const identity = identityFor(s, target);
  const base = { key: identity.key, namespace: identity.namespace, branch: identity.branch, url: identity.url };
  const report = (facts: Omit<ReportFacts, "key" | "namespace" | "now" | "branch">) =>
    commentOn
      ? quietly(engine, () =>
          github?.upsertStickyComment(commentOn, renderComment({ ...base, ...facts, now: engine.now(), runUrl: settings.runUrl })),
        )
      : Promise.resolve();

  switch (plan.operation) {
    case "deploy": {
      await report({ state: "deploying", commit: target.commit, url: identity.url });
      const deploymentId =
        settings.deployment && github
          ? await quietly(engine, () =>
              github.createDeployment({
                ref: target.commit ?? target.branch,
                environment: environmentOf(identity.key),
                description: `preview ${identity.key}`,
              }),
            )
          : undefined;
      if (deploymentId)
        await quietly(engine, () =>
          github?.setDeploymentStatus(deploymentId, "in_progress", { logUrl: settings.runUrl, description: "deploying" }),
        );
      try {
        const done = await deploy(engine, target);
        if (deploymentId)
          await quietly(engine, () =>
            github?.setDeploymentStatus(deploymentId, "success", {
              environmentUrl: identity.url,
              logUrl: settings.runUrl,
              description: done.result,
            }),
          );
        await report({
          state: done.result === "unchanged" ? "unchanged" : "ready",
          commit: target.commit,
          image: done.image,
          expiresAt: done.expiresAt,
          url: identity.url,
        });
        return {
          plan,
          result: done.result,
          message: `${identity.key} ${done.result} at ${identity.url}`,
          ...base,
          image: done.image,
          expiresAt: done.expiresAt,
        };
      } catch (error) {
        const failure = error instanceof SandboxError ? error : new SandboxError(String(error), { sandbox: identity.key });
        if (deploymentId)
          await quietly(engine, () =>
            github?.setDeploymentStatus(deploymentId, "failure", { logUrl: settings.runUrl, description: failure.message }),
          );
        const record = (await status(engine, identity.key).catch(() => undefined))?.record;
        await report({
          state: "failed",
          commit: target.commit,
          expiresAt: record?.expiresAt,
          failure: { step: failure.step, message: failure.message, hint: failure.hint, evidence: failure.evidence },
        });
        // The job's failure line (setFailed) carries the summary; the evidence goes in its own log group.
        const evidence = failure.evidence;
        if (evidence)
          await logger.group(`Evidence: sandbox ${identity.key}, step ${failure.step ?? "?"}`, async () => logger.info(evidence));
        return { plan, result: "failed", message: failure.message, ...base, error: failure };
      }
    }
    case "destroy": {
      const done = await destroy(engine, identity.key, { reason: plan.reason });
      if (github && settings.deployment) await quietly(engine, () => github.retireEnvironment(environmentOf(identity.key)));
      await report({ state: "destroyed" });
      return { plan, result: "destroyed", message: done.existed ? `${identity.key} destroyed` : `${identity.key} did not exist`, ...base };
    }
    case "extend": {
      const by = plan.extendBy ?? s.ttlMs;
      const who = plan.comment?.author ?? "workflow_dispatch";
      const done = await extend(engine, identity.key, by, who);
      const note = `Extended by ${formatDuration(by)} at the request of ${who}${done.capped ? `, capped at max-ttl (${formatDuration(s.maxTtlMs)})` : ""}.`;
      const record = (await status(engine, identity.key)).record;
      await report({ state: "extended", commit: record?.commit, image: record?.image, expiresAt: done.expiresAt, note });
      return { plan, result: "extended", message: note, ...base, expiresAt: done.expiresAt };
    }
    case "status": {
      const st = await status(engine, identity.key);
      const message = st.exists
        ? `${identity.key}: ${st.ready ? "ready" : `not ready (${st.pending?.join("; ")})`}, expires ${st.record?.expiresAt?.toISOString() ?? "never"}`
        : `${identity.key} does not exist`;
      if (plan.comment)
        await quietly(engine, () =>
          github?.reply(plan.comment?.pullRequest ?? 0, `Sandbox \`${identity.key}\`: ${message.replace(/`/g, "'")}`),
        );
      return { plan, result: "status", message, ...base, expiresAt: st.record?.expiresAt };
    }
  }
  throw new Error(`unhandled operation ${plan.operation}`);
}

export function environmentOf(key: string): string {
  return `preview/${key}`;
}

/** GitHub reporting never fails the operation it reports on; it warns instead. */
async function quietly<T>(engine: Engine, fn: () => Promise<T> | undefined): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    engine.logger.warn(`GitHub: ${describe(error)}`);
    return undefined;
  }
}
