// Commit statuses (the engine records a maintainer's approval of one fork
// commit as one), labels taken off a pull request, and who the token is.
import { nodeId, repoApi, type Site, simpleUser, labelObject } from "./factories-repo.js";
import { created, forbidden, type Handler, notFound, paginate } from "./replies.js";
import { type CommitStatusRecord, nextId, now } from "./state.js";

function statusObject(site: Site, status: CommitStatusRecord): Record<string, unknown> {
  const user = simpleUser(site, status.author);
  return {
    url: `${repoApi(site)}/statuses/${status.sha}`,
    avatar_url: user.avatar_url,
    id: status.id,
    node_id: nodeId("StatusContext", status.id),
    state: status.state,
    description: status.description,
    target_url: status.targetUrl,
    context: status.context,
    created_at: status.createdAt,
    updated_at: status.createdAt,
    creator: user,
  };
}

const createStatus: Handler = (context) => {
  const sha = context.params.sha as string;
  const body = context.body as {
    state: CommitStatusRecord["state"];
    context?: string;
    description?: string | null;
    target_url?: string | null;
  };
  const status: CommitStatusRecord = {
    id: nextId(),
    sha,
    state: body.state,
    context: body.context ?? "default",
    description: body.description ?? null,
    targetUrl: body.target_url ?? null,
    author: context.state.actor,
    createdAt: now(),
  };
  const list = context.state.statuses.get(sha) ?? [];
  list.push(status);
  context.state.statuses.set(sha, list);
  return created(`${repoApi(context.site)}/statuses/${sha}`, statusObject(context.site, status));
};

const listStatuses: Handler = (context) => {
  const ref = context.params.ref as string;
  // A branch name reads its head's statuses, as on GitHub.
  const sha = context.state.branches.get(ref) ?? ref;
  const newestFirst = [...(context.state.statuses.get(sha) ?? [])].reverse();
  return paginate(context, newestFirst, (s) => statusObject(context.site, s));
};

const removeLabel: Handler = (context) => {
  const pr = context.state.pullRequests.get(context.params.issue_number as number);
  if (!pr) return notFound(context);
  const name = context.params.name as string;
  const index = pr.labels.indexOf(name);
  if (index < 0) return notFound(context, "Label does not exist");
  pr.labels.splice(index, 1);
  return { status: 200, body: pr.labels.map((l) => labelObject(context.site, l)) };
};

/** GET /user: a personal token's user; the workflow token and app tokens are refused, as on GitHub. */
const authenticatedUser: Handler = (context) => {
  const login = context.state.actor;
  if (login.endsWith("[bot]")) return forbidden(context, "Resource not accessible by integration");
  return {
    status: 200,
    body: {
      ...simpleUser(context.site, login),
      name: null,
      company: null,
      blog: null,
      location: null,
      email: null,
      hireable: null,
      bio: null,
      public_repos: 0,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: "2020-01-01T00:00:00Z",
      updated_at: "2020-01-01T00:00:00Z",
    },
  };
};

export const statusRoutes: Record<string, Handler> = {
  "POST /repos/{owner}/{repo}/statuses/{sha}": createStatus,
  "GET /repos/{owner}/{repo}/commits/{ref}/statuses": listStatuses,
  "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}": removeLabel,
  "GET /user": authenticatedUser,
};
