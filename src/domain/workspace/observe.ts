// Observe (notes/agent-api.md §2, §3): what the caller sees is derived only
// from what Kubernetes and the S3 store show at this moment, so an agent
// restarted at any point answers the same. Pure: the operation gathers the
// facts, this turns them into the contract's records.
import {
  ARCHIVE_ERROR,
  type JobType,
  META_SUFFIX,
  type Naming,
  parseArchiveKey,
  RESTORE_ERROR,
  RESTORE_MARKER,
  workspaceOfKey,
} from "./names.js";

export interface WorkloadFact {
  workspaceId: string;
  /** spec.replicas of the workspace's Deployment. */
  desiredReplicas: number;
  pods: PodFact[];
}

export interface PodFact {
  /** status.phase === "Running". */
  running: boolean;
  /** The Ready condition: the container's readiness probe passes. */
  ready: boolean;
  /** metadata.deletionTimestamp is set: it is going away. */
  terminating: boolean;
}

export interface VolumeFact {
  workspaceId: string;
  terminating: boolean;
}

export type JobState = "running" | "succeeded" | "failed";

export interface JobFact {
  name: string;
  workspaceId: string;
  type: JobType;
  opId: string;
  state: JobState;
  /** When it finished (ISO-8601), for a failed job's error record. */
  finishedAt?: string;
  /** The storage script's exit code, when Kubernetes reports one. */
  exitCode?: number;
}

export interface StoredObject {
  key: string;
  lastModified: Date;
  etag?: string;
}

export interface ContainerRecord {
  running: boolean;
  healthy: boolean;
}

export interface ErrorRecord {
  operation: JobType;
  error_code: number;
  error_at: string;
  archive_op_id: string | null;
  restore_op_id: string | null;
}

export interface WorkspaceRecord {
  workspace_id: string;
  container: ContainerRecord | null;
  volume: { exists: boolean } | null;
  archive: { exists: boolean; archive_key: string | null } | null;
  restore: { restore_op_id: string; archive_key: string } | null;
  error: ErrorRecord | null;
}

export interface ObserveFacts {
  workloads: WorkloadFact[];
  volumes: VolumeFact[];
  jobs: JobFact[];
  objects: StoredObject[];
  /** Parsed JSON of the marker objects named by markerKeys(), by key; missing or unreadable ones are absent. */
  markers: Map<string, unknown>;
}

/** The small JSON objects observe must read: restore markers and error markers. */
export function markerKeys(naming: Naming, objects: StoredObject[]): string[] {
  return objects
    .filter((o) => workspaceOfKey(naming, o.key) !== undefined)
    .filter((o) => o.key.endsWith(`/${RESTORE_MARKER}`) || o.key.endsWith(`/${RESTORE_ERROR}`) || o.key.endsWith(`/${ARCHIVE_ERROR}`))
    .map((o) => o.key);
}

/**
 * container: null when there is no Deployment, or it is scaled to zero and
 * its pods are gone (Docker removes a stopped container, so the caller reads
 * null as "stopped"). running = a live pod in phase Running; healthy = that
 * pod is Ready (its probe), never a copy of running.
 */
export function containerRecord(workload: WorkloadFact | undefined): ContainerRecord | null {
  if (!workload) return null;
  const live = workload.pods.filter((p) => !p.terminating);
  if (workload.desiredReplicas === 0 && workload.pods.length === 0) return null;
  if (workload.desiredReplicas === 0) return { running: false, healthy: false };
  return { running: live.some((p) => p.running), healthy: live.some((p) => p.running && p.ready) };
}

/** Complete archives (tar and .meta) of one workspace, newest first by the tar's LastModified. */
export function completeArchives(naming: Naming, objects: StoredObject[], ws: string): StoredObject[] {
  const keys = new Set(objects.map((o) => o.key));
  return objects
    .filter((o) => parseArchiveKey(naming, o.key)?.workspaceId === ws && keys.has(`${o.key}${META_SUFFIX}`))
    .sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime() || (a.key < b.key ? 1 : -1));
}

export function observeWorkspaces(naming: Naming, facts: ObserveFacts): WorkspaceRecord[] {
  const ids = new Set<string>();
  for (const w of facts.workloads) ids.add(w.workspaceId);
  for (const v of facts.volumes) ids.add(v.workspaceId);
  for (const j of facts.jobs) ids.add(j.workspaceId);
  const objectsByWs = new Map<string, StoredObject[]>();
  for (const o of facts.objects) {
    const ws = workspaceOfKey(naming, o.key);
    if (ws === undefined) continue;
    ids.add(ws);
    const list = objectsByWs.get(ws) ?? [];
    list.push(o);
    objectsByWs.set(ws, list);
  }
  return [...ids].sort().map((ws) => {
    const objects = objectsByWs.get(ws) ?? [];
    const volume = facts.volumes.find((v) => v.workspaceId === ws && !v.terminating);
    const newest = completeArchives(naming, objects, ws)[0];
    const restore = restoreRecord(facts.markers.get(`${naming.prefix}${ws}/${RESTORE_MARKER}`));
    return {
      workspace_id: ws,
      container: containerRecord(facts.workloads.find((w) => w.workspaceId === ws)),
      volume: volume ? { exists: true } : null,
      archive: newest ? { exists: true, archive_key: newest.key } : null,
      restore: restore ? { restore_op_id: restore.restore_op_id, archive_key: restore.archive_key } : null,
      error: errorRecord(
        naming,
        ws,
        objects,
        facts.jobs.filter((j) => j.workspaceId === ws),
        facts.markers,
        newest,
        restore,
      ),
    };
  });
}

interface RestoreMarker {
  restore_op_id: string;
  archive_key: string;
  restored_at?: string;
}

function restoreRecord(value: unknown): RestoreMarker | undefined {
  if (!value || typeof value !== "object") return undefined;
  const { restore_op_id, archive_key, restored_at } = value as Record<string, unknown>;
  if (typeof restore_op_id !== "string" || typeof archive_key !== "string") return undefined;
  return { restore_op_id, archive_key, restored_at: typeof restored_at === "string" ? restored_at : undefined };
}

/**
 * The newest failure that no later success of the same operation has
 * superseded: the storage script's markers (`<op>/.error`, `.restore_error`),
 * and Jobs that failed without writing one (killed by their deadline, image
 * not pullable), which would otherwise leave the caller waiting forever.
 */
function errorRecord(
  naming: Naming,
  ws: string,
  objects: StoredObject[],
  jobs: JobFact[],
  markers: Map<string, unknown>,
  newestArchive: StoredObject | undefined,
  restore: RestoreMarker | undefined,
): ErrorRecord | null {
  const candidates: ErrorRecord[] = [];
  const markedOps = new Set<string>();
  for (const o of objects) {
    const parsed = markerError(markers.get(o.key), o);
    if (!parsed) continue;
    if (o.key.endsWith(`/${ARCHIVE_ERROR}`)) {
      const op = o.key.slice(naming.prefix.length + ws.length + 1, -(ARCHIVE_ERROR.length + 1));
      markedOps.add(`archive/${op}`);
      candidates.push({ ...parsed, operation: "archive", archive_op_id: parsed.archive_op_id ?? op, restore_op_id: null });
    } else if (o.key === `${naming.prefix}${ws}/${RESTORE_ERROR}`) {
      if (parsed.restore_op_id) markedOps.add(`restore/${parsed.restore_op_id}`);
      candidates.push({ ...parsed, operation: "restore", archive_op_id: null });
    }
  }
  for (const job of jobs) {
    if (job.state !== "failed" || markedOps.has(`${job.type}/${job.opId}`)) continue;
    candidates.push({
      operation: job.type,
      error_code: job.exitCode ?? 1,
      error_at: job.finishedAt ?? new Date(0).toISOString(),
      archive_op_id: job.type === "archive" ? job.opId : null,
      restore_op_id: job.type === "restore" ? job.opId : null,
    });
  }
  const lastArchive = newestArchive?.lastModified.getTime() ?? Number.NEGATIVE_INFINITY;
  const lastRestore = restore?.restored_at ? Date.parse(restore.restored_at) : Number.NEGATIVE_INFINITY;
  const current = candidates.filter((c) => Date.parse(c.error_at) > (c.operation === "archive" ? lastArchive : lastRestore));
  current.sort((a, b) => Date.parse(b.error_at) - Date.parse(a.error_at));
  return current[0] ?? null;
}

function markerError(value: unknown, object: StoredObject): Omit<ErrorRecord, "operation"> | undefined {
  if (!value || typeof value !== "object") return undefined;
  const v = value as Record<string, unknown>;
  const code = typeof v.error_code === "number" ? v.error_code : Number.parseInt(String(v.error_code ?? ""), 10);
  const at = typeof v.error_at === "string" && !Number.isNaN(Date.parse(v.error_at)) ? v.error_at : object.lastModified.toISOString();
  return {
    error_code: Number.isFinite(code) ? Math.trunc(code) : 1,
    error_at: at,
    archive_op_id: typeof v.archive_op_id === "string" ? v.archive_op_id : null,
    restore_op_id: typeof v.restore_op_id === "string" ? v.restore_op_id : null,
  };
}
