// test: Odoo's test suite for some addons, run inside a sandbox as a
// Kubernetes Job (same image and configuration as its Odoo, a throwaway
// database per run), its log streamed, its verdict parsed from Odoo's own
// lines. The Job is deleted afterwards whatever happened.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { Log, type V1Deployment, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { describeKubeError, isNotFound, withRetry } from "../adapters/kubernetes/client.js";
import { SandboxError } from "../domain/errors.js";
import { type OdooTestSummary, parseOdooTestLog } from "../domain/odoo-test-log.js";
import { buildTestJob, TEST_RUN_LABEL, testDatabaseName } from "../domain/test-job.js";
import type { Engine } from "./engine.js";
import { ownRecord } from "./namespace.js";

export interface TestOptions {
  modules: string[];
  tags?: string;
  /** The Job's activeDeadlineSeconds (default 30 min). */
  deadlineSeconds?: number;
  /** Each line of the test log as it comes (the CLI prints them; the Action logs them in a group). */
  onLine?: (line: string) => void;
}

export interface TestOutcome {
  result: "tested";
  key: string;
  namespace: string;
  runId: string;
  job: string;
  database: string;
  modules: string[];
  tags?: string;
  exitCode?: number;
  summary: OdooTestSummary;
  durationMs: number;
}

const DEFAULT_DEADLINE_SECONDS = 30 * 60;

export async function runTests(engine: Engine, key: string, options: TestOptions): Promise<TestOutcome> {
  const { kube, logger } = engine;
  const namespace = engine.settings.prefix + key;
  const started = Date.now();
  const record = await ownRecord(engine, namespace, key);
  if (!record) {
    throw new SandboxError(`sandbox ${key} does not exist`, { sandbox: key, step: "test", hint: "create it first: k8s-sandbox up" });
  }
  const deployment = await odooDeployment(engine, namespace, key);
  const database = sandboxDatabase(deployment);
  const runId = randomBytes(5).toString("hex");
  const deadlineSeconds = options.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS;
  const manifest = buildTestJob(deployment, { runId, modules: options.modules, tags: options.tags, database, deadlineSeconds });
  const job = manifest.metadata?.name ?? "";
  const testDb = testDatabaseName(database, runId);
  logger.info(`testing ${options.modules.join(", ")} in ${namespace}: Job ${job}, database ${testDb}, deadline ${deadlineSeconds}s`);

  await withRetry(() => kube.batch.createNamespacedJob({ namespace, body: manifest }));
  let streamed = "";
  try {
    const pod = await waitForPod(engine, namespace, runId, job, deadlineSeconds);
    const podName = pod.metadata?.name ?? "";
    streamed = await followLog(engine, namespace, podName, options.onLine);
    const end = await waitForEnd(engine, namespace, job, podName, deadlineSeconds);
    // The followed stream can end early; the full log is read again once the container is done.
    const full = end.deadlineExceeded ? undefined : await fullLog(engine, namespace, podName);
    const summary = parseOdooTestLog(full ?? streamed, end);
    return {
      result: "tested",
      key,
      namespace,
      runId,
      job,
      database: testDb,
      modules: options.modules,
      ...(options.tags ? { tags: options.tags } : {}),
      ...(end.exitCode !== undefined ? { exitCode: end.exitCode } : {}),
      summary,
      durationMs: Date.now() - started,
    };
  } finally {
    // Background: the Job's pod goes with it; ttlSecondsAfterFinished covers a run killed before this line.
    await kube.batch.deleteNamespacedJob({ name: job, namespace, propagationPolicy: "Background" }).catch((error: unknown) => {
      if (!isNotFound(error)) logger.warn(`could not delete Job ${job} (${describeKubeError(error)}); it expires on its own`);
    });
  }
}

async function odooDeployment(engine: Engine, namespace: string, key: string): Promise<V1Deployment> {
  const list = await withRetry(() =>
    engine.kube.apps.listNamespacedDeployment({ namespace, labelSelector: "app.kubernetes.io/component=odoo" }),
  );
  const deployment = list.items[0];
  if (!deployment) {
    throw new SandboxError(`sandbox ${key} has no Odoo Deployment (label app.kubernetes.io/component=odoo) to run tests with`, {
      sandbox: key,
      step: "test",
      hint: "the test command needs the odoo-dev-sandbox chart (or a chart that labels its Odoo Deployment so)",
    });
  }
  return deployment;
}

/** The database the sandbox's init step builds (ODOO_DATABASE of the chart's init-db container). */
function sandboxDatabase(deployment: V1Deployment): string {
  const pod = deployment.spec?.template.spec;
  const env = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].flatMap((c) => c.env ?? []);
  return env.find((e) => e.name === "ODOO_DATABASE")?.value ?? "odoo";
}

async function podOf(engine: Engine, namespace: string, runId: string): Promise<V1Pod | undefined> {
  const pods = await withRetry(() => engine.kube.core.listNamespacedPod({ namespace, labelSelector: `${TEST_RUN_LABEL}=${runId}` }));
  return pods.items[0];
}

/** Waits until the test container has started (or ended), saying what holds it meanwhile. */
async function waitForPod(engine: Engine, namespace: string, runId: string, job: string, deadlineSeconds: number): Promise<V1Pod> {
  const until = Date.now() + (deadlineSeconds + 60) * 1000;
  let said = "";
  while (Date.now() < until) {
    const pod = await podOf(engine, namespace, runId);
    const state = pod?.status?.containerStatuses?.[0]?.state;
    if (pod && (state?.running || state?.terminated)) return pod;
    const why = pod ? pendingReason(pod) : await jobEvent(engine, namespace, job);
    if (why && why !== said) {
      engine.logger.info(`waiting for the test pod: ${why}`);
      said = why;
    }
    const failed = await jobFailure(engine, namespace, job);
    if (failed)
      throw new SandboxError(`the test Job failed before its pod ran: ${failed}`, {
        step: "test",
        hint: `kubectl -n ${namespace} describe job ${job}`,
      });
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new SandboxError(`the test pod of Job ${job} never started`, { step: "test", hint: `kubectl -n ${namespace} describe job ${job}` });
}

function pendingReason(pod: V1Pod): string {
  const waiting = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    .map((s) => s.state?.waiting)
    .find(Boolean);
  if (waiting) return `${waiting.reason ?? "waiting"}${waiting.message ? `: ${waiting.message}` : ""}`;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  return unscheduled ? `not scheduled: ${unscheduled.message ?? unscheduled.reason}` : (pod.status?.phase ?? "Pending");
}

/** A Job that cannot make its pod (the namespace's ResourceQuota) says so only in an event. */
async function jobEvent(engine: Engine, namespace: string, job: string): Promise<string> {
  const events = await engine.kube.core
    .listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Job,involvedObject.name=${job}` })
    .catch(() => undefined);
  const last = events?.items.filter((e) => e.type === "Warning").at(-1);
  return last ? `${last.reason}: ${last.message}` : "the Job has not created its pod yet";
}

async function jobFailure(engine: Engine, namespace: string, job: string): Promise<string | undefined> {
  const current = await readJob(engine, namespace, job);
  const failed = current?.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
  return failed ? `${failed.reason}: ${failed.message}` : undefined;
}

async function readJob(engine: Engine, namespace: string, job: string): Promise<V1Job | undefined> {
  try {
    return await withRetry(() => engine.kube.batch.readNamespacedJob({ name: job, namespace }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Streams the container's log line by line until it ends; returns what it saw. */
async function followLog(engine: Engine, namespace: string, pod: string, onLine?: (line: string) => void): Promise<string> {
  let text = "";
  let partial = "";
  const done = new Promise<void>((resolve) => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        const piece = chunk.toString("utf8");
        text += piece;
        const lines = (partial + piece).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) onLine?.(line);
        callback();
      },
      final(callback) {
        if (partial) onLine?.(partial);
        resolve();
        callback();
      },
    });
    sink.on("error", () => resolve());
    new Log(engine.kube.config).log(namespace, pod, "odoo-test", sink, { follow: true }).catch((error: unknown) => {
      engine.logger.warn(`could not follow the test log (${describeKubeError(error)}); it is read once the run ends`);
      resolve();
    });
  });
  await done;
  return text;
}

async function waitForEnd(
  engine: Engine,
  namespace: string,
  job: string,
  pod: string,
  deadlineSeconds: number,
): Promise<{ exitCode?: number; deadlineExceeded?: boolean }> {
  const until = Date.now() + (deadlineSeconds + 120) * 1000;
  while (Date.now() < until) {
    const current = await readJob(engine, namespace, job);
    const failed = current?.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
    if (failed?.reason === "DeadlineExceeded") return { deadlineExceeded: true };
    const terminated = await engine.kube.core
      .readNamespacedPod({ name: pod, namespace })
      .then((p) => p.status?.containerStatuses?.find((s) => s.name === "odoo-test")?.state?.terminated)
      .catch(() => undefined);
    if (terminated) {
      // The kubelet stops the container when the deadline passes, and the Job
      // controller marks the Job a moment later: on a busy cluster the
      // container is seen terminated first. Its end time says which it was.
      return stoppedAtDeadline(current, terminated.finishedAt)
        ? { exitCode: terminated.exitCode, deadlineExceeded: true }
        : { exitCode: terminated.exitCode };
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return { deadlineExceeded: true };
}

/** Whether a container that ended at `finishedAt` ended because its Job's deadline passed (1 s of clock slack). */
export function stoppedAtDeadline(job: V1Job | undefined, finishedAt: Date | undefined): boolean {
  const deadline = job?.spec?.activeDeadlineSeconds;
  const started = job?.status?.startTime;
  if (!deadline || !started || !finishedAt) return false;
  return new Date(finishedAt).getTime() - new Date(started).getTime() >= (deadline - 1) * 1000;
}

async function fullLog(engine: Engine, namespace: string, pod: string): Promise<string | undefined> {
  try {
    return await withRetry(() => engine.kube.core.readNamespacedPodLog({ name: pod, namespace, container: "odoo-test" }));
  } catch {
    return undefined;
  }
}
