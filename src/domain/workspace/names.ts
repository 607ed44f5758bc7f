// Names, labels and S3 keys of a workspace (notes/agent-api.md §4, §6). Ids
// arrive from the network and become Kubernetes object names, label values
// and S3 key segments, so every one is checked here before anything uses it.
import { createHash } from "node:crypto";
import { WorkspaceInputError } from "./errors.js";

export const DEFAULT_RESOURCE_PREFIX = "codehub-ws-";
export const DEFAULT_ARCHIVE_SUFFIX = "home.tar.zst";
export const META_SUFFIX = ".meta";
export const RESTORE_MARKER = ".restore_marker";
export const RESTORE_ERROR = ".restore_error";
export const VOLUME_ORIGIN = ".volume_origin";
export const ARCHIVE_ERROR = ".error";

/** Labels on every object the agent creates; observe finds them by these. */
export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  component: "app.kubernetes.io/component",
  workspaceId: "codehub.workspace_id",
  jobType: "codehub.job_type",
  archiveOpId: "codehub.archive_op_id",
  restoreOpId: "codehub.restore_op_id",
} as const;
export const MANAGED_BY = "k8s-sandbox-agent";

/**
 * A workspace id: lower-case letters, digits and inner dashes (a uuid4, as
 * code-hub sends, fits). Limited to 40 characters so that `<prefix><id>-home`
 * and the Service name stay within the 63 characters of a DNS label.
 */
const WORKSPACE_ID = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
/** An op id is a label value and one S3 key segment: no slash, no dot-only segment, at most 63. */
const OP_ID = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

export function validateWorkspaceId(value: unknown, field = "workspace_id"): string {
  if (typeof value !== "string" || !WORKSPACE_ID.test(value)) {
    throw new WorkspaceInputError(
      field,
      `${quote(value)} is not a workspace id: use 1-40 lower-case letters, digits and inner dashes (a uuid4 fits)`,
    );
  }
  return value;
}

export function validateOpId(value: unknown, field: string): string {
  if (typeof value !== "string" || !OP_ID.test(value)) {
    throw new WorkspaceInputError(
      field,
      `${quote(value)} is not an operation id: use 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
    );
  }
  return value;
}

/** An image reference goes into a Pod spec only: the characters of `host:port/path:tag@sha256:hex`, capped. */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}$/;

export function validateImage(value: unknown, field = "image"): string {
  if (typeof value !== "string" || !IMAGE.test(value)) {
    throw new WorkspaceInputError(field, `${quote(value)} is not an image reference`);
  }
  return value;
}

function quote(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return JSON.stringify((text ?? String(value)).slice(0, 80));
}

export interface Naming {
  prefix: string;
  archiveSuffix: string;
}

export const defaultNaming: Naming = { prefix: DEFAULT_RESOURCE_PREFIX, archiveSuffix: DEFAULT_ARCHIVE_SUFFIX };

/** The prefix becomes the start of Kubernetes names: a DNS label start, ending in '-'. */
export function validateNaming(naming: Naming): Naming {
  if (!/^[a-z]([a-z0-9-]{0,20})-$/.test(naming.prefix)) {
    throw new Error(
      `AGENT_RUNTIME_RESOURCE_PREFIX ${JSON.stringify(naming.prefix)} must be 2-22 lower-case letters, digits or dashes, start with a letter and end with '-'`,
    );
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(naming.archiveSuffix)) {
    throw new Error(`AGENT_RUNTIME_ARCHIVE_SUFFIX ${JSON.stringify(naming.archiveSuffix)} must be a plain file name`);
  }
  return naming;
}

export function workloadName(naming: Naming, ws: string): string {
  return `${naming.prefix}${ws}`;
}

export function volumeName(naming: Naming, ws: string): string {
  return `${naming.prefix}${ws}-home`;
}

/**
 * Job names are fixed by (workspace, type, op) so that a repeat finds the
 * same Job instead of creating a second one, also after an agent restart.
 * A digest keeps them short whatever the ids' lengths.
 */
export function jobName(naming: Naming, type: JobType, ws: string, op: string): string {
  const digest = createHash("sha256").update(`${ws}/${op}`).digest("hex").slice(0, 16);
  return `${naming.prefix}job-${type}-${digest}`;
}

export type JobType = "archive" | "restore";

export function workspaceLabels(ws: string, component: "workspace" | "volume" | "job"): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: component, [LABELS.workspaceId]: ws };
}

export function archiveKey(naming: Naming, ws: string, op: string): string {
  return `${naming.prefix}${ws}/${op}/${naming.archiveSuffix}`;
}

export function workspaceKeyPrefix(naming: Naming, ws: string): string {
  return `${naming.prefix}${ws}/`;
}

export interface ArchiveKeyParts {
  workspaceId: string;
  opId: string;
}

/** The workspace and op of a key of the form `<prefix><ws>/<op>/<suffix>`, or undefined. */
export function parseArchiveKey(naming: Naming, key: string): ArchiveKeyParts | undefined {
  if (!key.startsWith(naming.prefix)) return undefined;
  const parts = key.slice(naming.prefix.length).split("/");
  if (parts.length !== 3 || parts[2] !== naming.archiveSuffix) return undefined;
  const [workspaceId = "", opId = ""] = parts;
  if (!WORKSPACE_ID.test(workspaceId) || !OP_ID.test(opId)) return undefined;
  return { workspaceId, opId };
}

/** An archive key from a request body: it must name an archive under our prefix, with safe ids. */
export function validateArchiveKey(naming: Naming, value: unknown, field = "archive_key"): string {
  if (typeof value !== "string" || parseArchiveKey(naming, value) === undefined) {
    throw new WorkspaceInputError(
      field,
      `${quote(value)} is not an archive key of this agent: expected ${naming.prefix}<workspace_id>/<op_id>/${naming.archiveSuffix}`,
    );
  }
  return value;
}

/** The workspace id a stored object belongs to (`<prefix><ws>/...`), or undefined for foreign keys. */
export function workspaceOfKey(naming: Naming, key: string): string | undefined {
  if (!key.startsWith(naming.prefix)) return undefined;
  const rest = key.slice(naming.prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  const ws = rest.slice(0, slash);
  return WORKSPACE_ID.test(ws) ? ws : undefined;
}
