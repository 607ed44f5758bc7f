// The Action: read inputs, build the engine, hand the workflow's event to the
// shared event handler, publish outputs and a job summary. One try/catch
// ending in setFailed, as in GitHub's own action template.
import { readFileSync, rmSync } from "node:fs";
import * as core from "@actions/core";
import { GitHub } from "../adapters/github/client.js";
import { SandboxError } from "../domain/errors.js";
import { formatTimestamp } from "../domain/expiry.js";
import { renderTestSummary } from "../domain/odoo-test-log.js";
import { renderSummary } from "../domain/report.js";
import { handleEvent } from "../operations/handle-event.js";
import { createEngine, kubeconfigDirOf } from "../wiring/create-engine.js";
import { readInputs } from "./inputs.js";
import { ActionsLogger } from "./logger.js";
import { KUBECONFIG_STATE } from "./post-state.js";
import { kubeconfigSecrets } from "./secrets.js";

export { kubeconfigSecrets } from "./secrets.js";

export async function run(): Promise<void> {
  let kubeconfigDir: string | undefined;
  try {
    const inputs = readInputs();
    for (const secret of [inputs.githubToken, ...kubeconfigSecrets(inputs.kubeconfig)]) if (secret) core.setSecret(secret);
    const logger = new ActionsLogger();
    const eventName = process.env.GITHUB_EVENT_NAME ?? "";
    const eventPath = process.env.GITHUB_EVENT_PATH;
    const payload: unknown = eventPath ? JSON.parse(readFileSync(eventPath, "utf8")) : {};
    const repository = process.env.GITHUB_REPOSITORY ?? "";
    const runUrl = process.env.GITHUB_RUN_ID
      ? `${process.env.GITHUB_SERVER_URL ?? "https://github.com"}/${repository}/actions/runs/${process.env.GITHUB_RUN_ID}`
      : undefined;
    const github =
      inputs.githubToken && repository
        ? new GitHub({ token: inputs.githubToken, repository, baseUrl: process.env.GITHUB_API_URL, logger })
        : undefined;
    const engine = createEngine({
      settings: inputs.settings,
      logger,
      kubeconfigContent: inputs.kubeconfig,
      ambientCredentials: inputs.ambientCredentials,
      // Under RUNNER_TEMP, which the runner empties after the job; removed below and by the post step as well.
      tempDir: process.env.RUNNER_TEMP,
      builder: inputs.builder,
      // The job names which of a run's jobs holds a sandbox (two jobs of one run may both touch it).
      holder: `github-actions ${repository} run ${process.env.GITHUB_RUN_ID ?? "?"}/${process.env.GITHUB_RUN_ATTEMPT ?? "1"} job ${process.env.GITHUB_JOB ?? "?"}`,
    });
    kubeconfigDir = kubeconfigDirOf(engine);
    if (kubeconfigDir) core.saveState(KUBECONFIG_STATE, kubeconfigDir);
    const dispatchInputs = eventName === "workflow_dispatch" ? ((payload as { inputs?: Record<string, string> }).inputs ?? {}) : undefined;

    const outcome = await handleEvent(
      engine,
      github,
      { name: eventName, payload },
      {
        command: inputs.command,
        forkLabel: inputs.forkLabel,
        repository,
        dispatchInputs,
        comment: inputs.comment,
        deployment: inputs.deployment,
        runUrl,
        imageRef: inputs.imageRef,
        imageArchive: inputs.imageArchive,
        requirePullRequest: inputs.requirePullRequest,
        test: inputs.test,
      },
    );

    core.setOutput("sandbox", outcome.key ?? "");
    core.setOutput("namespace", outcome.namespace ?? "");
    core.setOutput("url", outcome.url ?? "");
    core.setOutput("image", outcome.image ?? "");
    core.setOutput("expires-at", outcome.expiresAt ? formatTimestamp(outcome.expiresAt) : "");
    core.setOutput("result", outcome.result === "failed" ? "failed" : outcome.result);
    // command: test, for a later step (a badge, a gate): Odoo's own counts;
    // empty for every other command and when Odoo never wrote its result line.
    const tests = outcome.test?.summary;
    core.setOutput("test-verdict", tests?.verdict ?? "");
    core.setOutput("tests-run", tests?.testsRun ?? "");
    core.setOutput("tests-failed", tests ? tests.failed : "");
    core.setOutput("tests-errors", tests ? tests.errors : "");

    const rows = outcome.sweep
      ? [
          ...outcome.sweep.removed.map((r) => ({ key: r.key, result: "removed", detail: r.reason })),
          ...outcome.sweep.failed.map((r) => ({ key: r.key, result: "failed", detail: r.error })),
        ]
      : outcome.key
        ? [
            {
              key: outcome.key,
              result: outcome.result,
              url: outcome.url,
              expiresAt: outcome.expiresAt,
              detail: outcome.error ? outcome.message : undefined,
            },
          ]
        : [];
    await core.summary
      .addHeading("k8s-dev-sandbox", 3)
      .addRaw(`${outcome.plan.operation}: ${outcome.message.replace(/[<>]/g, "")}\n\n`)
      .addRaw(rows.length ? `${renderSummary(rows, new Date())}\n` : "")
      .addRaw(
        outcome.test ? `\n${renderTestSummary(outcome.test.summary, { modules: outcome.test.modules, sandbox: outcome.test.key })}\n` : "",
      )
      .write()
      .catch(() => undefined);

    if (outcome.result === "failed") core.setFailed(failureText(outcome.error ?? outcome.message));
    else if (outcome.result === "refused") core.warning(`refused: ${outcome.message}`);
    else core.info(`result: ${outcome.result} (${outcome.message})`);
  } catch (error) {
    core.setFailed(failureText(error));
  } finally {
    // helm is done with it; the post step removes it too should this step be killed first.
    if (kubeconfigDir) rmSync(kubeconfigDir, { recursive: true, force: true });
  }
}

function failureText(error: unknown): string {
  if (error instanceof SandboxError) {
    const where = [error.sandbox && `sandbox ${error.sandbox}`, error.step && `step ${error.step}`].filter(Boolean).join(", ");
    return `${where ? `${where}: ` : ""}${error.message}${error.hint ? `. What to do: ${error.hint}` : ""}`;
  }
  return error instanceof Error ? error.message : String(error);
}
