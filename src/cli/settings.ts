// The CLI's flags (and a few environment variables) into engine settings.
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { parseDuration } from "../domain/duration.js";
import { InputError, quoteInput } from "../domain/errors.js";
import { DEFAULT_LOCAL_VOLUMES_CONFIG, DEFAULT_SANDBOX_ROLE, parseObjectRef, validateSandboxRole } from "../domain/access.js";
import { DEFAULT_PREFIX, validateBaseDomain, validatePrefix } from "../domain/identity.js";
import type { EngineSettings } from "../operations/engine.js";
import { bundledChartDir } from "../wiring/bundled-chart.js";

export interface GitState {
  branch?: string;
  commit?: string;
  root: string;
  host: string;
}

export async function currentGitState(cwd = process.cwd()): Promise<GitState> {
  const git = async (...args: string[]) => {
    const r = await execa("git", args, { cwd, reject: false });
    return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
  };
  const branch = await git("symbolic-ref", "--short", "-q", "HEAD");
  return { branch, commit: await git("rev-parse", "HEAD"), root: (await git("rev-parse", "--show-toplevel")) ?? cwd, host: hostname() };
}

type Flags = Partial<Record<string, string | boolean | string[] | undefined>>;

export function settingsFromFlags(flags: Flags, git: GitState): EngineSettings {
  const str = (name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
  const many = (name: string) => (Array.isArray(flags[name]) ? (flags[name] as string[]) : []);
  const mode = str("mode") ?? (str("registry") ? "ci" : "local");
  if (mode !== "ci" && mode !== "local") throw new InputError(`${quoteInput(mode)} is not local or ci`, { input: "--mode" });
  const registry = str("registry") ?? process.env.K8S_SANDBOX_REGISTRY;
  if (mode === "ci" && !registry) throw new InputError("ci mode builds an image and needs --registry", { input: "--registry" });
  const context = resolve(str("build-context") ?? git.root);
  const repoName =
    git.root
      .split("/")
      .pop()
      ?.toLowerCase()
      .replace(/[^a-z0-9._-]/g, "-") || "sandbox";
  const ttlMs = parseDuration(str("ttl") ?? "7d", "--ttl");
  return {
    repository: process.env.GITHUB_REPOSITORY,
    prefix: validatePrefix(str("prefix") ?? process.env.K8S_SANDBOX_PREFIX ?? DEFAULT_PREFIX),
    baseDomain: validateBaseDomain(str("base-domain") ?? process.env.K8S_SANDBOX_BASE_DOMAIN ?? "sandbox.localhost"),
    scheme: "http",
    ttlMs,
    maxTtlMs: Math.max(ttlMs, parseDuration(str("max-ttl") ?? "30d", "--max-ttl")),
    waitTimeoutMs: parseDuration(str("wait-timeout") ?? "10m", "--wait-timeout"),
    mode,
    chart: str("chart") ? resolve(str("chart") as string) : bundledChartDir(),
    valuesFiles: many("values").map((v) => resolve(v)),
    sets: many("set"),
    imageRepository: mode === "ci" && registry ? `${registry}/${str("image") ?? `${repoName}-sandbox`}` : undefined,
    dockerfile: resolve(str("dockerfile") ?? join(context, "Dockerfile.dev")),
    context,
    buildArgs: {},
    podSecurity: "restricted",
    sandboxRole: validateSandboxRole(str("sandbox-role") ?? process.env.K8S_SANDBOX_ROLE ?? DEFAULT_SANDBOX_ROLE, "--sandbox-role"),
    localVolumesConfig: localVolumes(str("local-volumes") ?? process.env.K8S_SANDBOX_LOCAL_VOLUMES ?? DEFAULT_LOCAL_VOLUMES_CONFIG),
    // Local mode mounts the worktree's addons directory (the same convention
    // Dockerfile.dev builds from), so an edit on the host shows in the pod.
    localAddonsPath: mode === "local" ? resolve(git.root, str("addons-dir") ?? "addons") : undefined,
    dryRun: flags["dry-run"] === true,
  };
}

function localVolumes(text: string): string {
  const { namespace, name } = parseObjectRef(text, "--local-volumes");
  return `${namespace}/${name}`;
}
