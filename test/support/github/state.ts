// What the stand-in remembers between requests. Tests read it directly to
// assert on effects (which comments exist now, which statuses a deployment got).
import { createHash } from "node:crypto";
import type { AppState } from "./app-auth.js";

export type Role = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface PullRequestSeed {
  number: number;
  headRef: string;
  /** Defaults to a stable fake sha derived from the branch name. */
  headSha?: string;
  baseRef?: string;
  state?: "open" | "closed";
  merged?: boolean;
  draft?: boolean;
  /** Head lives in another owner's fork of the repository. */
  fork?: boolean;
  /** Owner of the fork (default `fork-owner`); the PR author unless `author` says otherwise. */
  forkOwner?: string;
  labels?: string[];
  title?: string;
  body?: string | null;
  author?: string;
}

export interface PullRequestRecord {
  id: number;
  number: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  merged: boolean;
  draft: boolean;
  headRef: string;
  headSha: string;
  headOwner: string;
  baseRef: string;
  fork: boolean;
  labels: string[];
  author: string;
  createdAt: string;
  updatedAt: string;
}

export interface CommentRecord {
  id: number;
  issueNumber: number;
  body: string;
  author: string;
  createdAt: string;
  updatedAt: string;
}

export type ReactionContent = "+1" | "-1" | "laugh" | "confused" | "heart" | "hooray" | "rocket" | "eyes";

export interface ReactionRecord {
  id: number;
  commentId: number;
  content: ReactionContent;
  author: string;
  createdAt: string;
}

export type DeploymentState = "error" | "failure" | "inactive" | "pending" | "success" | "queued" | "in_progress";

export interface DeploymentStatusRecord {
  id: number;
  state: DeploymentState;
  description: string;
  environment: string;
  environmentUrl: string;
  logUrl: string;
  targetUrl: string;
  author: string;
  createdAt: string;
}

export interface DeploymentRecord {
  id: number;
  ref: string;
  sha: string;
  task: string;
  payload: Record<string, unknown> | string;
  environment: string;
  originalEnvironment: string;
  description: string | null;
  transient: boolean;
  production: boolean;
  author: string;
  createdAt: string;
  updatedAt: string;
  /** Oldest first (the API lists them newest first). */
  statuses: DeploymentStatusRecord[];
}

/** A commit status (`POST /statuses/{sha}`), e.g. the engine's approval of a fork's commit. */
export interface CommitStatusRecord {
  id: number;
  sha: string;
  state: "error" | "failure" | "pending" | "success";
  context: string;
  description: string | null;
  targetUrl: string | null;
  author: string;
  createdAt: string;
}

export interface EnvironmentRecord {
  id: number;
  name: string;
  createdAt: string;
  updatedAt: string;
}

export interface RepositoryInfo {
  owner: string;
  name: string;
  id: number;
  defaultBranch: string;
  private: boolean;
}

export interface StandinState {
  repository: RepositoryInfo;
  /** Login of whoever the token belongs to: the author of everything the client creates. */
  actor: string;
  branches: Map<string, string>;
  pullRequests: Map<number, PullRequestRecord>;
  /** Plain issue numbers that exist besides the pull requests. */
  issues: Set<number>;
  permissions: Map<string, Role>;
  /** Comments per issue or pull request number, oldest first. */
  comments: Map<number, CommentRecord[]>;
  /** Reactions per comment id. */
  reactions: Map<number, ReactionRecord[]>;
  deployments: DeploymentRecord[];
  /** Commit statuses per sha, oldest first (the API lists them newest first). */
  statuses: Map<string, CommitStatusRecord[]>;
  environments: Map<string, EnvironmentRecord>;
  deletedEnvironments: string[];
  deletedDeployments: number[];
  /** When false, deleting an environment answers 403 like it does for a GITHUB_TOKEN. */
  canDeleteEnvironments: boolean;
  rateLimit: { limit: number; used: number; reset: number };
  /** workflow_dispatch requests, oldest first. */
  dispatches: { workflow: string; ref: string; inputs: Record<string, unknown> }[];
  /** Set when the stand-in plays GitHub for a GitHub App (app-auth.ts). */
  app?: AppState;
}

let idCounter = 1_000;
/** Ids are unique across the process so records of two stand-ins never collide. */
export function nextId(): number {
  idCounter += 1;
  return idCounter;
}

/** GitHub's timestamps carry seconds, not milliseconds. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function fakeSha(seed: string): string {
  return createHash("sha1").update(seed).digest("hex");
}

export function stableId(seed: string): number {
  return (Number.parseInt(fakeSha(seed).slice(0, 8), 16) % 90_000_000) + 1_000_000;
}

export function createPullRequest(seed: PullRequestSeed, repository: RepositoryInfo): PullRequestRecord {
  const created = now();
  const fork = seed.fork === true;
  const forkOwner = seed.forkOwner ?? "fork-owner";
  return {
    id: nextId(),
    number: seed.number,
    title: seed.title ?? `Change ${seed.headRef}`,
    body: seed.body === undefined ? null : seed.body,
    state: seed.state ?? "open",
    merged: seed.merged ?? false,
    draft: seed.draft ?? false,
    headRef: seed.headRef,
    headSha: seed.headSha ?? fakeSha(`${fork ? forkOwner : repository.owner}:${seed.headRef}`),
    headOwner: fork ? forkOwner : repository.owner,
    baseRef: seed.baseRef ?? repository.defaultBranch,
    fork,
    labels: [...(seed.labels ?? [])],
    author: seed.author ?? (fork ? forkOwner : "octocat"),
    createdAt: created,
    updatedAt: created,
  };
}

/** The latest status of a deployment, if any. */
export function latestStatus(deployment: DeploymentRecord): DeploymentStatusRecord | undefined {
  return deployment.statuses[deployment.statuses.length - 1];
}
