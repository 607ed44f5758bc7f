// The workspace runtime on Kubernetes: a workspace is a Deployment and a
// Service, its home a PVC, archive and restore Jobs (manifests in
// src/domain/workspace/manifests.ts). The store's keys reach the Jobs through
// a Secret the agent writes in the namespace, never through the Job's spec.
import {
  CREDENTIAL_KEYS,
  deployment,
  type JobRequest,
  service,
  storageJob,
  upstreamHost,
  volumeClaim,
  type WorkspaceRuntimeSettings,
} from "../../domain/workspace/manifests.js";
import type { JobType } from "../../domain/workspace/names.js";
import type { JobFact } from "../../domain/workspace/observe.js";
import type { Upstream, VolumeState, WorkloadState, WorkspaceRuntime } from "../../operations/workspace/runtime.js";
import type { WorkspaceObjects } from "./workspaces.js";

export class KubernetesRuntime implements WorkspaceRuntime {
  readonly kind = "kubernetes";

  constructor(
    private readonly objects: WorkspaceObjects,
    private readonly settings: WorkspaceRuntimeSettings & { s3Keys: { accessKey: string; secretKey: string } },
  ) {}

  get where(): string {
    return `namespace ${this.objects.namespace}`;
  }

  observeFacts() {
    return this.objects.observeFacts();
  }

  async getVolume(ws: string): Promise<VolumeState | undefined> {
    const volume = await this.objects.getVolume(ws);
    return volume && { terminating: volume.terminating };
  }

  createVolume(ws: string) {
    return this.objects.createVolume(volumeClaim(this.settings, ws));
  }

  deleteVolume(ws: string) {
    return this.objects.deleteVolume(ws);
  }

  async getWorkload(ws: string): Promise<WorkloadState | undefined> {
    const workload = await this.objects.getWorkload(ws);
    return workload && { started: workload.replicas > 0, image: workload.image };
  }

  /** Service and Deployment at one replica; already started = no change (also with another image). */
  async startWorkload(ws: string, image: string): Promise<boolean> {
    const workload = await this.objects.getWorkload(ws);
    await this.objects.applyService(service(this.settings, ws));
    if (workload && workload.replicas > 0) return false;
    await this.objects.applyDeployment(deployment(this.settings, ws, image, 1));
    return true;
  }

  /** Scales to zero: the Deployment keeps the workspace's spec, the PVC stays. */
  stopWorkload(ws: string) {
    return this.objects.scale(ws, 0);
  }

  deleteWorkload(ws: string) {
    return this.objects.deleteWorkload(ws);
  }

  async isRunning(ws: string): Promise<boolean> {
    const workload = await this.objects.getWorkload(ws);
    if (!workload) return false;
    if (workload.replicas > 0) return true;
    const pods = await this.objects.workspacePods(ws);
    return pods.some((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp);
  }

  /** The Service's DNS name, once the Deployment is started and the Service exists. */
  async upstream(ws: string): Promise<Upstream | undefined> {
    const [workload, routable] = await Promise.all([this.objects.getWorkload(ws), this.objects.serviceExists(ws)]);
    if (!workload || workload.replicas < 1 || !routable) return undefined;
    return { hostname: upstreamHost(this.settings, ws), port: this.settings.containerPort };
  }

  listJobs(filter?: { ws?: string; type?: JobType }): Promise<JobFact[]> {
    return this.objects.listJobs(filter);
  }

  async createJob(request: JobRequest): Promise<"created" | "exists"> {
    await this.objects.ensureSecret(this.settings.credentialsSecret, {
      [CREDENTIAL_KEYS.accessKey]: this.settings.s3Keys.accessKey,
      [CREDENTIAL_KEYS.secretKey]: this.settings.s3Keys.secretKey,
    });
    return this.objects.createJob(storageJob(this.settings, request));
  }

  deleteJob(name: string) {
    return this.objects.deleteJob(name);
  }

  jobExists(name: string) {
    return this.objects.jobExists(name);
  }

  jobLogs(name: string) {
    return this.objects.jobLogs(name);
  }
}
