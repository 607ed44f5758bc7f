// The controller's credentials for GitHub: a GitHub App (an installation
// token per delivery's installation, minted and cached by @octokit/app), or
// one plain token as the simple alternative. Either way the engine gets the
// same GitHub adapter the Action uses.
import { App } from "@octokit/app";
import { Octokit as OctokitCore } from "@octokit/core";
import { GitHub } from "../adapters/github/client.js";
import type { Logger } from "../adapters/logger.js";

export interface GitHubAccess {
  /** What the controller acts as ("GitHub App 123", "a token"). */
  readonly description: string;
  /** A client for one repository, acting for the installation the delivery came through (looked up when undefined). */
  forRepository(repository: string, installationId: number | undefined, logger: Logger): Promise<GitHub>;
  /** Why the credentials do not work, or undefined when they do (/readyz). */
  problem(): Promise<string | undefined>;
}

export function tokenAccess(options: { token: string; baseUrl?: string; login?: string }): GitHubAccess {
  return {
    description: "a token",
    forRepository: async (repository, _installation, logger) =>
      new GitHub({ token: options.token, repository, baseUrl: options.baseUrl, logger, login: options.login }),
    async problem() {
      const response = await fetch(`${options.baseUrl ?? "https://api.github.com"}/rate_limit`, {
        headers: { authorization: `token ${options.token}`, accept: "application/vnd.github+json" },
      }).catch((error: unknown) => error as Error);
      if (response instanceof Error) return `GitHub is unreachable: ${response.message}`;
      await response.arrayBuffer().catch(() => undefined);
      return response.status === 200 ? undefined : `GitHub refused the token (HTTP ${response.status})`;
    },
  };
}

export function appAccess(options: { appId: string; privateKey: string; baseUrl?: string }): GitHubAccess {
  const app = new App({
    appId: options.appId,
    privateKey: options.privateKey,
    Octokit: options.baseUrl ? OctokitCore.defaults({ baseUrl: options.baseUrl }) : OctokitCore,
  });
  let slug: Promise<string> | undefined;
  const appSlug = () => {
    slug ??= app.octokit.request("GET /app").then(
      ({ data }) => (data as { slug?: string } | null)?.slug ?? "",
      (error: unknown) => {
        slug = undefined;
        throw error;
      },
    );
    return slug;
  };
  return {
    description: `GitHub App ${options.appId}`,
    async forRepository(repository, installationId, logger) {
      // A delivery names its installation; the reconcile asks which installation holds the repository.
      const [owner = "", repo = ""] = repository.split("/");
      const step =
        installationId === undefined
          ? `finding the installation of ${repository}`
          : `getting a token of installation ${installationId} for ${repository}`;
      try {
        const id = installationId ?? (await app.octokit.request("GET /repos/{owner}/{repo}/installation", { owner, repo })).data.id;
        // @octokit/auth-app caches installation tokens and renews them before they expire.
        const { token } = (await app.octokit.auth({ type: "installation", installationId: id })) as { token: string };
        const login = `${await appSlug()}[bot]`;
        return new GitHub({ token, repository, baseUrl: options.baseUrl, logger, login });
      } catch (error) {
        throw new Error(`GitHub App ${options.appId}, ${step}: ${refusal(error)}`, { cause: error });
      }
    },
    async problem() {
      try {
        await appSlug();
        return undefined;
      } catch (error) {
        return `GitHub App ${options.appId}: ${refusal(error)}`;
      }
    },
  };
}

/** What GitHub said, and what to do about it. */
function refusal(error: unknown): string {
  const status = error && typeof error === "object" && "status" in error ? Number((error as { status: unknown }).status) : undefined;
  const said = error instanceof Error ? error.message : String(error);
  if (status === 401)
    return `GitHub refused the App's signed token (HTTP 401: ${said}); check that the private key (GITHUB_APP_PRIVATE_KEY or --app-private-key-file) is a current key of this App (the App's settings, "Private keys") and that this machine's clock is right`;
  if (status === 404)
    return `GitHub does not know it (HTTP 404: ${said}); check the App id (GITHUB_APP_ID or --app-id) and that the App is installed on the repository`;
  return `GitHub could not be asked (${said}); it is retried with the next delivery or reconcile`;
}
