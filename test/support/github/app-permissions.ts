// Which GitHub App permission each REST endpoint the controller calls needs,
// and which permission each webhook event needs. @octokit/openapi carries no
// permission metadata (its x-github block has category, subcategory,
// enabledForGitHubApps and such, nothing about permissions), so this is a
// table, transcribed from GitHub's "Permissions required for GitHub Apps"
// (docs.github.com/en/rest/authentication/permissions-required-for-github-apps,
// generated from github/docs src/github-apps/data/fpt-2022-11-28/
// server-to-server-permissions.json) and from each endpoint's
// "Fine-grained access tokens" section. The unit test
// (test/unit/github-app-manifest.test.ts) fails when the controller calls an
// endpoint this table does not know; the GitHub stand-in enforces it on
// installation tokens, so an integration run proves the manifest's
// permissions are enough.

export type Access = "read" | "write";

/** Permission names as the App manifest and installation tokens spell them. */
export type AppPermission =
  | "metadata"
  | "contents"
  | "pull_requests"
  | "issues"
  | "deployments"
  | "statuses"
  | "actions"
  | "administration";

export interface EndpointPermission {
  /** Any one of these is enough (GitHub lists e.g. issue comments under both Issues and Pull requests). */
  anyOf: Array<[AppPermission, Access]>;
  /**
   * The controller works without it: the call's refusal is caught and
   * handled (deleting a preview environment needs Administration write,
   * which would also let the App delete the repository; without it the
   * deployments are only marked inactive).
   */
  optional?: string;
}

export const ENDPOINT_PERMISSIONS: Record<string, EndpointPermission> = {
  "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": {
    anyOf: [
      ["issues", "read"],
      ["pull_requests", "read"],
    ],
  },
  "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": {
    anyOf: [
      ["issues", "write"],
      ["pull_requests", "write"],
    ],
  },
  "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": {
    anyOf: [
      ["issues", "write"],
      ["pull_requests", "write"],
    ],
  },
  "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": {
    anyOf: [
      ["issues", "write"],
      ["pull_requests", "write"],
    ],
  },
  "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}": {
    anyOf: [
      ["issues", "write"],
      ["pull_requests", "write"],
    ],
  },
  "GET /repos/{owner}/{repo}/collaborators/{username}/permission": { anyOf: [["metadata", "read"]] },
  "POST /repos/{owner}/{repo}/deployments": { anyOf: [["deployments", "write"]] },
  "GET /repos/{owner}/{repo}/deployments": { anyOf: [["deployments", "read"]] },
  "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": { anyOf: [["deployments", "write"]] },
  "DELETE /repos/{owner}/{repo}/environments/{environment_name}": {
    anyOf: [["administration", "write"]],
    optional: "retireEnvironment catches the refusal; the deployments are marked inactive instead",
  },
  "GET /repos/{owner}/{repo}/pulls": { anyOf: [["pull_requests", "read"]] },
  "GET /repos/{owner}/{repo}/pulls/{pull_number}": { anyOf: [["pull_requests", "read"]] },
  "GET /repos/{owner}/{repo}/branches": { anyOf: [["contents", "read"]] },
  "GET /repos/{owner}/{repo}/branches/{branch}": { anyOf: [["contents", "read"]] },
  "GET /repos/{owner}/{repo}/commits/{ref}/statuses": { anyOf: [["statuses", "read"]] },
  "POST /repos/{owner}/{repo}/statuses/{sha}": { anyOf: [["statuses", "write"]] },
  "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches": { anyOf: [["actions", "write"]] },
};

/** Endpoints called with the App's own JWT, not an installation token: no repository permission applies. */
export const APP_JWT_ENDPOINTS: ReadonlySet<string> = new Set([
  "GET /app",
  "POST /app/installations/{installation_id}/access_tokens",
  "GET /repos/{owner}/{repo}/installation",
]);

/**
 * Endpoints only a plain token calls, never the App: GET /user names a
 * token's login (an App is told its `<slug>[bot]` login instead; GitHub
 * refuses GET /user to installation tokens).
 */
export const TOKEN_ONLY_ENDPOINTS: ReadonlySet<string> = new Set(["GET /user"]);

/** The permission an App needs to receive each webhook event (GitHub's "Webhook events and payloads", "Availability"). */
export const EVENT_PERMISSIONS: Record<string, [AppPermission, Access]> = {
  push: ["contents", "read"],
  pull_request: ["pull_requests", "read"],
  delete: ["contents", "read"],
  issue_comment: ["issues", "read"],
  workflow_run: ["actions", "read"],
};

/** Whether granted permissions (as an installation token lists them) satisfy a need. */
export function grants(granted: Record<string, string>, [permission, access]: [AppPermission, Access]): boolean {
  const level = granted[permission];
  return level === "write" || (level === "read" && access === "read");
}

/** Why granted permissions do not cover an endpoint, or undefined when they do (or the endpoint is not in the table). */
export function missingPermission(granted: Record<string, string>, endpoint: string): string | undefined {
  const needed = ENDPOINT_PERMISSIONS[endpoint];
  if (!needed || needed.anyOf.some((need) => grants(granted, need))) return undefined;
  return needed.anyOf.map(([permission, access]) => `${permission}: ${access}`).join(" or ");
}
