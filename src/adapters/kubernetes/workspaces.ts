// The agent's view of the workspace namespace: PVCs, Deployments, Services,
// Pods and Jobs of workspaces, found by the labels the agent puts on them.
// Everything the agent knows is read back from here (and the store), so a
// restarted agent carries on where the last one stopped.
import {
  PatchStrategy,
  type V1Deployment,
  type V1Job,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1Service,
} from "@kubernetes/client-node";
import type { JobType } from "../../domain/workspace/names.js";
import { LABELS, MANAGED_BY, type Naming, volumeName, workloadName } from "../../domain/workspace/names.js";
import type { JobFact, JobState, VolumeFact, WorkloadFact } from "../../domain/workspace/observe.js";
import { FIELD_MANAGER, isConflict, isNotFound, type KubeConnection, withRetry } from "./client.js";
import type { WorkspaceCache } from "./workspace-cache.js";

const MANAGED = `${LABELS.managedBy}=${MANAGED_BY}`;

export interface VolumeState {
  terminating: boolean;
  phase?: string;
}

export interface WorkloadState {
  replicas: number;
  image?: string;
}

export class WorkspaceObjects {
  constructor(
    private readonly kube: KubeConnection,
    readonly namespace: string,
    private readonly naming: Naming,
    /** Informers for observe; checks before writes always ask the API. */
    private readonly cache?: WorkspaceCache,
  ) {}

  // --- volumes -------------------------------------------------------------

  async getVolume(ws: string): Promise<VolumeState | undefined> {
    try {
      const pvc = await withRetry(() =>
        this.kube.core.readNamespacedPersistentVolumeClaim({ name: volumeName(this.naming, ws), namespace: this.namespace }),
      );
      return { terminating: Boolean(pvc.metadata?.deletionTimestamp), phase: pvc.status?.phase };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Creates the claim; "exists" when it is already there. */
  async createVolume(body: V1PersistentVolumeClaim): Promise<"created" | "exists"> {
    try {
      await withRetry(() => this.kube.core.createNamespacedPersistentVolumeClaim({ namespace: this.namespace, body }));
      return "created";
    } catch (error) {
      if (isConflict(error)) return "exists";
      throw error;
    }
  }

  async deleteVolume(ws: string): Promise<void> {
    await this.ignoreMissing(() =>
      this.kube.core.deleteNamespacedPersistentVolumeClaim({ name: volumeName(this.naming, ws), namespace: this.namespace }),
    );
  }

  async listVolumes(): Promise<VolumeFact[]> {
    const list = await withRetry(() =>
      this.kube.core.listNamespacedPersistentVolumeClaim({ namespace: this.namespace, labelSelector: MANAGED }),
    );
    return volumeFacts(list.items);
  }

  // --- workloads -----------------------------------------------------------

  async getWorkload(ws: string): Promise<WorkloadState | undefined> {
    try {
      const d = await withRetry(() =>
        this.kube.apps.readNamespacedDeployment({ name: workloadName(this.naming, ws), namespace: this.namespace }),
      );
      return { replicas: d.spec?.replicas ?? 1, image: d.spec?.template.spec?.containers[0]?.image };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Server-side apply: creates the Deployment or brings ours to this spec. */
  async applyDeployment(body: V1Deployment): Promise<void> {
    await withRetry(() => this.kube.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }

  async applyService(body: V1Service): Promise<void> {
    await withRetry(() => this.kube.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }

  /** Scales the workspace's Deployment; absent is fine. */
  async scale(ws: string, replicas: number): Promise<void> {
    const body = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: workloadName(this.naming, ws), namespace: this.namespace },
      spec: { replicas },
    };
    await this.ignoreMissing(() => this.kube.objects.patch(body, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch));
  }

  async deleteWorkload(ws: string): Promise<void> {
    const name = workloadName(this.naming, ws);
    await this.ignoreMissing(() =>
      this.kube.apps.deleteNamespacedDeployment({ name, namespace: this.namespace, propagationPolicy: "Background" }),
    );
    await this.ignoreMissing(() => this.kube.core.deleteNamespacedService({ name, namespace: this.namespace }));
  }

  async serviceExists(ws: string): Promise<boolean> {
    try {
      await withRetry(() => this.kube.core.readNamespacedService({ name: workloadName(this.naming, ws), namespace: this.namespace }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Pods of one workspace (its Deployment's), for waiting on a stop before a delete. */
  async workspacePods(ws: string): Promise<V1Pod[]> {
    const list = await withRetry(() =>
      this.kube.core.listNamespacedPod({
        namespace: this.namespace,
        labelSelector: `${MANAGED},${LABELS.component}=workspace,${LABELS.workspaceId}=${ws}`,
      }),
    );
    return list.items;
  }

  async listWorkloads(): Promise<WorkloadFact[]> {
    const [deployments, pods] = await Promise.all([
      withRetry(() =>
        this.kube.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector: `${MANAGED},${LABELS.component}=workspace` }),
      ),
      withRetry(() =>
        this.kube.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `${MANAGED},${LABELS.component}=workspace` }),
      ),
    ]);
    return workloadFacts(deployments.items, pods.items);
  }

  /**
   * What observe needs from Kubernetes: from the informers' cache when one is
   * attached and synced, else by listing (one request per kind).
   */
  async observeFacts(): Promise<{ workloads: WorkloadFact[]; volumes: VolumeFact[]; jobs: JobFact[] }> {
    const cached = this.cache?.snapshot();
    if (cached) {
      return {
        workloads: workloadFacts(cached.deployments, cached.pods),
        volumes: volumeFacts(cached.claims),
        jobs: cached.jobs.flatMap((job) => jobFact(job, cached.pods) ?? []),
      };
    }
    const [workloads, volumes, jobs] = await Promise.all([this.listWorkloads(), this.listVolumes(), this.listJobs()]);
    return { workloads, volumes, jobs };
  }

  // --- jobs ----------------------------------------------------------------

  async listJobs(filter: { ws?: string; type?: JobType } = {}): Promise<JobFact[]> {
    const selector = [MANAGED, `${LABELS.component}=job`];
    if (filter.ws) selector.push(`${LABELS.workspaceId}=${filter.ws}`);
    if (filter.type) selector.push(`${LABELS.jobType}=${filter.type}`);
    const labelSelector = selector.join(",");
    const [jobs, pods] = await Promise.all([
      withRetry(() => this.kube.batch.listNamespacedJob({ namespace: this.namespace, labelSelector })),
      withRetry(() => this.kube.core.listNamespacedPod({ namespace: this.namespace, labelSelector })),
    ]);
    return jobs.items.flatMap((job) => {
      const fact = jobFact(job, pods.items);
      return fact ? [fact] : [];
    });
  }

  /** Creates the Job; "exists" when one of that name is already there. */
  async createJob(body: V1Job): Promise<"created" | "exists"> {
    try {
      await withRetry(() => this.kube.batch.createNamespacedJob({ namespace: this.namespace, body }));
      return "created";
    } catch (error) {
      if (isConflict(error)) return "exists";
      throw error;
    }
  }

  /** Deletes a Job and, in the background, its pods. */
  async deleteJob(name: string): Promise<void> {
    await this.ignoreMissing(() =>
      this.kube.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: "Background" }),
    );
  }

  async jobExists(name: string): Promise<boolean> {
    try {
      await withRetry(() => this.kube.batch.readNamespacedJob({ name, namespace: this.namespace }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** The log of a Job's newest pod (the earlier API's blocking calls return it). */
  async jobLogs(name: string): Promise<string> {
    const pods = await withRetry(() =>
      this.kube.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` }),
    );
    const newest = pods.items.sort((a, b) => time(b.metadata?.creationTimestamp) - time(a.metadata?.creationTimestamp))[0];
    const pod = newest?.metadata?.name;
    if (!pod) return "";
    const container = newest.spec?.containers[0]?.name;
    return String(
      await withRetry(() => this.kube.core.readNamespacedPodLog({ name: pod, namespace: this.namespace, container, tailLines: 200 })),
    );
  }

  // --- the store's keys, for the jobs ---------------------------------------

  /** Creates or updates the Secret the storage Jobs read the store's keys from. */
  async ensureSecret(name: string, data: Record<string, string>): Promise<void> {
    const body = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: this.namespace, labels: { [LABELS.managedBy]: MANAGED_BY } },
      type: "Opaque",
      stringData: data,
    };
    await withRetry(() => this.kube.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }

  private async ignoreMissing(fn: () => Promise<unknown>): Promise<void> {
    try {
      await withRetry(fn);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

export function volumeFacts(claims: readonly V1PersistentVolumeClaim[]): VolumeFact[] {
  return claims.flatMap((pvc) => {
    const ws = pvc.metadata?.labels?.[LABELS.workspaceId];
    return ws ? [{ workspaceId: ws, terminating: Boolean(pvc.metadata?.deletionTimestamp) }] : [];
  });
}

export function workloadFacts(deployments: readonly V1Deployment[], pods: readonly V1Pod[]): WorkloadFact[] {
  const podsByWs = new Map<string, V1Pod[]>();
  for (const pod of pods) {
    const labels = pod.metadata?.labels ?? {};
    const ws = labels[LABELS.workspaceId];
    if (!ws || labels[LABELS.component] !== "workspace") continue;
    podsByWs.set(ws, [...(podsByWs.get(ws) ?? []), pod]);
  }
  return deployments.flatMap((d) => {
    const ws = d.metadata?.labels?.[LABELS.workspaceId];
    if (!ws || d.metadata?.labels?.[LABELS.component] !== "workspace") return [];
    return [
      {
        workspaceId: ws,
        desiredReplicas: d.spec?.replicas ?? 1,
        pods: (podsByWs.get(ws) ?? [])
          .filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
          .map((p) => ({
            running: p.status?.phase === "Running",
            ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
            terminating: Boolean(p.metadata?.deletionTimestamp),
          })),
      },
    ];
  });
}

export function jobFact(job: V1Job, pods: readonly V1Pod[]): JobFact | undefined {
  const labels = job.metadata?.labels ?? {};
  const ws = labels[LABELS.workspaceId];
  const type = labels[LABELS.jobType];
  if (!ws || (type !== "archive" && type !== "restore")) return undefined;
  const opId = (type === "archive" ? labels[LABELS.archiveOpId] : labels[LABELS.restoreOpId]) ?? "";
  const condition = (kind: string) => job.status?.conditions?.find((c) => c.type === kind && c.status === "True");
  const failed = condition("Failed");
  const complete = condition("Complete");
  const state: JobState = complete ? "succeeded" : failed ? "failed" : "running";
  const name = job.metadata?.name ?? "";
  const exitCode = pods
    .filter((p) => p.metadata?.labels?.["batch.kubernetes.io/job-name"] === name || p.metadata?.labels?.["job-name"] === name)
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .map((c) => c.state?.terminated?.exitCode)
    .find((code) => code !== undefined && code !== 0);
  const finished = (complete ?? failed)?.lastTransitionTime;
  return {
    name,
    workspaceId: ws,
    type,
    opId,
    state,
    finishedAt: finished ? new Date(finished).toISOString() : undefined,
    exitCode,
  };
}

function time(value: Date | string | undefined): number {
  return value ? new Date(value).getTime() : 0;
}
