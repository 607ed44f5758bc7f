// The dashboard's rows, from the sandbox namespaces the watch holds. Pure:
// no I/O, the clock passed in. Everything here that came from a user
// (branch names, commit text, errors, evidence) stays plain data; the page
// only ever puts it into the DOM as text. Links are built here from parts
// that are checked, so no annotation can make the page link to
// `javascript:` or anywhere but GitHub and the sandbox's own http(s) URL.
import { formatTimestamp } from "../../domain/expiry.js";
import { type NamespaceLike, readSandboxRecord, type SandboxRecord } from "../../domain/metadata.js";
import { type FailureFacts, failureFacts, relative } from "../../domain/report.js";

export interface Link {
  text: string;
  /** Only ever an http(s) URL; absent when one cannot be built safely. */
  href?: string;
}

export interface OperationRow {
  at: string;
  when: string;
  operation: string;
  result: string;
  commit?: string;
  step?: string;
  by?: string;
}

/** The states the page colours; anything else recorded shows as "unknown" with its text. */
export const STATES = ["deploying", "ready", "failed", "destroying", "deleting", "unknown"] as const;
export type RowState = (typeof STATES)[number];

export interface DashboardRow {
  key: string;
  namespace: string;
  repository?: Link;
  branch?: Link;
  pullRequest?: Link;
  commit?: Link;
  /** The preview's address, when it is an http(s) URL. */
  url?: string;
  state: RowState;
  /** What the namespace says, as written (may be a state this version does not know). */
  status: string;
  createdAt?: string;
  age?: string;
  expiresAt?: string;
  expires?: string;
  keep: boolean;
  lastResult?: string;
  /** Newest first. */
  operations: OperationRow[];
  /** The last failure as the PR comment shows it (domain/report.ts). */
  failure?: FailureFacts;
  /** Annotations that were present but unreadable. */
  problems?: string[];
}

const KNOWN_STATES: ReadonlySet<string> = new Set(["deploying", "ready", "failed", "destroying"]);
// GitHub's own rules for owner and repository names.
const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
const COMMIT = /^[0-9a-f]{7,64}$/;

/**
 * GitHub's web address for its REST API's: api.github.com → github.com,
 * GitHub Enterprise Server's https://host/api/v3 → https://host; anything
 * else (a stand-in) is taken as both.
 */
export function githubWebUrl(apiUrl: string | undefined): string {
  if (!apiUrl) return "https://github.com";
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return "https://github.com";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "https://github.com";
  if (url.hostname === "api.github.com") return "https://github.com";
  return `${url.origin}${url.pathname.replace(/\/api\/v3\/?$/, "").replace(/\/$/, "")}`;
}

/** One row per sandbox namespace under `prefix`, newest first. */
export function dashboardRows(
  namespaces: readonly NamespaceLike[],
  options: { prefix: string; now: Date; githubUrl: string },
): DashboardRow[] {
  const rows: DashboardRow[] = [];
  for (const ns of namespaces) {
    const row = dashboardRow(ns, options);
    if (row) rows.push(row);
  }
  return rows.sort(newestFirst);
}

export function newestFirst(a: DashboardRow, b: DashboardRow): number {
  return (b.createdAt ?? "").localeCompare(a.createdAt ?? "") || a.key.localeCompare(b.key);
}

/** Undefined for a namespace that is not one of our sandboxes under `prefix`. */
export function dashboardRow(ns: NamespaceLike, options: { prefix: string; now: Date; githubUrl: string }): DashboardRow | undefined {
  if (!ns.name.startsWith(options.prefix)) return undefined;
  const record = readSandboxRecord(ns);
  if (!record) return undefined;
  const { now } = options;
  const repoBase = record.repo && REPOSITORY.test(record.repo) ? `${options.githubUrl}/${record.repo}` : undefined;
  const row: DashboardRow = {
    key: record.key,
    namespace: record.namespace,
    state: stateOf(record),
    status: record.terminating ? "deleting" : (record.status ?? "unknown"),
    keep: record.keep,
    operations: (record.history ?? [])
      .map((entry) => ({
        at: formatTimestamp(entry.at),
        when: relative(entry.at, now),
        operation: entry.operation,
        result: entry.result,
        ...(entry.commit ? { commit: entry.commit.slice(0, 12) } : {}),
        ...(entry.step ? { step: entry.step } : {}),
        ...(entry.by ? { by: entry.by } : {}),
      }))
      .reverse(),
  };
  if (record.repo) row.repository = link(record.repo, repoBase);
  if (record.branch)
    row.branch = link(record.branch, repoBase && `${repoBase}/tree/${record.branch.split("/").map(encodeURIComponent).join("/")}`);
  if (record.pullRequest !== undefined)
    row.pullRequest = link(`#${record.pullRequest}`, repoBase && `${repoBase}/pull/${record.pullRequest}`);
  if (record.commit) {
    const sha = record.commit.toLowerCase();
    row.commit = link(record.commit.slice(0, 12), repoBase && COMMIT.test(sha) ? `${repoBase}/commit/${sha}` : undefined);
  }
  const url = httpUrl(record.url);
  if (url) row.url = url;
  if (record.createdAt) {
    row.createdAt = formatTimestamp(record.createdAt);
    row.age = age(record.createdAt, now);
  }
  if (record.expiresAt) {
    row.expiresAt = formatTimestamp(record.expiresAt);
    row.expires = record.keep ? "kept (never swept)" : relative(record.expiresAt, now);
  }
  if (record.lastResult) row.lastResult = record.lastResult;
  if (record.status === "failed" && record.lastError) {
    row.failure = failureFacts({ step: record.lastStep, message: record.lastError, hint: record.lastHint, evidence: record.lastEvidence });
  }
  if (record.problems) row.problems = record.problems;
  return row;
}

function stateOf(record: SandboxRecord): RowState {
  if (record.terminating) return "deleting";
  return record.status && KNOWN_STATES.has(record.status) ? (record.status as RowState) : "unknown";
}

function link(text: string, href: string | undefined): Link {
  return href ? { text, href } : { text };
}

/** The URL itself when it is http(s), else nothing: an annotation is not trusted to be one. */
export function httpUrl(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** "3h ago" reads as age "3h". */
function age(since: Date, now: Date): string {
  const text = relative(since, now);
  return text.endsWith(" ago") ? text.slice(0, -4) : text === "now" ? "just now" : text;
}
