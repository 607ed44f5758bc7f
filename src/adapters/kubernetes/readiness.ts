// Waiting for a sandbox to be ready, with progress a person can follow and,
// on failure, the evidence they need: which workload, which pod, its state,
// its events and the tail of its log. A pod stuck in a state that will not
// heal by itself (crash loop, image pull, bad config) fails the wait early
// instead of letting it run into the timeout.
import type { V1Deployment, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { type KubeConnection, withRetry } from "./client.js";
import { type ListVersions, NamespaceChanges } from "./namespace-changes.js";

const FATAL_WAITING_REASONS = new Set([
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "CreateContainerConfigError",
  "CreateContainerError",
  "InvalidImageName",
]);

export interface WaitOptions {
  timeoutMs: number;
  /** A fatal pod state must persist this long before the wait gives up early. */
  failFastAfterMs?: number;
  /** Poll interval while a watch is down (and the only pace with `watch: false`). */
  pollMs?: number;
  /** Look again on changes seen by a watch (default) rather than on a timer alone. */
  watch?: boolean;
  onProgress?: (summary: string) => void;
  signal?: AbortSignal;
}

export interface NotReadyReport {
  /** One line per workload or pod that is not ready, with why. */
  pending: string[];
  /** Fatal states seen on pods, keyed by pod/container. */
  fatal: Map<string, string>;
  /** The lists' resourceVersions: a watch started from them misses nothing. */
  versions: ListVersions;
}

export class NotReadyError extends Error {
  constructor(
    message: string,
    readonly report: NotReadyReport,
    readonly evidence: string,
  ) {
    super(message);
    this.name = "NotReadyError";
  }
}

export async function waitReady(kube: KubeConnection, namespace: string, options: WaitOptions): Promise<void> {
  // The watches start from the first look's lists, once that look says there is something to wait for.
  const watch: Watching = { enabled: options.watch !== false };
  try {
    await waitLoop(kube, namespace, options, watch);
  } finally {
    watch.changes?.close();
  }
}

interface Watching {
  enabled: boolean;
  changes?: NamespaceChanges;
}

/**
 * Even with every watch connected the wait looks again this often: a fatal
 * state must be seen to persist, and a change a watch missed must not stall it.
 */
const RECHECK_MS = 5_000;

async function waitLoop(kube: KubeConnection, namespace: string, options: WaitOptions, watch: Watching): Promise<void> {
  const started = Date.now();
  const failFastAfter = options.failFastAfterMs ?? 60_000;
  const fatalSince = new Map<string, number>();
  let lastSummary = "";
  let lastReportAt = 0;

  for (;;) {
    options.signal?.throwIfAborted();
    const seen = watch.changes?.seen ?? 0;
    const report = await inspect(kube, namespace);
    if (report.pending.length === 0) return;
    if (watch.enabled && !watch.changes) watch.changes = new NamespaceChanges(kube, namespace, report.versions);
    const changes = watch.changes;

    const now = Date.now();
    for (const key of [...fatalSince.keys()]) if (!report.fatal.has(key)) fatalSince.delete(key);
    for (const key of report.fatal.keys()) if (!fatalSince.has(key)) fatalSince.set(key, now);
    const persistent = [...fatalSince.entries()].filter(([, since]) => now - since >= failFastAfter);
    if (persistent.length > 0) {
      const what = persistent.map(([key]) => `${key}: ${report.fatal.get(key)}`).join("; ");
      throw new NotReadyError(`not ready: ${what}`, report, await collectEvidence(kube, namespace));
    }
    if (now - started >= options.timeoutMs) {
      throw new NotReadyError(
        `not ready after ${Math.round(options.timeoutMs / 1000)}s: ${report.pending.join("; ")}`,
        report,
        await collectEvidence(kube, namespace),
      );
    }
    const summary = report.pending.join("; ");
    if (summary !== lastSummary || now - lastReportAt >= 15_000) {
      options.onProgress?.(`waiting (${Math.round((now - started) / 1000)}s): ${summary}`);
      lastSummary = summary;
      lastReportAt = now;
    }
    // Never past the deadline, nor past the moment a fatal state has lasted long enough.
    const fatalDue = Math.min(...[...fatalSince.values()].map((since) => since + failFastAfter - now));
    const untilDeadline = Math.max(0, Math.min(started + options.timeoutMs - now, fatalDue));
    if (changes?.complete) {
      await changes.next(seen, Math.min(RECHECK_MS, untilDeadline));
    } else {
      // Quick polls at first, when most sandboxes become ready; slower later.
      const pause = options.pollMs ?? (now - started < 20_000 ? 250 : 1_000);
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, untilDeadline)));
    }
  }
}

/** What in the namespace is not ready yet, and why. */
export async function inspect(kube: KubeConnection, namespace: string): Promise<NotReadyReport> {
  const [deployments, statefulSets, pods] = await Promise.all([
    withRetry(() => kube.apps.listNamespacedDeployment({ namespace })),
    withRetry(() => kube.apps.listNamespacedStatefulSet({ namespace })),
    withRetry(() => kube.core.listNamespacedPod({ namespace })),
  ]);
  const pending: string[] = [];
  const fatal = new Map<string, string>();
  for (const d of deployments.items) {
    const why = deploymentNotReady(d);
    if (why) pending.push(`deployment/${d.metadata?.name}: ${why}`);
  }
  for (const s of statefulSets.items) {
    const why = statefulSetNotReady(s);
    if (why) pending.push(`statefulset/${s.metadata?.name}: ${why}`);
  }
  for (const pod of pods.items) {
    if (!countsForReadiness(pod)) continue;
    const why = podNotReady(pod);
    if (!why) continue;
    pending.push(`pod/${pod.metadata?.name}: ${why.reason}`);
    if (why.fatal) fatal.set(`pod/${pod.metadata?.name}`, why.reason);
  }
  const versions = {
    pods: pods.metadata?.resourceVersion,
    deployments: deployments.metadata?.resourceVersion,
    statefulSets: statefulSets.metadata?.resourceVersion,
  };
  return { pending, fatal, versions };
}

/**
 * Whether a pod's readiness is the sandbox's: not a pod on its way out, not
 * one that has finished (Succeeded or Failed: it will never be Ready again,
 * and its workload's controller replaces it if it must), and not a Job's
 * pod (a `helm test` Job kept for its logs after a failure would otherwise
 * hold every later deploy until it timed out; found on the real node).
 */
export function countsForReadiness(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return false;
  return !(pod.metadata?.ownerReferences ?? []).some((owner) => owner.kind === "Job");
}

export function deploymentNotReady(d: V1Deployment): string | undefined {
  const desired = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  const failure = s.conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  if (failure) return `cannot create pods: ${failure.message ?? failure.reason}`;
  if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) return "rollout not observed yet";
  if ((s.updatedReplicas ?? 0) < desired) return `${s.updatedReplicas ?? 0}/${desired} updated`;
  if ((s.availableReplicas ?? 0) < desired) return `${s.availableReplicas ?? 0}/${desired} available`;
  if ((s.replicas ?? 0) > desired) return `${(s.replicas ?? 0) - desired} old pod(s) terminating`;
  return undefined;
}

export function statefulSetNotReady(set: V1StatefulSet): string | undefined {
  const desired = set.spec?.replicas ?? 1;
  const s = set.status;
  if (!s || (s.observedGeneration ?? 0) < (set.metadata?.generation ?? 0)) return "rollout not observed yet";
  if ((s.readyReplicas ?? 0) < desired) return `${s.readyReplicas ?? 0}/${desired} ready`;
  if (set.spec?.updateStrategy?.type !== "OnDelete" && s.updateRevision && s.currentRevision !== s.updateRevision) {
    return `${s.updatedReplicas ?? 0}/${desired} updated`;
  }
  return undefined;
}

export function podNotReady(pod: V1Pod): { reason: string; fatal: boolean } | undefined {
  const conditions = pod.status?.conditions ?? [];
  const scheduled = conditions.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False") return { reason: `unschedulable: ${scheduled.message ?? scheduled.reason}`, fatal: false };
  if (conditions.find((c) => c.type === "Ready")?.status === "True") return undefined;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of statuses) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && FATAL_WAITING_REASONS.has(waiting.reason)) {
      const last = c.lastState?.terminated;
      const exit = last ? `, last exit ${last.exitCode}${last.reason ? ` (${last.reason})` : ""}` : "";
      return { reason: `container ${c.name} ${waiting.reason}${exit}${waiting.message ? `: ${waiting.message}` : ""}`, fatal: true };
    }
    if (c.state?.terminated && c.state.terminated.exitCode !== 0) {
      return { reason: `container ${c.name} exited ${c.state.terminated.exitCode}`, fatal: c.restartCount >= 3 };
    }
  }
  const waiting = statuses.find((c) => c.state?.waiting);
  if (waiting) return { reason: `container ${waiting.name} ${waiting.state?.waiting?.reason ?? "waiting"}`, fatal: false };
  return { reason: pod.status?.phase ?? "Pending", fatal: false };
}

/** Unready pods with their events and log tails, bounded in size. */
export async function collectEvidence(kube: KubeConnection, namespace: string, maxChars = 6_000): Promise<string> {
  const parts: string[] = [];
  try {
    const [pods, events] = await Promise.all([kube.core.listNamespacedPod({ namespace }), kube.core.listNamespacedEvent({ namespace })]);
    const warnings = events.items
      .filter((e) => e.type === "Warning")
      .sort((a, b) => eventTime(a) - eventTime(b))
      .slice(-12)
      .map((e) => `${e.involvedObject?.kind}/${e.involvedObject?.name}: ${e.reason}: ${e.message}`);
    if (warnings.length) parts.push(`warning events:\n${warnings.map((w) => `  ${w}`).join("\n")}`);
    for (const pod of pods.items) {
      const why = podNotReady(pod);
      if (!why || pod.status?.phase === "Succeeded") continue;
      const name = pod.metadata?.name ?? "?";
      parts.push(`pod/${name}: ${why.reason}`);
      for (const container of pod.spec?.containers ?? []) {
        const status = pod.status?.containerStatuses?.find((s) => s.name === container.name);
        if (status?.ready) continue;
        const tail = await logTail(kube, namespace, name, container.name, (status?.restartCount ?? 0) > 0);
        if (tail) parts.push(`  log of ${container.name} (last lines):\n${indent(tail, "    ")}`);
      }
    }
  } catch (error) {
    parts.push(`(could not collect evidence: ${error instanceof Error ? error.message : String(error)})`);
  }
  const text = parts.join("\n");
  return text.length > maxChars ? `${text.slice(0, maxChars)}\n…(truncated)` : text;
}

export async function logTail(
  kube: KubeConnection,
  namespace: string,
  pod: string,
  container: string,
  previous: boolean,
  lines = 20,
): Promise<string | undefined> {
  for (const usePrevious of previous ? [true, false] : [false]) {
    try {
      const text = await kube.core.readNamespacedPodLog({ name: pod, namespace, container, tailLines: lines, previous: usePrevious });
      if (typeof text === "string" && text.trim()) return text.trimEnd();
    } catch {
      // No log (container never started, node unreachable): the state above says why.
    }
  }
  return undefined;
}

function eventTime(e: { lastTimestamp?: Date; eventTime?: Date; metadata?: { creationTimestamp?: Date } }): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");
}
