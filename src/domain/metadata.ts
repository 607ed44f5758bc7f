// The sandbox's state, written on and read back from its namespace. Kubernetes
// is the only state store, so this is the whole schema every front door
// shares: what one writes, another must read the same way.
import { createHash } from "node:crypto";
import { formatTimestamp, parseTimestamp } from "./expiry.js";
import { InputError, quoteInput } from "./errors.js";
import { formatHistory, type OperationEntry, parseHistory } from "./history.js";
import { isValidKey } from "./identity.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "k8s-dev-sandbox";
export const KEY_LABEL = "k8s-dev-sandbox/key";
/**
 * The owning repository as a label, so ownership is part of what selects a
 * namespace, not only an annotation. Label values cannot hold `/` and stop at
 * 63 characters, so it is a digest of the lower-cased `owner/name`.
 */
export const REPO_LABEL = "k8s-dev-sandbox/repo-hash";
export const ANNOTATION_PREFIX = "k8s-dev-sandbox/";
/** Label selector that lists our namespaces and nothing else. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

export const ANNOTATIONS = {
  repo: `${ANNOTATION_PREFIX}repo`,
  branch: `${ANNOTATION_PREFIX}branch`,
  pr: `${ANNOTATION_PREFIX}pr`,
  commit: `${ANNOTATION_PREFIX}commit`,
  image: `${ANNOTATION_PREFIX}image`,
  url: `${ANNOTATION_PREFIX}url`,
  createdAt: `${ANNOTATION_PREFIX}created-at`,
  lastDeployedAt: `${ANNOTATION_PREFIX}last-deployed-at`,
  expiresAt: `${ANNOTATION_PREFIX}expires-at`,
  extendedBy: `${ANNOTATION_PREFIX}extended-by`,
  keep: `${ANNOTATION_PREFIX}keep`,
  status: `${ANNOTATION_PREFIX}status`,
  lastResult: `${ANNOTATION_PREFIX}last-result`,
  lastError: `${ANNOTATION_PREFIX}last-error`,
  lastStep: `${ANNOTATION_PREFIX}last-step`,
  /** What to do about the last failure: the hint the PR comment shows. */
  lastHint: `${ANNOTATION_PREFIX}last-hint`,
  /** The last failure's evidence (a tool's output tail, the pods' states), its end kept. */
  lastEvidence: `${ANNOTATION_PREFIX}last-evidence`,
  /** The recent operations, a JSON list (domain/history.ts). */
  history: `${ANNOTATION_PREFIX}history`,
  chart: `${ANNOTATION_PREFIX}chart`,
  valuesHash: `${ANNOTATION_PREFIX}values-hash`,
} as const;

/**
 * Result text (a tool's error can be megabytes) is cut so annotations stay far
 * below Kubernetes' 256 KiB total. Identifying fields are never cut: a
 * shortened branch name would later read as a branch that is gone.
 */
export const MAX_ANNOTATION_TEXT = 2048;
const CLIPPED: ReadonlySet<string> = new Set(["status", "lastResult", "lastError", "lastStep", "lastHint"]);
/** Evidence is read from its end (the last lines say what went wrong), so its start is what is cut. */
export const MAX_EVIDENCE_TEXT = 8192;

export interface SandboxRecord {
  key: string;
  namespace: string;
  repo?: string;
  /** The REPO_LABEL value: which repository owns the sandbox. */
  repoHash?: string;
  branch?: string;
  pullRequest?: number;
  commit?: string;
  image?: string;
  url?: string;
  createdAt?: Date;
  lastDeployedAt?: Date;
  expiresAt?: Date;
  /** Who last extended the sandbox (a GitHub login or CLI user). */
  extendedBy?: string;
  /** Exempt from the sweep. */
  keep: boolean;
  status?: string;
  lastResult?: string;
  lastError?: string;
  lastStep?: string;
  lastHint?: string;
  lastEvidence?: string;
  /** Recent operations, oldest first. */
  history?: OperationEntry[];
  chart?: string;
  valuesHash?: string;
  /** Kubernetes is already deleting the namespace. */
  terminating: boolean;
  /** The namespace's resourceVersion when read: a delete made on this reading fails if it changed since. */
  resourceVersion?: string;
  /** Annotations of ours that were present but unreadable, e.g. a hand-edited expires-at. */
  problems?: string[];
}

type Text =
  | "repo"
  | "branch"
  | "commit"
  | "image"
  | "url"
  | "extendedBy"
  | "status"
  | "lastResult"
  | "lastError"
  | "lastStep"
  | "lastHint"
  | "lastEvidence"
  | "chart"
  | "valuesHash";
const TEXT_FIELDS: readonly Text[] = [
  "repo",
  "branch",
  "commit",
  "image",
  "url",
  "extendedBy",
  "status",
  "lastResult",
  "lastError",
  "lastStep",
  "lastHint",
  "lastEvidence",
  "chart",
  "valuesHash",
];
type Time = "createdAt" | "lastDeployedAt" | "expiresAt";
const TIME_FIELDS: readonly Time[] = ["createdAt", "lastDeployedAt", "expiresAt"];

/**
 * Labels and annotations for a namespace. Only the fields given are written:
 * under server-side apply, a field we leave out is one we do not claim, so a
 * `keep` set by hand with kubectl survives our applies unless we pass `keep`.
 */
export function namespaceMetadata(record: Partial<SandboxRecord> & { key: string }): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  if (!isValidKey(record.key)) throw new InputError(`${quoteInput(record.key)} is not a valid sandbox key`);
  const labels: Record<string, string> = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [KEY_LABEL]: record.key };
  if (record.repo !== undefined) labels[REPO_LABEL] = repoHash(record.repo);
  const annotations: Record<string, string> = {};
  for (const field of TEXT_FIELDS) {
    const value = record[field];
    if (value !== undefined)
      annotations[ANNOTATIONS[field]] = field === "lastEvidence" ? clipStart(value) : CLIPPED.has(field) ? clip(value) : value;
  }
  for (const field of TIME_FIELDS) {
    const value = record[field];
    if (value !== undefined) annotations[ANNOTATIONS[field]] = formatTimestamp(value);
  }
  if (record.pullRequest !== undefined) annotations[ANNOTATIONS.pr] = String(record.pullRequest);
  if (record.keep !== undefined) annotations[ANNOTATIONS.keep] = record.keep ? "true" : "false";
  if (record.history !== undefined) annotations[ANNOTATIONS.history] = formatHistory(record.history);
  return { labels, annotations };
}

export interface NamespaceLike {
  name: string;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  creationTimestamp?: Date | string | undefined;
  deletionTimestamp?: Date | string | undefined;
  resourceVersion?: string | undefined;
}

/**
 * Read a sandbox back from its namespace. Undefined unless the namespace
 * carries our managed-by label: look-alike annotations alone never make a
 * namespace ours, so nothing built on this can touch someone else's.
 * Unreadable annotations become undefined fields listed in `problems`.
 */
export function readSandboxRecord(ns: NamespaceLike): SandboxRecord | undefined {
  if (!ns || typeof ns.name !== "string" || ns.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return undefined;
  const annotations = ns.annotations ?? {};
  const problems: string[] = [];
  const labelKey = ns.labels[KEY_LABEL];
  const record: SandboxRecord = {
    // Without a readable key label the namespace is still ours (the managed-by
    // label says so); its name is the only handle left.
    key: labelKey !== undefined && isValidKey(labelKey) ? labelKey : ns.name,
    namespace: ns.name,
    keep: annotations[ANNOTATIONS.keep]?.trim().toLowerCase() === "true",
    terminating: ns.deletionTimestamp !== undefined && ns.deletionTimestamp !== null && ns.deletionTimestamp !== "",
  };
  if (ns.resourceVersion) record.resourceVersion = ns.resourceVersion;
  if (labelKey === undefined || record.key !== labelKey) problems.push(KEY_LABEL);
  const owner = ns.labels[REPO_LABEL];
  if (typeof owner === "string" && owner !== "") record.repoHash = owner;
  for (const field of TEXT_FIELDS) {
    const value = annotations[ANNOTATIONS[field]];
    if (typeof value === "string" && value !== "") record[field] = value;
  }
  for (const field of TIME_FIELDS) {
    const value = annotations[ANNOTATIONS[field]];
    if (value === undefined) continue;
    const parsed = parseTimestamp(value.trim());
    if (parsed) record[field] = parsed;
    else problems.push(ANNOTATIONS[field]);
  }
  if (record.createdAt === undefined && ns.creationTimestamp !== undefined) {
    const created = ns.creationTimestamp instanceof Date ? ns.creationTimestamp : parseTimestamp(String(ns.creationTimestamp));
    if (created && !Number.isNaN(created.getTime())) record.createdAt = created;
  }
  const pr = annotations[ANNOTATIONS.pr];
  if (pr !== undefined && pr !== "") {
    if (/^[1-9]\d{0,15}$/.test(pr.trim()) && Number.isSafeInteger(Number(pr))) record.pullRequest = Number(pr);
    else problems.push(ANNOTATIONS.pr);
  }
  const history = annotations[ANNOTATIONS.history];
  if (history !== undefined && history !== "") {
    const entries = parseHistory(history);
    if (entries) record.history = entries;
    else problems.push(ANNOTATIONS.history);
  }
  if (problems.length > 0) record.problems = problems;
  return record;
}

/** GitHub names are case-insensitive, so the digest is of the lower-cased name. */
export function repoHash(repo: string): string {
  return createHash("sha256").update(repo.toLowerCase(), "utf8").digest("hex").slice(0, 20);
}

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

/** Pod Security Admission labels, the same level enforced, audited and warned. */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
  if (level !== "privileged" && level !== "baseline" && level !== "restricted") {
    throw new InputError(`${quoteInput(level)} is not a pod security level; use privileged, baseline or restricted`, {
      input: "pod-security",
    });
  }
  return {
    "pod-security.kubernetes.io/enforce": level,
    "pod-security.kubernetes.io/audit": level,
    "pod-security.kubernetes.io/warn": level,
  };
}

function clip(value: string): string {
  return value.length <= MAX_ANNOTATION_TEXT ? value : `${value.slice(0, MAX_ANNOTATION_TEXT - 1)}…`;
}

function clipStart(value: string): string {
  return value.length <= MAX_EVIDENCE_TEXT ? value : `…${value.slice(value.length - MAX_EVIDENCE_TEXT + 1)}`;
}
