// Deployments, their statuses and environments: the "View deployment" button
// of a sandbox and its cleanup.
import { deploymentObject, deploymentStatusObject, environmentObject } from "./factories-activity.js";
import { repoApi } from "./factories-repo.js";
import { created, forbidden, type Handler, notFound, paginate, type RouteContext, validationFailed } from "./replies.js";
import {
  type DeploymentRecord,
  type DeploymentState,
  type DeploymentStatusRecord,
  latestStatus,
  nextId,
  now,
  type StandinState,
} from "./state.js";

interface CreateDeploymentBody {
  ref: string;
  task?: string;
  payload?: Record<string, unknown> | string;
  environment?: string;
  description?: string | null;
  transient_environment?: boolean;
  production_environment?: boolean;
}

interface CreateStatusBody {
  state: DeploymentState;
  target_url?: string;
  log_url?: string;
  description?: string;
  environment?: string;
  environment_url?: string;
  auto_inactive?: boolean;
}

/** A branch name, `refs/heads/<branch>`, or a full commit sha; tags are not modelled. */
function resolveRef(state: StandinState, ref: string): string | undefined {
  const branch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
  const sha = state.branches.get(branch);
  if (sha) return sha;
  return /^[0-9a-f]{40}$/.test(ref) ? ref : undefined;
}

function ensureEnvironment(state: StandinState, name: string): void {
  if (state.environments.has(name)) return;
  const timestamp = now();
  state.environments.set(name, { id: nextId(), name, createdAt: timestamp, updatedAt: timestamp });
}

function findDeployment(context: RouteContext): DeploymentRecord | undefined {
  return context.state.deployments.find((d) => d.id === context.params.deployment_id);
}

const createDeployment: Handler = (context) => {
  const body = context.body as CreateDeploymentBody;
  const sha = resolveRef(context.state, body.ref);
  if (!sha) return validationFailed(context.documentationUrl, `No ref found for: ${body.ref}`);
  const environment = body.environment ?? "production";
  const timestamp = now();
  const deployment: DeploymentRecord = {
    id: nextId(),
    ref: body.ref,
    sha,
    task: body.task ?? "deploy",
    payload: body.payload ?? {},
    environment,
    originalEnvironment: environment,
    description: body.description ?? "",
    transient: body.transient_environment ?? false,
    production: body.production_environment ?? environment === "production",
    author: context.state.actor,
    createdAt: timestamp,
    updatedAt: timestamp,
    statuses: [],
  };
  context.state.deployments.push(deployment);
  ensureEnvironment(context.state, environment);
  return created(`${repoApi(context.site)}/deployments/${deployment.id}`, deploymentObject(context.site, deployment));
};

// The description gives these filters the default "none", meaning "do not filter".
function filterValue(value: unknown): string | undefined {
  return typeof value === "string" && value !== "none" ? value : undefined;
}

const listDeployments: Handler = (context) => {
  const [sha, ref, task, environment] = ["sha", "ref", "task", "environment"].map((key) => filterValue(context.query[key]));
  const matches = context.state.deployments
    .filter(
      (d) =>
        (sha === undefined || d.sha === sha) &&
        (ref === undefined || d.ref === ref) &&
        (task === undefined || d.task === task) &&
        (environment === undefined || d.environment === environment),
    )
    .reverse();
  return paginate(context, matches, (d) => deploymentObject(context.site, d));
};

const getDeployment: Handler = (context) => {
  const deployment = findDeployment(context);
  return deployment ? { status: 200, body: deploymentObject(context.site, deployment) } : notFound(context);
};

const INACTIVE_STATES = new Set<DeploymentState>(["inactive", "failure", "error"]);

const deleteDeployment: Handler = (context) => {
  const deployment = findDeployment(context);
  if (!deployment) return notFound(context);
  const siblings = context.state.deployments.filter((d) => d.environment === deployment.environment);
  const latest = latestStatus(deployment)?.state;
  if (siblings.length > 1 && !(latest && INACTIVE_STATES.has(latest))) {
    return validationFailed(
      context.documentationUrl,
      "We cannot delete an active deployment unless it is the only deployment in a given environment.",
    );
  }
  context.state.deployments.splice(context.state.deployments.indexOf(deployment), 1);
  context.state.deletedDeployments.push(deployment.id);
  return { status: 204 };
};

function addStatus(deployment: DeploymentRecord, status: Omit<DeploymentStatusRecord, "id" | "createdAt">): DeploymentStatusRecord {
  const record = { ...status, id: nextId(), createdAt: now() };
  deployment.statuses.push(record);
  deployment.updatedAt = record.createdAt;
  return record;
}

const createStatus: Handler = (context) => {
  const deployment = findDeployment(context);
  if (!deployment) return notFound(context);
  const body = context.body as CreateStatusBody;
  if (body.environment) {
    deployment.environment = body.environment;
    ensureEnvironment(context.state, body.environment);
  }
  const url = body.log_url ?? body.target_url ?? "";
  const status = addStatus(deployment, {
    state: body.state,
    description: body.description ?? "",
    environment: deployment.environment,
    environmentUrl: body.environment_url ?? "",
    logUrl: url,
    targetUrl: body.target_url ?? url,
    author: context.state.actor,
  });
  // auto_inactive (default on): earlier successful, non-transient, non-production deployments of the environment go inactive.
  if (body.state === "success" && body.auto_inactive !== false) {
    for (const other of context.state.deployments) {
      if (other === deployment || other.environment !== deployment.environment || other.transient || other.production) continue;
      const last = latestStatus(other);
      if (last?.state !== "success") continue;
      addStatus(other, { ...last, state: "inactive", description: "", author: context.state.actor });
    }
  }
  const location = `${repoApi(context.site)}/deployments/${deployment.id}/statuses/${status.id}`;
  return created(location, deploymentStatusObject(context.site, deployment, status));
};

const listStatuses: Handler = (context) => {
  const deployment = findDeployment(context);
  if (!deployment) return notFound(context);
  return paginate(context, [...deployment.statuses].reverse(), (s) => deploymentStatusObject(context.site, deployment, s));
};

const getEnvironment: Handler = (context) => {
  const environment = context.state.environments.get(context.params.environment_name as string);
  return environment ? { status: 200, body: environmentObject(context.site, environment) } : notFound(context);
};

const deleteEnvironment: Handler = (context) => {
  // A GITHUB_TOKEN cannot administer environments; GitHub says so with a 403.
  if (!context.state.canDeleteEnvironments) return forbidden(context, "Resource not accessible by integration");
  const name = context.params.environment_name as string;
  if (!context.state.environments.delete(name)) return notFound(context);
  context.state.deletedEnvironments.push(name);
  return { status: 204 };
};

export const deploymentRoutes: Record<string, Handler> = {
  "POST /repos/{owner}/{repo}/deployments": createDeployment,
  "GET /repos/{owner}/{repo}/deployments": listDeployments,
  "GET /repos/{owner}/{repo}/deployments/{deployment_id}": getDeployment,
  "DELETE /repos/{owner}/{repo}/deployments/{deployment_id}": deleteDeployment,
  "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": createStatus,
  "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": listStatuses,
  "GET /repos/{owner}/{repo}/environments/{environment_name}": getEnvironment,
  "DELETE /repos/{owner}/{repo}/environments/{environment_name}": deleteEnvironment,
};
