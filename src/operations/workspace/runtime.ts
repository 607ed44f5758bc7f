// The port the workspace operations drive: where workspaces, their home
// volumes and the storage jobs live. Two adapters satisfy it: Kubernetes
// (src/adapters/kubernetes/workspace-runtime.ts: Deployment, PVC, Job) and a
// Docker Engine API (src/adapters/docker/runtime.ts: container, named volume,
// helper container). The operations keep the contract's rules (what is
// refused, what is repeated, what is echoed); a runtime only says what exists
// and makes or removes it. Everything a runtime reports is read back from the
// engine, never remembered, so a restarted agent answers the same.
import type { JobRequest } from "../../domain/workspace/manifests.js";
import type { JobType } from "../../domain/workspace/names.js";
import type { JobFact, VolumeFact, WorkloadFact } from "../../domain/workspace/observe.js";

export interface VolumeState {
  /** Being deleted (Kubernetes: a claim waiting for its users to go); a Docker volume never is. */
  terminating: boolean;
}

export interface WorkloadState {
  /** Asked to run: a Deployment at one replica, a container that exists (Docker removes a stopped one). */
  started: boolean;
  image?: string;
}

export interface Upstream {
  hostname: string;
  port: number;
}

export interface WorkspaceRuntime {
  /** Which runtime this is, for logs and metrics ("kubernetes", "docker"). */
  readonly kind: string;
  /** Where its objects live, for messages ("namespace codehub-workspaces", "engine unix:///..."). */
  readonly where: string;

  /** What observe needs: workloads with their live processes, volumes, storage jobs. */
  observeFacts(): Promise<{ workloads: WorkloadFact[]; volumes: VolumeFact[]; jobs: JobFact[] }>;

  getVolume(ws: string): Promise<VolumeState | undefined>;
  /** "exists" when it is already there. */
  createVolume(ws: string): Promise<"created" | "exists">;
  /** Absent is fine. */
  deleteVolume(ws: string): Promise<void>;

  getWorkload(ws: string): Promise<WorkloadState | undefined>;
  /** Makes the workspace run with this image unless it is started already; true when it did something. */
  startWorkload(ws: string, image: string): Promise<boolean>;
  /** Stops it and keeps the volume; absent is fine. */
  stopWorkload(ws: string): Promise<void>;
  /** Removes the workspace's workload (not its volume); absent is fine. */
  deleteWorkload(ws: string): Promise<void>;
  /** Started, or a process of it still runs: archive and restore need the volume to themselves. */
  isRunning(ws: string): Promise<boolean>;
  /** Where a caller reaches the workspace, or undefined when it is not routable. */
  upstream(ws: string): Promise<Upstream | undefined>;

  listJobs(filter?: { ws?: string; type?: JobType }): Promise<JobFact[]>;
  /** Starts the storage job with the contract's environment; "exists" when one of its name is there. */
  createJob(request: JobRequest): Promise<"created" | "exists">;
  deleteJob(name: string): Promise<void>;
  jobExists(name: string): Promise<boolean>;
  /** The end of a job's output (the earlier API's blocking calls return it). */
  jobLogs(name: string): Promise<string>;
}
