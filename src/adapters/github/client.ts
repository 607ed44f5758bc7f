// Everything the engine asks of GitHub, through Octokit with retries on
// transient errors and GitHub's recommended throttling on rate limits. The
// methods are the engine's vocabulary (sticky comment, deployment, permission),
// not GitHub's, so operations never touch Octokit directly.
import { getOctokit } from "@actions/github";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { APPROVAL_CONTEXT, type CommitStatusFact } from "../../domain/trust.js";
import type { Logger } from "../logger.js";

export const STICKY_MARKER = "<!-- k8s-dev-sandbox:sticky -->";
/** Who comments when the token cannot say (GET /user refuses the workflow token and app tokens). */
export const WORKFLOW_BOT = "github-actions[bot]";

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";
export type DeploymentState = "in_progress" | "success" | "failure" | "error" | "inactive" | "queued" | "pending";
export type Reaction = "+1" | "-1" | "laugh" | "confused" | "heart" | "hooray" | "rocket" | "eyes";

export interface GitHubOptions {
  token: string;
  repository: string; // owner/name
  baseUrl?: string;
  logger: Logger;
  /**
   * The login this token writes as, when the caller knows it: a GitHub App's
   * installation token writes as `<app-slug>[bot]`, and GET /user refuses it.
   */
  login?: string;
}

type Octokit = ReturnType<typeof getOctokit>;

export class GitHub {
  readonly owner: string;
  readonly repo: string;
  private readonly octokit: Octokit;
  private me?: Promise<string>;

  constructor(private readonly options: GitHubOptions) {
    const [owner, repo] = options.repository.split("/");
    if (!owner || !repo) throw new Error(`repository ${JSON.stringify(options.repository)} is not owner/name`);
    this.owner = owner;
    this.repo = repo;
    const log = options.logger;
    this.octokit = getOctokit(
      options.token,
      {
        baseUrl: options.baseUrl,
        request: { retries: 3, retryAfter: 1 },
        throttle: {
          onRateLimit: (retryAfter: number, opts: { method: string; url: string }, _o: unknown, retryCount: number) => {
            log.warn(`GitHub rate limit on ${opts.method} ${opts.url}; retrying in ${retryAfter}s`);
            return retryCount < 2;
          },
          onSecondaryRateLimit: (retryAfter: number, opts: { method: string; url: string }, _o: unknown, retryCount: number) => {
            log.warn(`GitHub secondary rate limit on ${opts.method} ${opts.url}; retrying in ${retryAfter}s`);
            return retryCount < 1;
          },
        },
      },
      retry,
      throttling,
    );
  }

  private get base() {
    return { owner: this.owner, repo: this.repo };
  }

  /** Edits our one comment on the PR in place, or creates it. Returns its id. */
  async upsertStickyComment(issueNumber: number, body: string): Promise<number> {
    const text = `${STICKY_MARKER}\n${body}`;
    const comments = await this.octokit.paginate(this.octokit.rest.issues.listComments, {
      ...this.base,
      issue_number: issueNumber,
      per_page: 100,
    });
    // Anyone can paste the marker, and another bot or app may too: only a
    // comment written by this token's own login is ours to edit.
    const me = (await this.login()).toLowerCase();
    const ours = comments.find((c) => c.body?.includes(STICKY_MARKER) && c.user?.login?.toLowerCase() === me);
    if (ours) {
      try {
        await this.octokit.rest.issues.updateComment({ ...this.base, comment_id: ours.id, body: text });
        return ours.id;
      } catch (error) {
        this.options.logger.warn(`could not edit comment ${ours.id} (${describe(error)}); writing a new one`);
      }
    }
    const created = await this.octokit.rest.issues.createComment({ ...this.base, issue_number: issueNumber, body: text });
    return created.data.id;
  }

  /**
   * The login this token writes as. A personal token can ask GET /user; the
   * workflow token cannot (403), and what it writes is signed
   * github-actions[bot].
   */
  login(): Promise<string> {
    if (this.options.login) return Promise.resolve(this.options.login);
    this.me ??= this.octokit.rest.users.getAuthenticated().then(
      ({ data }) => data.login,
      (error: unknown) => {
        this.options.logger.debug(`GET /user: ${describe(error)}; taking ${WORKFLOW_BOT} as this token's login`);
        return WORKFLOW_BOT;
      },
    );
    return this.me;
  }

  async reply(issueNumber: number, body: string): Promise<void> {
    await this.octokit.rest.issues.createComment({ ...this.base, issue_number: issueNumber, body });
  }

  async react(commentId: number, content: Reaction): Promise<void> {
    await this.octokit.rest.reactions.createForIssueComment({ ...this.base, comment_id: commentId, content });
  }

  async permission(username: string): Promise<Permission> {
    const { data } = await this.octokit.rest.repos.getCollaboratorPermissionLevel({ ...this.base, username });
    // role_name carries maintain/triage, which `permission` folds into write/read.
    const role = (data as { role_name?: string }).role_name;
    if (role === "maintain" || role === "triage") return role;
    return (data.permission as Permission) ?? "none";
  }

  async createDeployment(input: {
    ref: string;
    environment: string;
    description: string;
    payload?: Record<string, unknown>;
  }): Promise<number> {
    const { data } = await this.octokit.rest.repos.createDeployment({
      ...this.base,
      ref: input.ref,
      environment: input.environment,
      description: input.description.slice(0, 140),
      transient_environment: true,
      production_environment: false,
      auto_merge: false,
      required_contexts: [],
      payload: input.payload ?? {},
    });
    if (!("id" in data))
      throw new Error(`GitHub did not create the deployment: ${(data as { message?: string }).message ?? "unknown reason"}`);
    return data.id;
  }

  async setDeploymentStatus(
    deploymentId: number,
    state: DeploymentState,
    details: { environmentUrl?: string; logUrl?: string; description?: string } = {},
  ): Promise<void> {
    await this.octokit.rest.repos.createDeploymentStatus({
      ...this.base,
      deployment_id: deploymentId,
      state,
      environment_url: details.environmentUrl,
      log_url: details.logUrl,
      description: details.description?.slice(0, 140),
      auto_inactive: true,
    });
  }

  /** Marks every deployment of the environment inactive, then tries to delete it. */
  async retireEnvironment(environment: string): Promise<{ inactive: number; deleted: boolean }> {
    const deployments = await this.octokit.paginate(this.octokit.rest.repos.listDeployments, { ...this.base, environment, per_page: 100 });
    for (const d of deployments) await this.setDeploymentStatus(d.id, "inactive", { description: "sandbox destroyed" });
    try {
      await this.octokit.rest.repos.deleteAnEnvironment({ ...this.base, environment_name: environment });
      return { inactive: deployments.length, deleted: true };
    } catch (error) {
      // The workflow token may not administer environments; inactive is enough to show it destroyed.
      this.options.logger.debug(`environment ${environment} not deleted: ${describe(error)}`);
      return { inactive: deployments.length, deleted: false };
    }
  }

  async openPullRequests(): Promise<Set<number>> {
    return new Set((await this.openPullRequestList()).map((p) => (p as { number: number }).number));
  }

  /** The open pull requests as the REST API lists them; the domain reads what it needs (readPullRequest). */
  async openPullRequestList(): Promise<unknown[]> {
    return this.octokit.paginate(this.octokit.rest.pulls.list, { ...this.base, state: "open", per_page: 100 });
  }

  async branches(): Promise<Set<string>> {
    return new Set((await this.branchHeads()).keys());
  }

  /** Every branch of the repository and its head commit. */
  async branchHeads(): Promise<Map<string, string>> {
    const branches = await this.octokit.paginate(this.octokit.rest.repos.listBranches, { ...this.base, per_page: 100 });
    return new Map(branches.map((b) => [b.name, b.commit.sha]));
  }

  /** The head commit of a branch of this repository; undefined when the branch does not exist. */
  async branchHead(branch: string): Promise<string | undefined> {
    try {
      const { data } = await this.octokit.rest.repos.getBranch({ ...this.base, branch });
      return data.commit.sha;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** The open pull request whose head is `owner:branch`, as the REST API lists it; undefined when there is none. */
  async openPullRequestByHead(owner: string, branch: string): Promise<unknown> {
    const { data } = await this.octokit.rest.pulls.list({ ...this.base, state: "open", head: `${owner}:${branch}`, per_page: 10 });
    return data[0];
  }

  /** The commit statuses of one commit that record approvals (newest first, as GitHub lists them). */
  async approvals(sha: string): Promise<CommitStatusFact[]> {
    const statuses = await this.octokit.paginate(this.octokit.rest.repos.listCommitStatusesForRef, {
      ...this.base,
      ref: sha,
      per_page: 100,
    });
    return statuses
      .filter((s) => s.context === APPROVAL_CONTEXT)
      .map((s) => ({ context: s.context, state: s.state, description: s.description, createdAt: s.created_at }));
  }

  /** Records (success) or withdraws (failure) the approval of exactly one commit. */
  async setApproval(sha: string, state: "success" | "failure", description: string, targetUrl?: string): Promise<void> {
    await this.octokit.rest.repos.createCommitStatus({
      ...this.base,
      sha,
      state,
      context: APPROVAL_CONTEXT,
      description: description.slice(0, 140),
      target_url: targetUrl,
    });
  }

  /** Takes a label off an issue or PR; one that is not there counts as removed. */
  async removeLabel(issueNumber: number, name: string): Promise<void> {
    try {
      await this.octokit.rest.issues.removeLabel({ ...this.base, issue_number: issueNumber, name });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /**
   * Starts the repository's own preview workflow on a branch (workflow_dispatch):
   * how the controller, which builds nothing itself, gets the image of a
   * commit built by the repository's CI. Its completion arrives as workflow_run.
   */
  async dispatchWorkflow(workflow: string, branch: string, inputs: Record<string, string> = {}): Promise<void> {
    await this.octokit.rest.actions.createWorkflowDispatch({ ...this.base, workflow_id: workflow, ref: branch, inputs });
  }

  /** The pull request as the REST API returns it; the domain reads what it needs. */
  async pullRequest(number: number): Promise<unknown> {
    const { data } = await this.octokit.rest.pulls.get({ ...this.base, pull_number: number });
    return data;
  }
}

function statusOf(error: unknown): number | undefined {
  return error && typeof error === "object" && "status" in error ? Number((error as { status: unknown }).status) : undefined;
}

export function describe(error: unknown): string {
  if (error && typeof error === "object" && "status" in error) {
    const e = error as { status: number; message?: string };
    return `HTTP ${e.status}: ${e.message ?? ""}`.trim();
  }
  return error instanceof Error ? error.message : String(error);
}
