// The Action's inputs, read once into typed settings. Every bad input is
// named in its error, so a user knows which line of their workflow to fix.
import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import * as core from "@actions/core";
import { parseDuration } from "../domain/duration.js";
import { parseImageRef } from "../adapters/image/registry.js";
import { InputError, quoteInput } from "../domain/errors.js";
import { validateSandboxRole } from "../domain/access.js";
import { DEFAULT_PREFIX, validateBaseDomain, validatePrefix } from "../domain/identity.js";
import type { PodSecurityLevel } from "../domain/metadata.js";
import type { CommandSetting } from "../domain/plan.js";
import { validateModules, validateTags } from "../domain/test-job.js";
import type { EngineSettings } from "../operations/engine.js";
import { bundledChartDir } from "../wiring/bundled-chart.js";

export interface ActionInputs {
  command: CommandSetting;
  /** command: test: the addons, Odoo's --test-tags and the Job's deadline. */
  test?: { modules: string[]; tags?: string; deadlineSeconds: number };
  kubeconfig?: string;
  /** Use KUBECONFIG / ~/.kube/config / in-cluster when `kubeconfig` is empty, instead of failing. */
  ambientCredentials: boolean;
  githubToken?: string;
  /** A prebuilt image to deploy (verified to carry the target commit); nothing is built. */
  imageRef?: string;
  /** command: build writes the image to this OCI archive instead of pushing it. */
  imageArchive?: string;
  requirePullRequest: boolean;
  builder: "auto" | "docker" | "buildah";
  forkLabel: string;
  comment: boolean;
  deployment: boolean;
  settings: EngineSettings;
}

const COMMANDS: readonly CommandSetting[] = ["auto", "deploy", "destroy", "extend", "sweep", "status", "build", "test"];

export function readInputs(
  get: (name: string) => string = (n) => core.getInput(n),
  workspace = process.env.GITHUB_WORKSPACE ?? process.cwd(),
): ActionInputs {
  const text = (name: string, fallback = "") => get(name).trim() || fallback;
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const value = text(name, fallback) as T;
    if (!allowed.includes(value)) throw new InputError(`${quoteInput(value)} is not one of ${allowed.join(", ")}`, { input: name });
    return value;
  };
  const bool = (name: string, fallback: boolean) => {
    const value = text(name, String(fallback)).toLowerCase();
    if (["true", "yes", "1", "on"].includes(value)) return true;
    if (["false", "no", "0", "off"].includes(value)) return false;
    throw new InputError(`${quoteInput(value)} is not true or false`, { input: name });
  };
  const duration = (name: string, fallback: string) => parseDuration(text(name, fallback), name);
  const lines = (name: string) =>
    get(name)
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
  const path = (p: string) => (isAbsolute(p) ? p : resolve(workspace, p));

  const buildArgs: Record<string, string> = {};
  for (const line of lines("build-args")) {
    const eq = line.indexOf("=");
    if (eq <= 0) throw new InputError(`${quoteInput(line)} is not KEY=value`, { input: "build-args" });
    buildArgs[line.slice(0, eq)] = line.slice(eq + 1);
  }
  for (const set of lines("set")) {
    if (set.indexOf("=") <= 0) throw new InputError(`${quoteInput(set)} is not key=value`, { input: "set" });
  }
  const registry = text("registry");
  const repository = process.env.GITHUB_REPOSITORY ?? "";
  const image = text("image", repository ? `${repository.toLowerCase()}-sandbox` : "");
  const baseDomain = text("base-domain");
  if (!baseDomain) throw new InputError("is required (the previews' hosts are <key>.<base-domain>)", { input: "base-domain" });
  const ttlMs = duration("ttl", "168h");
  const maxTtlMs = duration("max-ttl", "720h");
  if (maxTtlMs < ttlMs) throw new InputError(`must be at least ttl (${text("ttl", "168h")})`, { input: "max-ttl" });
  const valuesFiles = lines("values").map(path);
  for (const file of valuesFiles) if (!existsSync(file)) throw new InputError(`${quoteInput(file)} does not exist`, { input: "values" });
  const chart = text("chart") ? path(text("chart")) : bundledChartDir();
  const context = path(text("context", "."));
  const imageRef = text("image-ref") || undefined;
  if (imageRef) {
    try {
      parseImageRef(imageRef);
    } catch (error) {
      throw new InputError(error instanceof Error ? error.message : String(error), { input: "image-ref" });
    }
  }
  const maxText = text("max-sandboxes", "20");
  if (!/^\d{1,6}$/.test(maxText)) {
    throw new InputError(`${quoteInput(maxText)} is not a number (0 means no limit)`, { input: "max-sandboxes" });
  }

  const command = oneOf("command", COMMANDS, "auto");
  // Read always (so every input is asked for), checked only where they matter.
  const modulesText = text("modules");
  const tagsText = text("tags");
  const timeoutText = text("test-timeout", "30m");
  const test =
    command === "test"
      ? {
          modules: validateModules(modulesText, "modules"),
          tags: validateTags(tagsText, "tags"),
          deadlineSeconds: Math.ceil(parseDuration(timeoutText, "test-timeout") / 1000),
        }
      : undefined;

  return {
    command,
    test,
    kubeconfig: text("kubeconfig") || undefined,
    ambientCredentials: bool("ambient-credentials", false),
    githubToken: text("github-token") || undefined,
    imageRef,
    imageArchive: text("image-archive") ? path(text("image-archive")) : undefined,
    requirePullRequest: bool("require-pull-request", false),
    builder: oneOf("builder", ["auto", "docker", "buildah"] as const, "auto"),
    forkLabel: text("fork-label", "sandbox:allow"),
    comment: bool("comment", true),
    deployment: bool("deployment", true),
    settings: {
      repository: repository || undefined,
      prefix: validatePrefix(text("namespace-prefix", DEFAULT_PREFIX)),
      baseDomain: validateBaseDomain(baseDomain),
      scheme: oneOf("url-scheme", ["https", "http"] as const, "https"),
      ttlMs,
      maxTtlMs,
      waitTimeoutMs: duration("wait-timeout", "10m"),
      mode: "ci",
      chart,
      valuesFiles,
      sets: lines("set"),
      imageRepository: registry && image ? `${registry}/${image}` : undefined,
      dockerfile: path(text("dockerfile", join(context, "Dockerfile.dev"))),
      context,
      buildArgs,
      podSecurity: oneOf<PodSecurityLevel>("pod-security", ["restricted", "baseline", "privileged"], "restricted"),
      maxSandboxes: Number(maxText),
      sandboxRole: sandboxRole(get("sandbox-role")),
      dryRun: bool("dry-run", false),
    },
  };
}

/** Empty = no binding: a kubeconfig that already has the rights in every namespace (action.yml gives the default). */
function sandboxRole(raw: string): string | undefined {
  return validateSandboxRole(raw, "sandbox-role");
}
