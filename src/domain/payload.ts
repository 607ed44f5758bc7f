// Defensive readers for GitHub payloads. A payload is untrusted JSON: any
// field may be missing, null or of the wrong type, and a reader returns
// undefined rather than throwing so the planner can skip with a reason.

export type Json = Record<string, unknown>;

/** Git refs and logins are short; anything longer is not a real one. */
export const MAX_NAME = 1024;

export function obj(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** A non-empty string of sane length. */
export function str(value: unknown, max = MAX_NAME): string | undefined {
  return typeof value === "string" && value !== "" && value.length <= max ? value : undefined;
}

export function posInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** A full commit id (SHA-1 or SHA-256); anything else is dropped, never passed on to tags or tools. */
export function sha(value: unknown): string | undefined {
  return typeof value === "string" && /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(value) && !/^0+$/.test(value) ? value : undefined;
}

export function sameRepo(a: string, b: string): boolean {
  // GitHub owner and repository names are case-insensitive.
  return a.toLowerCase() === b.toLowerCase();
}

export interface PullRequestFacts {
  number: number;
  branch: string;
  commit?: string;
  /** `owner/name` of the head; undefined when the fork was deleted. */
  headRepo?: string;
  baseRepo?: string;
  fork: boolean;
  labels: string[];
  state?: string;
  draft: boolean;
  merged: boolean;
}

/**
 * The facts the planner needs from a pull request object. The webhook's
 * `pull_request` and the REST API's pull request share this shape, so
 * comment-triggered plans resolve through the same code as PR events.
 */
export function readPullRequest(value: unknown, repository: string): PullRequestFacts | string {
  const pr = obj(value);
  if (!pr) return "the payload has no pull request object";
  const number = posInt(pr.number);
  if (number === undefined) return "the pull request has no valid number";
  const head = obj(pr.head);
  const branch = str(head?.ref);
  if (!branch) return `pull request #${number} has no valid head branch`;
  const headRepo = str(obj(head?.repo)?.full_name, 200);
  const baseRepo = str(obj(obj(pr.base)?.repo)?.full_name, 200);
  const labels = Array.isArray(pr.labels) ? pr.labels.map((l) => str(obj(l)?.name, 200)).filter((l): l is string => !!l) : [];
  return {
    number,
    branch,
    commit: sha(head?.sha),
    headRepo,
    baseRepo,
    // A deleted fork has no head repo: still someone else's code.
    fork: headRepo === undefined || !sameRepo(headRepo, baseRepo ?? repository),
    labels,
    state: str(pr.state, 20),
    draft: pr.draft === true,
    merged: pr.merged === true,
  };
}
