// The Action's post step (action.yml `post:`, run even when the job failed or
// was cancelled): removes the kubeconfig the main step wrote under
// RUNNER_TEMP. The main step removes it too; this covers a main step killed
// before its own cleanup ran. A failure here only warns.
import { rm } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import * as core from "@actions/core";
import { KUBECONFIG_STATE } from "./post-state.js";

export async function post(): Promise<void> {
  const dir = core.getState(KUBECONFIG_STATE);
  if (!dir) return;
  // Only ever the directory the main step made: state is a file on the runner, not a promise.
  const temp = process.env.RUNNER_TEMP;
  if (!temp || dirname(resolve(dir)) !== resolve(temp) || !basename(dir).startsWith("k8s-sandbox-kube-")) {
    core.warning(`not removing ${dir}: it is not a kubeconfig directory under RUNNER_TEMP`);
    return;
  }
  try {
    await rm(dir, { recursive: true, force: true });
    core.info("removed the kubeconfig written for this job");
  } catch (error) {
    core.warning(`could not remove ${dir}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

await post();
