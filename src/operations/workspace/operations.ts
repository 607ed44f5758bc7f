// The Agent API's operations (notes/agent-api.md §2-§5) on a workspace
// runtime (Kubernetes or a Docker Engine, ./runtime.ts) and an S3 store. Each
// one checks under the workspace's lock, then writes; every answer is derived
// from what the runtime and the store show, so repeats are safe and a
// restarted agent does nothing twice.
import type { Logger } from "../../adapters/logger.js";
import type { ObjectStore } from "../../adapters/s3/store.js";
import { WorkspaceError } from "../../domain/workspace/errors.js";
import { selectGarbage } from "../../domain/workspace/gc.js";
import { archiveJobRequest, type JobRequest, type WorkspaceRuntimeSettings } from "../../domain/workspace/manifests.js";
import { jobName } from "../../domain/workspace/names.js";
import { type JobFact, markerKeys, observeWorkspaces, type StoredObject, type WorkspaceRecord } from "../../domain/workspace/observe.js";
import { KeyedLock } from "./lock.js";
import type { WorkspaceRuntime } from "./runtime.js";

export interface AgentSettings extends WorkspaceRuntimeSettings {
  defaultImage: string;
  s3Keys: { accessKey: string; secretKey: string };
}

export interface AgentDeps {
  runtime: WorkspaceRuntime;
  store: ObjectStore;
  settings: AgentSettings;
  logger: Logger;
}

export type Accepted = { status: "in_progress"; workspace_id: string };

/** How long provision/restore wait for a claim that is being deleted to go before making it anew. */
const VOLUME_GONE_WAIT_MS = 30_000;

export class WorkspaceOperations {
  private readonly lock = new KeyedLock();
  /** Parsed markers by key, reused while the object's ETag is unchanged (a cache, never the truth). */
  private readonly markerCache = new Map<string, { etag: string; value: unknown }>();

  constructor(private readonly deps: AgentDeps) {}

  get settings(): AgentSettings {
    return this.deps.settings;
  }

  async observe(): Promise<WorkspaceRecord[]> {
    const { runtime, store, settings } = this.deps;
    const [{ workloads, volumes, jobs }, stored] = await Promise.all([runtime.observeFacts(), store.list(settings.naming.prefix)]);
    const markers = await this.readMarkers(stored);
    return observeWorkspaces(settings.naming, { workloads, volumes, jobs, objects: stored, markers });
  }

  /** What /metrics counts: one observe and the storage Jobs. */
  async snapshot(): Promise<{ workspaces: WorkspaceRecord[]; jobs: JobFact[] }> {
    const [workspaces, facts] = await Promise.all([this.observe(), this.deps.runtime.observeFacts()]);
    return { workspaces, jobs: facts.jobs };
  }

  private async readMarkers(stored: StoredObject[]): Promise<Map<string, unknown>> {
    const keys = markerKeys(this.deps.settings.naming, stored);
    const byKey = new Map(stored.map((o) => [o.key, o]));
    const out = new Map<string, unknown>();
    await Promise.all(
      keys.map(async (key) => {
        const etag = byKey.get(key)?.etag ?? "";
        const cached = this.markerCache.get(key);
        if (cached && etag && cached.etag === etag) {
          out.set(key, cached.value);
          return;
        }
        const text = await this.deps.store.readSmall(key);
        if (text === undefined) return;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          this.deps.logger.warn(`observe: ${key} is not JSON; ignored`);
          return;
        }
        out.set(key, value);
        if (etag) this.markerCache.set(key, { etag, value });
      }),
    );
    for (const key of this.markerCache.keys()) if (!byKey.has(key)) this.markerCache.delete(key);
    return out;
  }

  /** Creates the home volume before answering (the only synchronous step with restore's). */
  async provision(ws: string): Promise<{ status: "completed" | "already_exists"; workspace_id: string }> {
    return this.lock.run(ws, async () => {
      const created = await this.ensureVolume(ws, "provision");
      return { status: created ? "completed" : "already_exists", workspace_id: ws };
    });
  }

  async start(ws: string, image: string | null): Promise<Accepted> {
    return this.lock.run(ws, async () => {
      const { runtime, settings } = this.deps;
      const volume = await runtime.getVolume(ws);
      if (!volume || volume.terminating) {
        throw new WorkspaceError(
          "VOLUME_NOT_FOUND",
          `workspace ${ws}: start: no volume ${settings.naming.prefix}${ws}-home in ${runtime.where}; provision it first`,
        );
      }
      // Already started: a no-op, also when another image is asked for (as Docker keeps a running container).
      const chosen = image ?? settings.defaultImage;
      if (await runtime.startWorkload(ws, chosen)) this.deps.logger.info(`workspace ${ws}: started with image ${chosen}`);
      return { status: "in_progress", workspace_id: ws };
    });
  }

  /** Stops the workspace (Kubernetes: scale to zero; Docker: stop and remove the container); the volume stays. Absent is fine. */
  async stop(ws: string): Promise<Accepted> {
    return this.lock.run(ws, async () => {
      await this.deps.runtime.stopWorkload(ws);
      return { status: "in_progress", workspace_id: ws };
    });
  }

  /**
   * Removes all of it: the Deployment, the Service, the storage Jobs and the
   * volume; errors are logged and swallowed as the contract says (the caller
   * waits for observe to show them gone). The Jobs go too because a Job's
   * pod, even finished, counts as a user of the claim and would hold it
   * (pvc-protection) until the Job's TTL, and the restore that follows an
   * archive-then-delete would wait for it. The caller deletes only after it
   * saw the archive complete (tar and .meta), which is when the archive Job
   * is done, though Kubernetes may not have marked it Complete yet; a Job
   * cut short leaves no .meta, so no half archive is ever counted.
   */
  async delete(ws: string): Promise<Accepted> {
    return this.lock.run(ws, async () => {
      const { runtime, logger } = this.deps;
      try {
        await runtime.deleteWorkload(ws);
      } catch (error) {
        logger.warn(`workspace ${ws}: delete: removing the workload failed (ignored, observe shows what is left): ${describe(error)}`);
      }
      try {
        for (const job of await runtime.listJobs({ ws })) await runtime.deleteJob(job.name);
      } catch (error) {
        logger.warn(`workspace ${ws}: delete: removing storage jobs failed (ignored; their TTL removes them): ${describe(error)}`);
      }
      try {
        await runtime.deleteVolume(ws);
      } catch (error) {
        logger.warn(`workspace ${ws}: delete: removing the volume failed (ignored, observe shows what is left): ${describe(error)}`);
      }
      return { status: "in_progress", workspace_id: ws };
    });
  }

  async archive(ws: string, op: string): Promise<Accepted & { archive_key: string }> {
    return this.lock.run(ws, async () => {
      const { runtime, settings } = this.deps;
      await this.refuseWhileRunning(ws, "archive");
      const volume = await runtime.getVolume(ws);
      if (!volume || volume.terminating) {
        throw new WorkspaceError(
          "VOLUME_NOT_FOUND",
          `workspace ${ws}: archive ${op}: no volume to archive in ${runtime.where} (already archived and deleted?)`,
        );
      }
      const request = archiveJobRequest(settings, ws, op);
      const existing = (await runtime.listJobs({ ws, type: "archive" })).find((j) => j.opId === op);
      await this.runJobOnce(request, existing);
      return { status: "in_progress", workspace_id: ws, archive_key: request.archiveKey };
    });
  }

  async restore(ws: string, archiveKey: string, op: string): Promise<Accepted & { restore_marker: string }> {
    return this.lock.run(ws, async () => {
      const { runtime, store } = this.deps;
      await this.refuseWhileRunning(ws, "restore");
      if (!(await store.exists(archiveKey))) {
        throw new WorkspaceError("ARCHIVE_NOT_FOUND", `workspace ${ws}: restore ${op}: no archive ${archiveKey} in bucket ${store.bucket}`);
      }
      await this.ensureVolume(ws, "restore");
      const jobs = await runtime.listJobs({ ws, type: "restore" });
      // One restore Job per workspace: while any runs, a repeat (whatever its op) starts nothing.
      if (!jobs.some((j) => j.state === "running")) {
        await this.runJobOnce(
          { type: "restore", ws, op, archiveKey },
          jobs.find((j) => j.opId === op),
        );
      }
      return { status: "in_progress", workspace_id: ws, restore_marker: op };
    });
  }

  async upstream(ws: string): Promise<{ hostname: string; port: number; url: string }> {
    const target = await this.deps.runtime.upstream(ws);
    if (!target) throw new WorkspaceError("INSTANCE_NOT_FOUND", `workspace ${ws}: upstream: not started, nothing to route to`);
    return { hostname: target.hostname, port: target.port, url: `http://${target.hostname}:${target.port}` };
  }

  async gc(request: {
    archiveKeys: string[];
    protectedWorkspaces: Array<[string, string]>;
    retentionCount: number;
  }): Promise<{ deleted_count: number; deleted_keys: string[] }> {
    const { store, settings, logger } = this.deps;
    const stored = await store.list(settings.naming.prefix);
    const garbage = selectGarbage(settings.naming, stored, request);
    const deleted = garbage.length > 0 ? await store.deleteMany(garbage) : [];
    logger.info(`gc: ${deleted.length} objects deleted of ${stored.length} listed`);
    return { deleted_count: deleted.length, deleted_keys: deleted };
  }

  async deleteArchive(key: string): Promise<{ deleted: boolean; archive_key: string }> {
    const { store } = this.deps;
    const existed = await store.exists(key);
    if (existed) await store.delete(key);
    return { deleted: existed, archive_key: key };
  }

  /** The earlier API's `DELETE /volumes/{id}`: the volume only, errors reported (it answered 200 or 500). */
  async deleteVolume(ws: string): Promise<void> {
    await this.lock.run(ws, () => this.deps.runtime.deleteVolume(ws));
  }

  async volumeExists(ws: string): Promise<boolean> {
    const volume = await this.deps.runtime.getVolume(ws);
    return volume !== undefined && !volume.terminating;
  }

  /** The earlier API's blocking job call: runs the Job (once) and waits for it to finish. */
  async runJobAndWait(request: JobRequest, timeoutMs: number): Promise<{ exit_code: number; logs: string }> {
    const { runtime } = this.deps;
    if (request.type === "archive") await this.archive(request.ws, request.op);
    else await this.restore(request.ws, request.archiveKey, request.op);
    const name = jobName(this.settings.naming, request.type, request.ws, request.op);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = (await runtime.listJobs({ ws: request.ws, type: request.type })).find((j) => j.name === name);
      if (!job) return { exit_code: 1, logs: `job ${name} is gone (removed before it was seen finished)` };
      if (job.state !== "running") {
        const logs = await runtime.jobLogs(name).catch((error: unknown) => `(no logs: ${describe(error)})`);
        return { exit_code: job.state === "succeeded" ? 0 : (job.exitCode ?? 1), logs };
      }
      if (Date.now() > deadline) return { exit_code: 124, logs: `job ${name} still running after ${Math.round(timeoutMs / 1000)} s` };
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  /**
   * Creates the Job unless the same (workspace, type, op) already has one
   * that runs or succeeded; a failed one is replaced (a retry, as Docker
   * starts a new helper container; the script skips work already done).
   */
  private async runJobOnce(request: JobRequest, existing: JobFact | undefined): Promise<void> {
    const { runtime, logger } = this.deps;
    if (existing && existing.state !== "failed") return;
    if (existing) {
      logger.info(`workspace ${request.ws}: ${request.type} ${request.op}: the last attempt failed; starting it again`);
      await runtime.deleteJob(existing.name);
      await waitUntil(async () => !(await runtime.jobExists(existing.name)), 20_000);
    }
    const created = await runtime.createJob(request);
    if (created === "created") logger.info(`workspace ${request.ws}: ${request.type} ${request.op}: job started (${request.archiveKey})`);
  }

  /** Archive and restore need the volume to themselves: refused while the workspace is started or its pod still runs. */
  private async refuseWhileRunning(ws: string, step: string): Promise<void> {
    if (await this.deps.runtime.isRunning(ws)) {
      throw new WorkspaceError("CONTAINER_RUNNING", `workspace ${ws}: ${step}: the workspace is running; stop it first`);
    }
  }

  /** true when it created the claim; waits out a claim being deleted first. */
  private async ensureVolume(ws: string, step: string): Promise<boolean> {
    const { runtime } = this.deps;
    const volume = await runtime.getVolume(ws);
    if (volume && !volume.terminating) return false;
    if (volume?.terminating) {
      const gone = await waitUntil(async () => (await runtime.getVolume(ws)) === undefined, VOLUME_GONE_WAIT_MS);
      if (!gone) {
        throw new WorkspaceError(
          "VOLUME_IN_USE",
          `workspace ${ws}: ${step}: the old volume is still being deleted (a pod or job still uses it); try again when observe no longer lists it`,
        );
      }
    }
    return (await runtime.createVolume(ws)) === "created";
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return check();
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
