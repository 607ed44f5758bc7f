// `k8s-sandbox serve`: the controller's flags and secrets into its options.
// Secrets come from the environment or from files (mounted Secrets), never
// from flags: argv is visible to every process on the node.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { validateSandboxRole } from "../domain/access.js";
import { parseDuration } from "../domain/duration.js";
import { InputError, quoteInput } from "../domain/errors.js";
import { DEFAULT_PREFIX, validatePrefix } from "../domain/identity.js";
import { githubWebUrl } from "../controller/dashboard/rows.js";
import { appAccess, type GitHubAccess, tokenAccess } from "../controller/github-access.js";
import { JsonLogger } from "../controller/logger.js";
import { type ControllerOptions, startController } from "../controller/controller.js";
import { Redactor } from "../adapters/logger.js";

export const SERVE_USAGE = `usage: k8s-sandbox serve [flags]

Receives GitHub webhooks at /api/github/webhooks and runs the same handlers as
the Action (docs/controller.md). Secrets come from the environment or files:
  GITHUB_WEBHOOK_SECRET or --webhook-secret-file FILE   (required)
  GitHub App: GITHUB_APP_ID (or --app-id) and GITHUB_APP_PRIVATE_KEY or --app-private-key-file FILE
  or a token: GITHUB_TOKEN or --token-file FILE
  the dashboard at / (off without it): K8S_SANDBOX_DASHBOARD_TOKEN or --dashboard-token-file FILE,
    sent as "Authorization: Bearer <token>" or as the basic-auth password of --dashboard-user

flags:
  --port 8080 --host 0.0.0.0
  --namespace NS          the controller's namespace (default POD_NAMESPACE, else k8s-sandbox-system)
  --repositories NAME     ConfigMap in NS with repositories.yaml (default k8s-sandbox-repositories)
  --prefix dev-sandbox-   namespace prefix of the sandboxes
  --concurrency 2         operations at once
  --wait-timeout 10m      how long a deploy waits for readiness
  --sandbox-role ROLE     ClusterRole bound to the controller in each sandbox ("" for none)
  --github-api-url URL    GitHub's REST API (default GITHUB_API_URL, else https://api.github.com)
  --body-limit BYTES      largest delivery accepted (default 26214400)
  --context NAME          kube-context (default in-cluster or the current one)
  --reconcile-interval 5m how often the leader repairs sandboxes against GitHub (0: never)
  --dashboard-user admin  the dashboard's basic-auth user (default K8S_SANDBOX_DASHBOARD_USER, else admin)
  --log-level info
`;

export async function serve(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values: flags } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      namespace: { type: "string" },
      repositories: { type: "string" },
      prefix: { type: "string" },
      concurrency: { type: "string" },
      "wait-timeout": { type: "string" },
      "sandbox-role": { type: "string" },
      "webhook-secret-file": { type: "string" },
      "app-id": { type: "string" },
      "app-private-key-file": { type: "string" },
      "token-file": { type: "string" },
      "github-api-url": { type: "string" },
      "body-limit": { type: "string" },
      context: { type: "string" },
      "log-level": { type: "string" },
      "reconcile-interval": { type: "string" },
      "dashboard-token-file": { type: "string" },
      "dashboard-user": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (flags.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const redactor = new Redactor();
  const logger = JsonLogger.create({ level: flags["log-level"] ?? env.LOG_LEVEL ?? "info", redactor });
  const secret = (envName: string, file: string | undefined, input: string): string | undefined => {
    if (file) {
      try {
        return readFileSync(file, "utf8").trim();
      } catch (error) {
        throw new InputError(`cannot read ${quoteInput(file)}: ${(error as Error).message}`, { input });
      }
    }
    return env[envName]?.trim() || undefined;
  };
  const webhookSecret = secret("GITHUB_WEBHOOK_SECRET", flags["webhook-secret-file"], "--webhook-secret-file") ?? "";
  const baseUrl = (flags["github-api-url"] ?? env.GITHUB_API_URL)?.replace(/\/$/, "");
  const appId = flags["app-id"] ?? env.GITHUB_APP_ID;
  let access: GitHubAccess;
  if (appId) {
    const privateKey = secret("GITHUB_APP_PRIVATE_KEY", flags["app-private-key-file"], "--app-private-key-file");
    if (!privateKey)
      throw new InputError("a GitHub App needs its private key: GITHUB_APP_PRIVATE_KEY or --app-private-key-file", {
        input: "--app-private-key-file",
      });
    redactor.add(privateKey);
    access = appAccess({ appId, privateKey, baseUrl });
  } else {
    const token = secret("GITHUB_TOKEN", flags["token-file"], "--token-file");
    if (!token)
      throw new InputError("no GitHub credentials: set GITHUB_APP_ID and the App's private key, or GITHUB_TOKEN", {
        input: "GITHUB_TOKEN",
      });
    redactor.add(token);
    access = tokenAccess({ token, baseUrl });
  }
  redactor.add(webhookSecret);
  const dashboardToken = secret("K8S_SANDBOX_DASHBOARD_TOKEN", flags["dashboard-token-file"], "--dashboard-token-file");
  if (dashboardToken) redactor.add(dashboardToken);
  const number = (text: string | undefined, fallback: number, input: string, min: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new InputError(`${quoteInput(text)} is not a whole number of at least ${min}`, { input });
    return n;
  };
  const options: ControllerOptions = {
    port: number(flags.port, 8080, "--port", 0),
    host: flags.host,
    webhookSecret,
    access,
    logger,
    namespace: flags.namespace ?? env.POD_NAMESPACE ?? "k8s-sandbox-system",
    repositoriesConfigMap: flags.repositories,
    prefix: validatePrefix(flags.prefix ?? env.K8S_SANDBOX_PREFIX ?? DEFAULT_PREFIX),
    concurrency: number(flags.concurrency, 2, "--concurrency", 1),
    waitTimeoutMs: parseDuration(flags["wait-timeout"] ?? "10m", "--wait-timeout"),
    sandboxRole: validateSandboxRole(flags["sandbox-role"] ?? env.K8S_SANDBOX_ROLE ?? "", "--sandbox-role"),
    bodyLimit: number(flags["body-limit"], 25 * 1024 * 1024, "--body-limit", 1024),
    kubeContext: flags.context,
    dashboard: dashboardToken
      ? {
          credential: { user: flags["dashboard-user"] ?? env.K8S_SANDBOX_DASHBOARD_USER ?? "admin", token: dashboardToken },
          githubUrl: githubWebUrl(baseUrl),
        }
      : undefined,
    reconcileIntervalMs:
      flags["reconcile-interval"] === "0" ? 0 : parseDuration(flags["reconcile-interval"] ?? "5m", "--reconcile-interval"),
  };
  const controller = await startController(options);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info(`${signal}: stopping; running operations finish, queued ones are left to the reconcile`);
      controller.close().then(resolve, resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}
