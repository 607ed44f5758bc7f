// A local GitHub REST API for end-to-end tests. Every request is checked
// against GitHub's own OpenAPI description; the endpoints the engine uses keep
// state that tests can inspect. Point Octokit at it with `baseUrl: standin.url`
// (or GITHUB_API_URL).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type AppSeed, appRoutes, createAppState } from "./app-auth.js";
import type { Site } from "./factories-repo.js";
import { deploymentRoutes } from "./routes-deployments.js";
import { issueRoutes } from "./routes-issues.js";
import { repoRoutes } from "./routes-repos.js";
import { statusRoutes } from "./routes-statuses.js";
import { handle, type InjectedFailure, type Pipeline, type RecordedRequest } from "./server.js";
import { routes } from "./spec.js";
import {
  type CommentRecord,
  createPullRequest,
  fakeSha,
  type PullRequestRecord,
  type PullRequestSeed,
  type Role,
  type StandinState,
  stableId,
} from "./state.js";

export type { RecordedRequest } from "./server.js";
export type * from "./state.js";

export interface StandinOptions {
  /** `owner/name`; defaults to `Codertocat/Hello-World`, the repository of most webhook examples. */
  repository?: string;
  /** Default true. Decides the permission of users not listed in `permissions` (none, or read when public). */
  private?: boolean;
  defaultBranch?: string;
  /** Role per login (case-insensitive). */
  permissions?: Record<string, Role>;
  pullRequests?: PullRequestSeed[];
  /** Plain issue numbers that exist (pull request numbers always do). */
  issues?: number[];
  /** Branch names (with fake shas) or name-to-sha. The default branch and non-fork PR heads are always there. */
  branches?: string[] | Record<string, string>;
  /** When set, requests must carry `Authorization: token <it>` or `Bearer <it>`. */
  token?: string;
  /** Login the token acts as: the author of comments, reactions, deployments. Default `github-actions[bot]`, or `<slug>[bot]` for an App. */
  actor?: string;
  /**
   * Play GitHub for a GitHub App (app-auth.ts): the App's endpoints take its
   * JWT, everything else an installation token it minted, within the
   * installation's permissions. `token` is then not accepted.
   */
  app?: AppSeed;
  /** Default true; false answers 403 like a GITHUB_TOKEN gets. */
  canDeleteEnvironments?: boolean;
  /** Check every handler answer against the response schema (default true); a mismatch becomes a 500. */
  validateResponses?: boolean;
  rateLimit?: number;
}

export interface GitHubStandin {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /** Requests GitHub would have refused (unknown route, invalid input, credentials) or the stand-in could not serve. */
  rejected: RecordedRequest[];
  state: StandinState;
  /** Milliseconds from the call to listening, including the first load of the description. */
  startupMs: number;
  /** Answer the next `count` requests with `status` (403 as a secondary rate limit, 5xx as a server error). */
  failNext(count: number, status?: number, headers?: Record<string, string>): void;
  addPullRequest(seed: PullRequestSeed): PullRequestRecord;
  /** Comments on an issue or pull request, oldest first. */
  commentsOn(issueNumber: number): CommentRecord[];
  close(): Promise<void>;
}

function buildState(options: StandinOptions): StandinState {
  const [owner = "Codertocat", name = "Hello-World"] = (options.repository ?? "Codertocat/Hello-World").split("/");
  const defaultBranch = options.defaultBranch ?? "main";
  const repository = { owner, name, id: stableId(`repo:${owner}/${name}`), defaultBranch, private: options.private ?? true };
  const state: StandinState = {
    repository,
    actor: options.actor ?? (options.app ? `${options.app.slug}[bot]` : "github-actions[bot]"),
    branches: new Map([[defaultBranch, fakeSha(`${owner}:${defaultBranch}`)]]),
    pullRequests: new Map(),
    issues: new Set(options.issues ?? []),
    permissions: new Map(Object.entries(options.permissions ?? {}).map(([login, role]) => [login.toLowerCase(), role])),
    comments: new Map(),
    reactions: new Map(),
    deployments: [],
    statuses: new Map(),
    environments: new Map(),
    deletedEnvironments: [],
    deletedDeployments: [],
    canDeleteEnvironments: options.canDeleteEnvironments ?? true,
    rateLimit: { limit: options.rateLimit ?? 5000, used: 0, reset: Math.floor(Date.now() / 1000) + 3600 },
    dispatches: [],
    ...(options.app ? { app: createAppState(options.app) } : {}),
  };
  const branches = options.branches ?? [];
  const entries = Array.isArray(branches) ? branches.map((b) => [b, fakeSha(`${owner}:${b}`)] as const) : Object.entries(branches);
  for (const [branch, sha] of entries) state.branches.set(branch, sha);
  for (const seed of options.pullRequests ?? []) addPullRequest(state, seed);
  return state;
}

function addPullRequest(state: StandinState, seed: PullRequestSeed): PullRequestRecord {
  const pr = createPullRequest(seed, state.repository);
  state.pullRequests.set(pr.number, pr);
  // A fork's branch lives in the fork, not here.
  if (!pr.fork) state.branches.set(pr.headRef, pr.headSha);
  return pr;
}

function failureFor(status: number, headers: Record<string, string> | undefined): InjectedFailure {
  if (status === 403 || status === 429) {
    return {
      status,
      headers: { "retry-after": "1", ...headers },
      body: {
        message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        status: String(status),
      },
    };
  }
  return { status, headers: { ...headers }, body: { message: "Server Error", status: String(status) } };
}

export async function startGitHubStandin(options: StandinOptions = {}): Promise<GitHubStandin> {
  const started = performance.now();
  routes(); // parse the description now, not inside the first request
  const state = buildState(options);
  const site: Site = { api: "http://127.0.0.1", repository: state.repository };
  const pipeline: Pipeline = {
    site,
    state,
    handlers: { ...issueRoutes, ...deploymentRoutes, ...repoRoutes, ...statusRoutes, ...(options.app ? appRoutes : {}) },
    token: options.token,
    validateResponses: options.validateResponses ?? true,
    failures: [],
    requests: [],
    rejected: [],
  };
  const server = createServer((request, response) => {
    handle(pipeline, request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  site.api = `http://127.0.0.1:${port}`;
  return {
    url: site.api,
    requests: pipeline.requests,
    rejected: pipeline.rejected,
    state,
    startupMs: performance.now() - started,
    failNext(count, status = 502, headers) {
      for (let i = 0; i < count; i++) pipeline.failures.push(failureFor(status, headers));
    },
    addPullRequest: (seed) => addPullRequest(state, seed),
    commentsOn: (issueNumber) => state.comments.get(issueNumber) ?? [],
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
