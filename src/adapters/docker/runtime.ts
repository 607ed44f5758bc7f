// The workspace runtime on a Docker Engine API (Docker, or Podman's
// Docker-compatible service): a workspace is a container `P{id}`, its home a
// named volume `P{id}-home`, archive and restore helper containers of the
// storage-job image. Everything is found again by labels (workspace id, job
// type, op id, resource prefix), so a restarted agent reads the same facts.
import { connect } from "node:net";
import {
  type DockerSettings,
  jobContainerBody,
  jobContainerName,
  labelFilter,
  matchesFilter,
  volumeBody,
  volumeOwnerBody,
  volumeOwnerName,
  workspaceContainerBody,
  workspaceContainerName,
} from "../../domain/workspace/containers.js";
import type { JobRequest, WorkspaceRuntimeSettings } from "../../domain/workspace/manifests.js";
import { type JobType, LABELS, volumeName } from "../../domain/workspace/names.js";
import type { JobFact, JobState, VolumeFact, WorkloadFact } from "../../domain/workspace/observe.js";
import type { Upstream, VolumeState, WorkloadState, WorkspaceRuntime } from "../../operations/workspace/runtime.js";
import type { Logger } from "../logger.js";
import { type DockerEngine, DockerEngineError, demuxLogs, query } from "./engine.js";

export interface DockerRuntimeSettings extends WorkspaceRuntimeSettings {
  docker: DockerSettings & { imagePullTimeoutSeconds: number; volumeOwnership: "auto" | "driver" | "helper" };
  s3Keys: { accessKey: string; secretKey: string };
}

/** What the engine's inspect answers, the fields used here. */
interface ContainerInspect {
  Name?: string;
  Created?: string;
  Config?: { Image?: string; Labels?: Record<string, string> };
  State?: { Status?: string; Running?: boolean; ExitCode?: number; StartedAt?: string; FinishedAt?: string; Health?: { Status?: string } };
  NetworkSettings?: { Ports?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> };
}

interface ContainerSummary {
  Id: string;
  Names?: string[];
  Labels?: Record<string, string>;
  State?: string;
}

/** How long a health check may take: a workspace that does not accept a connection in this time is not healthy. */
const TCP_CHECK_MS = 1_000;
/** Live states: the container holds its volume and counts as running for archive/restore. */
const LIVE = new Set(["running", "paused", "restarting"]);

export class DockerRuntime implements WorkspaceRuntime {
  readonly kind = "docker";
  private podman?: Promise<boolean>;

  constructor(
    private readonly engine: DockerEngine,
    private readonly settings: DockerRuntimeSettings,
    private readonly logger: Logger,
  ) {}

  get where(): string {
    return `engine ${this.engine.address}`;
  }

  // --- volumes ---------------------------------------------------------------

  async getVolume(ws: string): Promise<VolumeState | undefined> {
    const answer = await this.engine.expect("GET", `/volumes/${volumeName(this.settings.naming, ws)}`, undefined, [404]);
    return answer.status === 404 ? undefined : { terminating: false };
  }

  /** Docker answers 201 for a name that exists; inspecting first is what tells "created" from "exists". */
  async createVolume(ws: string): Promise<"created" | "exists"> {
    if (await this.getVolume(ws)) return "exists";
    const mode = this.settings.docker.volumeOwnership;
    const byDriver = mode === "driver" || (mode === "auto" && (await this.isPodman()));
    const answer = await this.engine.call("POST", "/volumes/create", volumeBody(this.settings, ws, byDriver));
    if (answer.status === 409 || /already exists/i.test(answer.text)) return "exists";
    if (answer.status < 200 || answer.status >= 300)
      throw new DockerEngineError(answer.status, "POST", "/volumes/create", answer.text.slice(0, 300));
    if (!byDriver) {
      try {
        await this.handVolumeToOwner(ws);
      } catch (error) {
        // A volume left root's would fail the workspace later and less clearly: gone, so a repeat starts over.
        await this.engine.call("DELETE", `/volumes/${volumeName(this.settings.naming, ws)}`).catch(() => undefined);
        throw error;
      }
    }
    return "created";
  }

  /** Runs volumeOwnerBody's one-shot container and waits for it (chown of an empty directory: a second or so). */
  private async handVolumeToOwner(ws: string): Promise<void> {
    const name = volumeOwnerName(this.settings, ws);
    await this.ensureImage(this.settings.storageJobImage);
    await this.engine.call("DELETE", `/containers/${name}${query({ force: true })}`);
    await this.engine.expect("POST", `/containers/create${query({ name })}`, volumeOwnerBody(this.settings, ws));
    try {
      await this.engine.expect("POST", `/containers/${name}/start`);
      const waited = await this.engine.expect("POST", `/containers/${name}/wait`, undefined, [], 60_000);
      const code = (waited.body as { StatusCode?: number }).StatusCode;
      if (code !== 0) {
        const logs = await this.jobLogs(name).catch(() => "");
        throw new Error(
          `workspace ${ws}: provision: giving volume ${volumeName(this.settings.naming, ws)} to ${this.settings.uid}:${this.settings.gid} exited ${code}: ${logs.trim().slice(0, 300)}`,
        );
      }
    } finally {
      await this.engine.call("DELETE", `/containers/${name}${query({ force: true })}`);
    }
  }

  /**
   * An engine refuses to remove a volume any container still names, also a
   * finished helper; those go first (their outcome is in the store). A
   * container that runs on it keeps it: the engine's 409 is the answer.
   */
  async deleteVolume(ws: string): Promise<void> {
    for (const job of await this.listJobs({ ws })) if (job.state !== "running") await this.deleteJob(job.name);
    await this.engine.expect("DELETE", `/volumes/${volumeName(this.settings.naming, ws)}`, undefined, [404]);
  }

  // --- the workspace container -------------------------------------------------

  async getWorkload(ws: string): Promise<WorkloadState | undefined> {
    const c = await this.inspect(workspaceContainerName(this.settings, ws));
    return c && { started: true, image: c.Config?.Image };
  }

  /**
   * The contract's start (§3): a running container is left as it is, a
   * stopped one is started, else one is created (the image pulled when the
   * engine lacks it) and started.
   */
  async startWorkload(ws: string, image: string): Promise<boolean> {
    const name = workspaceContainerName(this.settings, ws);
    const existing = await this.inspect(name);
    if (existing?.State?.Running) return false;
    if (!existing) {
      await this.ensureImage(image);
      await this.engine.expect(
        "POST",
        `/containers/create${query({ name })}`,
        workspaceContainerBody(this.settings, this.settings.docker, ws, image),
        [409],
      );
    }
    await this.engine.expect("POST", `/containers/${name}/start`, undefined, [304]);
    return true;
  }

  /** Stops and removes the container, as the Docker agent does; the volume stays. */
  async stopWorkload(ws: string): Promise<void> {
    const name = workspaceContainerName(this.settings, ws);
    await this.engine.expect("POST", `/containers/${name}/stop${query({ t: 10 })}`, undefined, [304, 404], 30_000);
    await this.engine.expect("DELETE", `/containers/${name}${query({ force: true })}`, undefined, [404]);
  }

  async deleteWorkload(ws: string): Promise<void> {
    await this.engine.expect(
      "DELETE",
      `/containers/${workspaceContainerName(this.settings, ws)}${query({ force: true })}`,
      undefined,
      [404],
    );
  }

  async isRunning(ws: string): Promise<boolean> {
    const c = await this.inspect(workspaceContainerName(this.settings, ws));
    return LIVE.has(c?.State?.Status ?? "");
  }

  /** The published address on the host, while the container runs. */
  async upstream(ws: string): Promise<Upstream | undefined> {
    const c = await this.inspect(workspaceContainerName(this.settings, ws));
    if (!c?.State?.Running) return undefined;
    const port = publishedPort(c, this.settings.containerPort);
    return port ? { hostname: this.settings.docker.publishHost, port } : undefined;
  }

  // --- observe -------------------------------------------------------------------

  async observeFacts(): Promise<{ workloads: WorkloadFact[]; volumes: VolumeFact[]; jobs: JobFact[] }> {
    const [workloads, volumes, jobs] = await Promise.all([this.listWorkloads(), this.listVolumes(), this.listJobs()]);
    return { workloads, volumes, jobs };
  }

  private async listVolumes(): Promise<VolumeFact[]> {
    const filter = labelFilter(this.settings.naming, "volume");
    const answer = await this.engine.expect("GET", `/volumes${query({ filters: { label: filter } })}`);
    const list = (answer.body as { Volumes?: Array<{ Labels?: Record<string, string> }> | null }).Volumes ?? [];
    return list.flatMap((v) => {
      if (!matchesFilter(v.Labels, filter)) return [];
      const ws = v.Labels?.[LABELS.workspaceId];
      return ws ? [{ workspaceId: ws, terminating: false }] : [];
    });
  }

  /**
   * running = the container runs; healthy = its own health check says
   * healthy when it has one, else its published port accepts a connection
   * (the Kubernetes runtime's readiness probe is a TCP check too): never a
   * copy of running.
   */
  private async listWorkloads(): Promise<WorkloadFact[]> {
    const summaries = await this.listContainers(labelFilter(this.settings.naming, "workspace"));
    return Promise.all(
      summaries.map(async (summary) => {
        const ws = summary.Labels?.[LABELS.workspaceId] ?? "";
        const c = await this.inspect(summary.Id);
        const running = c?.State?.Running === true;
        const health = c?.State?.Health?.Status;
        const port = c ? publishedPort(c, this.settings.containerPort) : undefined;
        const ready =
          running && (health ? health === "healthy" : port !== undefined && (await tcpOpen(this.settings.docker.publishHost, port)));
        return { workspaceId: ws, desiredReplicas: 1, pods: c ? [{ running, ready, terminating: false }] : [] };
      }),
    ).then((facts) => facts.filter((f) => f.workspaceId !== ""));
  }

  // --- storage jobs ----------------------------------------------------------------

  /**
   * Helper containers as jobs: running while the container runs (or is
   * created), succeeded on exit 0, failed otherwise. The engine has no job
   * deadline: one that runs past AGENT_DOCKER_JOB_TIMEOUT is killed here and
   * reported failed, as Kubernetes' activeDeadlineSeconds would.
   */
  async listJobs(filter: { ws?: string; type?: JobType } = {}): Promise<JobFact[]> {
    const extra: Record<string, string> = {};
    if (filter.ws) extra[LABELS.workspaceId] = filter.ws;
    if (filter.type) extra[LABELS.jobType] = filter.type;
    const summaries = await this.listContainers(labelFilter(this.settings.naming, "job", extra));
    const facts = await Promise.all(summaries.map((s) => this.jobFact(s.Id)));
    return facts.flatMap((f) => (f ? [f] : []));
  }

  private async jobFact(id: string): Promise<JobFact | undefined> {
    const c = await this.inspect(id);
    const labels = c?.Config?.Labels ?? {};
    const ws = labels[LABELS.workspaceId];
    const type = labels[LABELS.jobType];
    if (!c || !ws || (type !== "archive" && type !== "restore")) return undefined;
    const name = (c.Name ?? "").replace(/^\//, "");
    const status = c.State?.Status ?? "";
    let state: JobState = status === "exited" || status === "dead" ? (c.State?.ExitCode === 0 ? "succeeded" : "failed") : "running";
    let finishedAt = state === "running" ? undefined : validTime(c.State?.FinishedAt);
    const since = validTime(c.State?.StartedAt) ?? validTime(c.Created);
    const timeoutMs = this.settings.jobTimeoutSeconds * 1000;
    // Killed on its deadline (below, by an earlier call): no exit code of the script's, as on Kubernetes.
    const ranOut = state === "failed" && since && finishedAt && Date.parse(finishedAt) - Date.parse(since) >= timeoutMs;
    let exitCode = state === "failed" && !ranOut ? c.State?.ExitCode : undefined;
    if (state === "running" && since && Date.now() - Date.parse(since) > timeoutMs) {
      this.logger.warn(
        `workspace ${ws}: ${type} job ${name} ran past AGENT_DOCKER_JOB_TIMEOUT (${this.settings.jobTimeoutSeconds} s); killing it`,
      );
      await this.engine.expect("POST", `/containers/${id}/kill`, undefined, [404, 409]).catch(() => undefined);
      state = "failed";
      finishedAt = new Date().toISOString();
      exitCode = undefined;
    }
    const opId = (type === "archive" ? labels[LABELS.archiveOpId] : labels[LABELS.restoreOpId]) ?? "";
    return { name, workspaceId: ws, type, opId, state, finishedAt, exitCode };
  }

  /** Creates and starts the helper container; "exists" when one of its name is there (a repeat). */
  async createJob(request: JobRequest): Promise<"created" | "exists"> {
    const name = jobContainerName(this.settings, request);
    await this.ensureImage(this.settings.storageJobImage);
    const body = jobContainerBody(this.settings, this.settings.docker, request, this.settings.s3Keys);
    const created = await this.engine.expect("POST", `/containers/create${query({ name })}`, body, [409]);
    if (created.status === 409) return "exists";
    try {
      await this.engine.expect("POST", `/containers/${name}/start`, undefined, [304]);
    } catch (error) {
      // A job that cannot start is removed again: a repeat of the call tries anew.
      await this.engine.call("DELETE", `/containers/${name}${query({ force: true })}`).catch(() => undefined);
      throw error;
    }
    return "created";
  }

  async deleteJob(name: string): Promise<void> {
    await this.engine.expect("DELETE", `/containers/${name}${query({ force: true })}`, undefined, [404]);
  }

  async jobExists(name: string): Promise<boolean> {
    return (await this.inspect(name)) !== undefined;
  }

  async jobLogs(name: string): Promise<string> {
    const answer = await this.engine.expect("GET", `/containers/${name}/logs${query({ stdout: true, stderr: true, tail: 200 })}`);
    return demuxLogs(Buffer.from(answer.text, "latin1"));
  }

  // --- the engine ----------------------------------------------------------------

  private async inspect(idOrName: string): Promise<ContainerInspect | undefined> {
    const answer = await this.engine.expect("GET", `/containers/${idOrName}/json`, undefined, [404]);
    return answer.status === 404 ? undefined : (answer.body as ContainerInspect);
  }

  private async listContainers(labels: string[]): Promise<ContainerSummary[]> {
    const answer = await this.engine.expect("GET", `/containers/json${query({ all: true, filters: { label: labels } })}`);
    return ((answer.body as ContainerSummary[] | null) ?? []).filter((c) => matchesFilter(c.Labels, labels));
  }

  /** Pulls the image when the engine does not have it (the contract's start: "image pulled if missing"). */
  private async ensureImage(image: string): Promise<void> {
    const present = await this.engine.expect("GET", `/images/${image}/json`, undefined, [404]);
    if (present.status !== 404) return;
    this.logger.info(`pulling ${image} into ${this.where}`);
    const timeout = this.settings.docker.imagePullTimeoutSeconds * 1000;
    const answer = await this.engine.expect("POST", `/images/create${query({ fromImage: image })}`, undefined, [], timeout);
    // The answer is a stream of JSON progress lines; a failure is a line with "error", under status 200.
    const failed = answer.text
      .split("\n")
      .map((line) => {
        try {
          return JSON.parse(line) as { error?: string };
        } catch {
          return {};
        }
      })
      .find((line) => line.error);
    if (failed?.error) throw new Error(`pulling ${image} into ${this.where} failed: ${failed.error}`);
  }

  /** Podman's service names itself in /version; its volumes take an owner, Docker's do not. */
  private isPodman(): Promise<boolean> {
    this.podman ??= this.engine
      .expect("GET", "/version")
      .then((answer) => {
        const components = (answer.body as { Components?: Array<{ Name?: string }> }).Components ?? [];
        return components.some((c) => /podman/i.test(c.Name ?? ""));
      })
      .catch((error: unknown) => {
        this.podman = undefined;
        throw error;
      });
    return this.podman;
  }
}

function publishedPort(c: ContainerInspect, containerPort: number): number | undefined {
  const bindings = c.NetworkSettings?.Ports?.[`${containerPort}/tcp`] ?? [];
  const port = Number(bindings?.[0]?.HostPort ?? "");
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

function validTime(value: string | undefined): string | undefined {
  if (!value || value.startsWith("0001-01-01")) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: TCP_CHECK_MS });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });
}
