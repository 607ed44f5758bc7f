// Read-only repository facts the engine looks up: the repository, branches,
// pull requests, a user's permission, and the rate limit; and the one write
// the controller makes here: starting the repository's preview workflow.
import { collaboratorPermission, rateLimitOverview } from "./factories-activity.js";
import { branchObject, pullRequestFull, pullRequestSimple, repoApi, repositoryObject } from "./factories-repo.js";
import { type Handler, notFound, paginate } from "./replies.js";
import type { PullRequestRecord, Role } from "./state.js";

const getRepository: Handler = (context) => ({ status: 200, body: repositoryObject(context.site) });

const getBranch: Handler = (context) => {
  const name = context.params.branch as string;
  const sha = context.state.branches.get(name);
  return sha ? { status: 200, body: branchObject(context.site, name, sha) } : notFound(context, "Branch not found");
};

const listBranches: Handler = (context) => {
  const branches = [...context.state.branches.entries()].sort(([a], [b]) => a.localeCompare(b));
  // `short-branch`: name, the tip commit's sha and url, and protection (none here).
  return paginate(context, branches, ([name, sha]) => ({
    name,
    commit: { sha, url: `${repoApi(context.site)}/commits/${sha}` },
    protected: false,
  }));
};

const getPull: Handler = (context) => {
  const pr = context.state.pullRequests.get(context.params.pull_number as number);
  if (!pr) return notFound(context);
  const comments = context.state.comments.get(pr.number)?.length ?? 0;
  return { status: 200, body: pullRequestFull(context.site, pr, comments) };
};

function matchesHead(pr: PullRequestRecord, head: unknown): boolean {
  if (typeof head !== "string") return true;
  // `head` is `user:ref` (or `org:ref`); GitHub ignores a value without the owner part.
  const [owner, ...rest] = head.split(":");
  if (rest.length === 0) return true;
  return owner?.toLowerCase() === pr.headOwner.toLowerCase() && rest.join(":") === pr.headRef;
}

const listPulls: Handler = (context) => {
  const { state: wanted, base, sort, direction } = context.query;
  const key = sort === "updated" ? "updatedAt" : "createdAt";
  const ascending = direction === "asc";
  const pulls = [...context.state.pullRequests.values()]
    .filter((pr) => wanted === "all" || pr.state === (wanted ?? "open"))
    .filter((pr) => base === undefined || pr.baseRef === base)
    .filter((pr) => matchesHead(pr, context.query.head))
    .sort((a, b) => {
      const order = a[key] === b[key] ? a.number - b.number : a[key] < b[key] ? -1 : 1;
      return ascending ? order : -order;
    });
  return paginate(context, pulls, (pr) => pullRequestSimple(context.site, pr));
};

// Someone the options do not mention is an outsider: read on a public repository, nothing on a private one.
function roleOf(login: string, permissions: Map<string, Role>, isPrivate: boolean): Role {
  return permissions.get(login.toLowerCase()) ?? (isPrivate ? "none" : "read");
}

const getPermission: Handler = (context) => {
  const login = context.params.username as string;
  const role = roleOf(login, context.state.permissions, context.state.repository.private);
  return { status: 200, body: collaboratorPermission(context.site, login, role) };
};

/** Starts a workflow run on a branch: recorded for the test, which plays the run's workflow_run event itself. */
const dispatchWorkflow: Handler = (context) => {
  const body = (context.body ?? {}) as { ref?: string; inputs?: Record<string, unknown> };
  const ref = body.ref ?? "";
  if (!context.state.branches.has(ref.replace(/^refs\/heads\//, ""))) return notFound(context, `No ref found for: ${ref}`);
  context.state.dispatches.push({ workflow: String(context.params.workflow_id), ref, inputs: body.inputs ?? {} });
  return { status: 204 };
};

const getRateLimit: Handler = (context) => ({ status: 200, body: rateLimitOverview(context.state.rateLimit) });

export const repoRoutes: Record<string, Handler> = {
  "GET /repos/{owner}/{repo}": getRepository,
  "GET /repos/{owner}/{repo}/branches": listBranches,
  "GET /repos/{owner}/{repo}/branches/{branch}": getBranch,
  "GET /repos/{owner}/{repo}/pulls": listPulls,
  "GET /repos/{owner}/{repo}/pulls/{pull_number}": getPull,
  "GET /repos/{owner}/{repo}/collaborators/{username}/permission": getPermission,
  "GET /rate_limit": getRateLimit,
  "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches": dispatchWorkflow,
};
