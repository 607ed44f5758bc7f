// Response objects for what the engine creates: comments, reactions,
// deployments and their statuses, environments, permission answers.
import { nodeId, repoApi, repoHtml, type Site, simpleUser } from "./factories-repo.js";
import type {
  CommentRecord,
  DeploymentRecord,
  DeploymentStatusRecord,
  EnvironmentRecord,
  ReactionContent,
  ReactionRecord,
  Role,
} from "./state.js";

const REACTIONS: ReactionContent[] = ["+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"];

export function authorAssociation(site: Site, login: string, role: Role | undefined): string {
  if (login === site.repository.owner) return "OWNER";
  if (role === "admin" || role === "maintain" || role === "write" || role === "triage") return "COLLABORATOR";
  return "NONE";
}

export function issueComment(
  site: Site,
  comment: CommentRecord,
  extra: { reactions: ReactionRecord[]; isPullRequest: boolean; association: string },
): Record<string, unknown> {
  const url = `${repoApi(site)}/issues/comments/${comment.id}`;
  const rollup: Record<string, unknown> = { url: `${url}/reactions`, total_count: extra.reactions.length };
  for (const content of REACTIONS) rollup[content] = extra.reactions.filter((r) => r.content === content).length;
  return {
    id: comment.id,
    node_id: nodeId("IssueComment", comment.id),
    url,
    html_url: `${repoHtml(site)}/${extra.isPullRequest ? "pull" : "issues"}/${comment.issueNumber}#issuecomment-${comment.id}`,
    body: comment.body,
    user: simpleUser(site, comment.author),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    issue_url: `${repoApi(site)}/issues/${comment.issueNumber}`,
    author_association: extra.association,
    performed_via_github_app: null,
    reactions: rollup,
  };
}

export function reactionObject(site: Site, reaction: ReactionRecord): Record<string, unknown> {
  return {
    id: reaction.id,
    node_id: nodeId("Reaction", reaction.id),
    user: simpleUser(site, reaction.author),
    content: reaction.content,
    created_at: reaction.createdAt,
  };
}

export function deploymentObject(site: Site, deployment: DeploymentRecord): Record<string, unknown> {
  const url = `${repoApi(site)}/deployments/${deployment.id}`;
  return {
    url,
    id: deployment.id,
    node_id: nodeId("Deployment", deployment.id),
    sha: deployment.sha,
    ref: deployment.ref,
    task: deployment.task,
    payload: deployment.payload,
    original_environment: deployment.originalEnvironment,
    environment: deployment.environment,
    description: deployment.description,
    creator: simpleUser(site, deployment.author),
    created_at: deployment.createdAt,
    updated_at: deployment.updatedAt,
    statuses_url: `${url}/statuses`,
    repository_url: repoApi(site),
    transient_environment: deployment.transient,
    production_environment: deployment.production,
    performed_via_github_app: null,
  };
}

export function deploymentStatusObject(site: Site, deployment: DeploymentRecord, status: DeploymentStatusRecord): Record<string, unknown> {
  const deploymentUrl = `${repoApi(site)}/deployments/${deployment.id}`;
  return {
    url: `${deploymentUrl}/statuses/${status.id}`,
    id: status.id,
    node_id: nodeId("DeploymentStatus", status.id),
    state: status.state,
    creator: simpleUser(site, status.author),
    description: status.description,
    environment: status.environment,
    // GitHub answers "" for URLs that were never set.
    target_url: status.targetUrl,
    log_url: status.logUrl,
    environment_url: status.environmentUrl,
    created_at: status.createdAt,
    updated_at: status.createdAt,
    deployment_url: deploymentUrl,
    repository_url: repoApi(site),
    performed_via_github_app: null,
  };
}

export function environmentObject(site: Site, environment: EnvironmentRecord): Record<string, unknown> {
  const encoded = encodeURIComponent(environment.name);
  return {
    id: environment.id,
    node_id: nodeId("Environment", environment.id),
    name: environment.name,
    url: `${repoApi(site)}/environments/${encoded}`,
    html_url: `${repoHtml(site)}/deployments/activity_log?environments_filter=${encoded}`,
    created_at: environment.createdAt,
    updated_at: environment.updatedAt,
    protection_rules: [],
    deployment_branch_policy: null,
  };
}

// The legacy `permission` knows only admin/write/read/none: maintain reads as write and triage as read.
const LEGACY: Record<Role, string> = { admin: "admin", maintain: "write", write: "write", triage: "read", read: "read", none: "none" };

export function collaboratorPermission(site: Site, login: string, role: Role): Record<string, unknown> {
  const rank = ["none", "read", "triage", "write", "maintain", "admin"].indexOf(role);
  return {
    permission: LEGACY[role],
    role_name: role,
    user: {
      ...simpleUser(site, login),
      permissions: { pull: rank >= 1, triage: rank >= 2, push: rank >= 3, maintain: rank >= 4, admin: rank >= 5 },
      role_name: role,
    },
  };
}

export function rateLimitOverview(limit: { limit: number; used: number; reset: number }): Record<string, unknown> {
  const core = { limit: limit.limit, used: limit.used, remaining: Math.max(0, limit.limit - limit.used), reset: limit.reset };
  const fresh = (size: number) => ({ limit: size, used: 0, remaining: size, reset: limit.reset });
  return {
    resources: { core, search: fresh(30), graphql: fresh(5000), integration_manifest: fresh(5000), code_search: fresh(10) },
    rate: core,
  };
}
