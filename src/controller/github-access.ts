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
      const id = installationId ?? (await app.octokit.request("GET /repos/{owner}/{repo}/installation", { owner, repo })).data.id;
      // @octokit/auth-app caches installation tokens and renews them before they expire.
      const { token } = (await app.octokit.auth({ type: "installation", installationId: id })) as { token: string };
      const login = `${await appSlug()}[bot]`;
      return new GitHub({ token, repository, baseUrl: options.baseUrl, logger, login });
    },
    async problem() {
      try {
        await appSlug();
        return undefined;
      } catch (error) {
        return `GitHub refused the App's credentials: ${error instanceof Error ? error.message : String(error)}`;
      }
    },
  };
}
