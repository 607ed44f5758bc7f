// The deploy of one event and how it is reported on GitHub: the sticky
// comment, a deployment with its statuses, and the outcome's wording for a
// refusal (polite, the job succeeds) or a failure (the job fails).
import type { GitHub } from "../adapters/github/client.js";
import { describe } from "../adapters/github/client.js";
import { Refusal, SandboxError } from "../domain/errors.js";
import type { SandboxIdentity } from "../domain/identity.js";
import { readPullRequest } from "../domain/payload.js";
import type { Plan, PlanTarget } from "../domain/plan.js";
import { type ReportFacts, renderComment } from "../domain/report.js";
import { staleCommitProblem } from "../domain/trust.js";
import { deploy } from "./deploy.js";
import type { Engine } from "./engine.js";
import type { EventOutcome, EventSettings } from "./handle-event.js";
import { status } from "./status.js";

export interface DeployContext {
  engine: Engine;
  github: GitHub | undefined;
  plan: Plan;
  settings: EventSettings;
  identity: SandboxIdentity;
}

export async function runDeploy(ctx: DeployContext, target: PlanTarget, options: { quietRefusal?: boolean } = {}): Promise<EventOutcome> {
  const { engine, github, plan, settings, identity } = ctx;
  const { logger } = engine;
  const base = { key: identity.key, namespace: identity.namespace, url: identity.url };
  await report(ctx, { state: "deploying", commit: target.commit, url: identity.url });
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
  const deploymentStatus = (state: "in_progress" | "success" | "failure" | "inactive", description: string, environmentUrl?: string) =>
    deploymentId
      ? quietly(engine, () => github?.setDeploymentStatus(deploymentId, state, { environmentUrl, logUrl: settings.runUrl, description }))
      : Promise.resolve();
  await deploymentStatus("in_progress", "deploying");
  try {
    const done = await deploy(engine, target, {
      image: plan.image,
      imageRef: settings.imageRef,
      stillWanted: github ? headCheck(github, target) : undefined,
    });
    if (done.result === "superseded") {
      await deploymentStatus("inactive", "superseded by a newer commit");
      return { plan, result: "skipped", message: `${identity.key}: a newer commit is the head; its run deploys it`, ...base };
    }
    await deploymentStatus("success", done.result, identity.url);
    await report(ctx, {
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
    if (failure instanceof Refusal && failure.step === "image") {
      const started = await requestBuild(ctx, target);
      if (started) {
        await deploymentStatus("inactive", "waiting for the image");
        return { plan, result: "skipped", message: started, ...base };
      }
    }
    if (failure instanceof Refusal) {
      // Nothing broke: a rule said no before the cluster was changed.
      await deploymentStatus("inactive", failure.message);
      if (!options.quietRefusal) {
        await report(ctx, { state: "refused", commit: target.commit, note: `${failure.message}. ${failure.hint ?? ""}`.trim() });
      }
      logger.warn(`sandbox ${identity.key} not deployed: ${failure.message}${failure.hint ? `. What to do: ${failure.hint}` : ""}`);
      return { plan, result: "refused", message: failure.message, ...base };
    }
    await deploymentStatus("failure", failure.message);
    const record = (await status(engine, identity.key).catch(() => undefined))?.record;
    await report(ctx, {
      state: "failed",
      commit: target.commit,
      expiresAt: record?.expiresAt,
      failure: { step: failure.step, message: failure.message, hint: failure.hint, evidence: failure.evidence },
    });
    // The job's failure line (setFailed) carries the summary; the evidence goes in its own log group.
    const evidence = failure.evidence;
    if (evidence) await logger.group(`Evidence: sandbox ${identity.key}, step ${failure.step ?? "?"}`, async () => logger.info(evidence));
    return { plan, result: "failed", message: failure.message, ...base, error: failure };
  }
}

/**
 * A front door that builds nothing (images: ci) asks the repository's own
 * preview workflow to build the commit, on the branch itself, never for a
 * fork (its code is built only by the fork's unprivileged pull_request run).
 * Returns what was started, or undefined when nothing may be.
 */
async function requestBuild(ctx: DeployContext, target: PlanTarget): Promise<string | undefined> {
  const { engine, github, plan, settings } = ctx;
  const workflow = settings.buildWorkflow;
  if (!plan.wantsBuild || !workflow || !github || target.fork || !target.commit) return undefined;
  try {
    // No inputs: a workflow that declares none refuses any (422). The run
    // builds the branch's head, which its workflow_run names as head_sha.
    await github.dispatchWorkflow(workflow, target.branch);
  } catch (error) {
    engine.logger.warn(`could not start workflow ${workflow} on ${target.branch}: ${describe(error)}`);
    return undefined;
  }
  const note = `no image for commit ${target.commit.slice(0, 12)} yet: started the repository's workflow ${workflow} on branch ${target.branch}; the preview deploys when it finishes`;
  engine.logger.info(note);
  await report(ctx, { state: "building", commit: target.commit, note });
  return note;
}

/** Checked under the sandbox's lock by deploy: the commit must still be the head of its PR or branch. */
export function headCheck(github: GitHub, target: PlanTarget): () => Promise<string | undefined> {
  return async () => {
    if (!target.commit) return undefined;
    if (target.pullRequest !== undefined) {
      const facts = readPullRequest(await github.pullRequest(target.pullRequest), "");
      return typeof facts === "string" ? undefined : staleCommitProblem(target.commit, facts.commit, `pull request #${target.pullRequest}`);
    }
    return staleCommitProblem(target.commit, await github.branchHead(target.branch), `branch ${target.branch}`);
  };
}

/** The sticky comment on the PR the plan is about, when comments are on. */
export function report(ctx: DeployContext, facts: Omit<ReportFacts, "key" | "namespace" | "now" | "branch">): Promise<unknown> {
  const { engine, github, plan, settings, identity } = ctx;
  const pr = plan.target?.pullRequest ?? identity.pullRequest ?? plan.comment?.pullRequest;
  if (!settings.comment || !github || !pr) return Promise.resolve();
  const body = renderComment({
    key: identity.key,
    namespace: identity.namespace,
    branch: identity.branch,
    ...facts,
    now: engine.now(),
    runUrl: settings.runUrl,
  });
  return quietly(engine, () => github.upsertStickyComment(pr, body));
}

export function environmentOf(key: string): string {
  return `preview/${key}`;
}

/** GitHub reporting never fails the operation it reports on; it warns instead. */
export async function quietly<T>(engine: Engine, fn: () => Promise<T> | undefined): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    engine.logger.warn(`GitHub: ${describe(error)}`);
    return undefined;
  }
}
