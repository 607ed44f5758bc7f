// Response objects for users, repositories, branches and pull requests: the
// smallest realistic shapes that satisfy GitHub's response schemas.
import { fakeSha, type PullRequestRecord, type RepositoryInfo, stableId } from "./state.js";

export interface Site {
  /** Base URL of the stand-in; API URLs in responses point back at it. */
  api: string;
  repository: RepositoryInfo;
}

const HTML = "https://github.com";
const EPOCH = "2020-01-01T00:00:00Z";

export function nodeId(kind: string, id: number): string {
  return Buffer.from(`${kind}:${id}`).toString("base64").replace(/=+$/, "");
}

export function repoApi(site: Site, owner = site.repository.owner, name = site.repository.name): string {
  return `${site.api}/repos/${owner}/${name}`;
}

export function repoHtml(site: Site): string {
  return `${HTML}/${site.repository.owner}/${site.repository.name}`;
}

export function simpleUser(site: Site, login: string): Record<string, unknown> {
  const id = stableId(`user:${login}`);
  const bot = login.endsWith("[bot]");
  const api = `${site.api}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id,
    node_id: nodeId(bot ? "Bot" : "User", id),
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: "",
    url: api,
    html_url: bot ? `${HTML}/apps/${login.slice(0, -"[bot]".length)}` : `${HTML}/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: bot ? "Bot" : "User",
    user_view_type: "public",
    site_admin: false,
  };
}

/** A `full-repository` (also a valid `repository`) for the configured repository or a fork of it. */
export function repositoryObject(site: Site, fork?: { owner: string }): Record<string, unknown> {
  const info = site.repository;
  const owner = fork?.owner ?? info.owner;
  const id = fork ? stableId(`repo:${owner}/${info.name}`) : info.id;
  const api = repoApi(site, owner, info.name);
  const html = `${HTML}/${owner}/${info.name}`;
  return {
    id,
    node_id: nodeId("Repository", id),
    name: info.name,
    full_name: `${owner}/${info.name}`,
    owner: simpleUser(site, owner),
    private: info.private,
    visibility: info.private ? "private" : "public",
    html_url: html,
    description: null,
    fork: Boolean(fork),
    url: api,
    archive_url: `${api}/{archive_format}{/ref}`,
    assignees_url: `${api}/assignees{/user}`,
    blobs_url: `${api}/git/blobs{/sha}`,
    branches_url: `${api}/branches{/branch}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    comments_url: `${api}/comments{/number}`,
    commits_url: `${api}/commits{/sha}`,
    compare_url: `${api}/compare/{base}...{head}`,
    contents_url: `${api}/contents/{+path}`,
    contributors_url: `${api}/contributors`,
    deployments_url: `${api}/deployments`,
    downloads_url: `${api}/downloads`,
    events_url: `${api}/events`,
    forks_url: `${api}/forks`,
    git_commits_url: `${api}/git/commits{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_url: `git://github.com/${owner}/${info.name}.git`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    issue_events_url: `${api}/issues/events{/number}`,
    issues_url: `${api}/issues{/number}`,
    keys_url: `${api}/keys{/key_id}`,
    labels_url: `${api}/labels{/name}`,
    languages_url: `${api}/languages`,
    merges_url: `${api}/merges`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    pulls_url: `${api}/pulls{/number}`,
    releases_url: `${api}/releases{/id}`,
    ssh_url: `git@github.com:${owner}/${info.name}.git`,
    stargazers_url: `${api}/stargazers`,
    statuses_url: `${api}/statuses/{sha}`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    tags_url: `${api}/tags`,
    teams_url: `${api}/teams`,
    trees_url: `${api}/git/trees{/sha}`,
    clone_url: `${html}.git`,
    mirror_url: null,
    hooks_url: `${api}/hooks`,
    svn_url: html,
    homepage: null,
    language: "TypeScript",
    forks_count: 0,
    forks: 0,
    stargazers_count: 0,
    watchers_count: 0,
    watchers: 0,
    size: 100,
    default_branch: info.defaultBranch,
    open_issues_count: 0,
    open_issues: 0,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: true,
    has_wiki: false,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: false,
    disabled: false,
    pushed_at: EPOCH,
    created_at: EPOCH,
    updated_at: EPOCH,
    allow_forking: true,
    web_commit_signoff_required: false,
    license: null,
    subscribers_count: 1,
    network_count: 0,
  };
}

export function labelObject(site: Site, name: string): Record<string, unknown> {
  const id = stableId(`label:${name}`);
  return {
    id,
    node_id: nodeId("Label", id),
    url: `${repoApi(site)}/labels/${encodeURIComponent(name)}`,
    name,
    // The full pull request allows null here but the listed one wants a string; "" satisfies both.
    description: "",
    color: "ededed",
    default: false,
  };
}

function pullRequestBase(site: Site, pr: PullRequestRecord): Record<string, unknown> {
  const api = repoApi(site);
  const url = `${api}/pulls/${pr.number}`;
  const html = `${repoHtml(site)}/pull/${pr.number}`;
  const closedAt = pr.state === "closed" ? pr.updatedAt : null;
  const mergedAt = pr.merged ? pr.updatedAt : null;
  const link = (href: string) => ({ href });
  const baseSha = fakeSha(`${site.repository.owner}:${pr.baseRef}`);
  return {
    url,
    id: pr.id,
    node_id: nodeId("PullRequest", pr.id),
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${pr.number}`,
    commits_url: `${url}/commits`,
    review_comments_url: `${url}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${api}/issues/${pr.number}/comments`,
    statuses_url: `${api}/statuses/${pr.headSha}`,
    number: pr.number,
    state: pr.state,
    locked: false,
    title: pr.title,
    user: simpleUser(site, pr.author),
    body: pr.body,
    labels: pr.labels.map((name) => labelObject(site, name)),
    milestone: null,
    active_lock_reason: null,
    created_at: pr.createdAt,
    updated_at: pr.updatedAt,
    closed_at: closedAt,
    merged_at: mergedAt,
    merge_commit_sha: pr.merged ? fakeSha(`merge:${pr.number}`) : null,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    head: {
      label: `${pr.headOwner}:${pr.headRef}`,
      ref: pr.headRef,
      sha: pr.headSha,
      user: simpleUser(site, pr.headOwner),
      repo: repositoryObject(site, pr.fork ? { owner: pr.headOwner } : undefined),
    },
    base: {
      label: `${site.repository.owner}:${pr.baseRef}`,
      ref: pr.baseRef,
      sha: baseSha,
      user: simpleUser(site, site.repository.owner),
      repo: repositoryObject(site),
    },
    _links: {
      self: link(url),
      html: link(html),
      issue: link(`${api}/issues/${pr.number}`),
      comments: link(`${api}/issues/${pr.number}/comments`),
      review_comments: link(`${url}/comments`),
      review_comment: link(`${api}/pulls/comments{/number}`),
      commits: link(`${url}/commits`),
      statuses: link(`${api}/statuses/${pr.headSha}`),
    },
    author_association: pr.fork ? "CONTRIBUTOR" : "MEMBER",
    auto_merge: null,
    draft: pr.draft,
  };
}

/** `pull-request-simple`, as listed by `GET /pulls`. */
export function pullRequestSimple(site: Site, pr: PullRequestRecord): Record<string, unknown> {
  return pullRequestBase(site, pr);
}

/** `pull-request`, as returned by `GET /pulls/{pull_number}`. */
export function pullRequestFull(site: Site, pr: PullRequestRecord, commentCount: number): Record<string, unknown> {
  return {
    ...pullRequestBase(site, pr),
    merged: pr.merged,
    mergeable: pr.state === "open" ? true : null,
    rebaseable: pr.state === "open" ? true : null,
    mergeable_state: pr.state === "open" ? "clean" : "unknown",
    merged_by: pr.merged ? simpleUser(site, site.repository.owner) : null,
    comments: commentCount,
    review_comments: 0,
    maintainer_can_modify: pr.fork,
    commits: 1,
    additions: 1,
    deletions: 0,
    changed_files: 1,
  };
}

/** `branch-with-protection` for an unprotected branch. */
export function branchObject(site: Site, name: string, sha: string): Record<string, unknown> {
  const api = repoApi(site);
  const encoded = encodeURIComponent(name);
  const gitUser = { name: "Octo Cat", email: "octocat@github.com", date: EPOCH };
  return {
    name,
    commit: {
      sha,
      node_id: nodeId("Commit", stableId(sha)),
      url: `${api}/commits/${sha}`,
      html_url: `${repoHtml(site)}/commit/${sha}`,
      comments_url: `${api}/commits/${sha}/comments`,
      commit: {
        url: `${api}/git/commits/${sha}`,
        author: gitUser,
        committer: gitUser,
        message: `Tip of ${name}`,
        comment_count: 0,
        tree: { sha: fakeSha(`tree:${sha}`), url: `${api}/git/trees/${fakeSha(`tree:${sha}`)}` },
        verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
      },
      author: simpleUser(site, "octocat"),
      committer: simpleUser(site, "octocat"),
      parents: [],
    },
    _links: { self: `${api}/branches/${encoded}`, html: `${repoHtml(site)}/tree/${name}` },
    protected: false,
    protection: { enabled: false, required_status_checks: { enforcement_level: "off", contexts: [], checks: [] } },
    protection_url: `${api}/branches/${encoded}/protection`,
  };
}
