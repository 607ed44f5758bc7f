// Which repositories the controller serves, and how: the opt-in. One YAML
// document, kept in a ConfigMap in the controller's namespace (key
// repositories.yaml) and re-read every 30 s, so opting a repository in or out
// needs no restart. A repository that is not listed is ignored, whatever
// installation it belongs to. docs/controller.md, "Opting a repository in".
import { parse } from "yaml";
import { parseDuration } from "../domain/duration.js";
import { InputError, quoteInput } from "../domain/errors.js";
import { validateBaseDomain } from "../domain/identity.js";

export interface RepositoryConfig {
  /** owner/name as GitHub spells it. */
  repository: string;
  /** Previews are <key>.<baseDomain>. */
  baseDomain: string;
  scheme: "https" | "http";
  /** registry/name of the images the repository's CI pushes (tags sha-<commit>); absent: the chart's own image. */
  imageRepository?: string;
  /** A chart directory on the controller's file system; absent: the bundled chart. */
  chart?: string;
  /** Values YAML passed after the chart's own (the engine's generated values still win). */
  values?: string;
  ttlMs: number;
  maxTtlMs: number;
  /** The label by which a maintainer approves a fork's commit (the fork policy; the Action's fork-label). */
  forkLabel: string;
  /** The preview workflow started with workflow_dispatch when a commit has no image; absent: wait for the CI's own run. */
  buildWorkflow?: string;
  /** Branches are previewed only while they have an open pull request. */
  requirePullRequest: boolean;
}

const FIELDS = new Set([
  "baseDomain",
  "scheme",
  "image",
  "chart",
  "values",
  "ttl",
  "maxTtl",
  "forkLabel",
  "buildWorkflow",
  "requirePullRequest",
]);
const REPOSITORY = /^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/;

/** Parses the document; a mistake names the repository and the field. Keys are lower-cased (GitHub names are case-insensitive). */
export function parseRepositories(text: string, source = "repositories.yaml"): Map<string, RepositoryConfig> {
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (error) {
    throw new InputError(`${source} is not YAML: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new InputError(`${source} must map owner/name to settings`);
  const out = new Map<string, RepositoryConfig>();
  for (const [repository, raw] of Object.entries(doc)) {
    const where = `${source}, repository ${quoteInput(repository)}`;
    if (!REPOSITORY.test(repository)) throw new InputError(`${where}: not an owner/name`);
    const entry = (raw ?? {}) as Record<string, unknown>;
    if (typeof entry !== "object" || Array.isArray(entry)) throw new InputError(`${where}: settings must be a mapping`);
    for (const key of Object.keys(entry)) if (!FIELDS.has(key)) throw new InputError(`${where}: unknown field ${quoteInput(key)}`);
    const text = (key: string): string | undefined => {
      const value = entry[key];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== "string" || value.trim() === "") throw new InputError(`${where}: ${key} must be a non-empty string`);
      return value.trim();
    };
    const baseDomain = text("baseDomain");
    if (!baseDomain) throw new InputError(`${where}: baseDomain is required (previews are <key>.<baseDomain>)`);
    const scheme = text("scheme") ?? "https";
    if (scheme !== "https" && scheme !== "http") throw new InputError(`${where}: scheme must be https or http`);
    const ttlMs = parseDuration(text("ttl") ?? "7d", `${where}: ttl`);
    const maxTtlMs = Math.max(ttlMs, parseDuration(text("maxTtl") ?? "30d", `${where}: maxTtl`));
    const requirePullRequest = entry.requirePullRequest ?? false;
    if (typeof requirePullRequest !== "boolean") throw new InputError(`${where}: requirePullRequest must be true or false`);
    const values = entry.values === undefined ? undefined : entry.values;
    if (values !== undefined && typeof values !== "string") throw new InputError(`${where}: values must be a YAML string (values: |)`);
    const workflow = text("buildWorkflow");
    if (workflow && !/^[\w.-]{1,200}$/.test(workflow))
      throw new InputError(`${where}: buildWorkflow must be a workflow file name (preview.yml)`);
    out.set(repository.toLowerCase(), {
      repository,
      baseDomain: validateBaseDomain(baseDomain),
      scheme,
      imageRepository: text("image"),
      chart: text("chart"),
      values,
      ttlMs,
      maxTtlMs,
      forkLabel: text("forkLabel") ?? "sandbox:allow",
      buildWorkflow: workflow,
      requirePullRequest,
    });
  }
  return out;
}

/**
 * The current configuration, read by `load` at start and every `refreshMs`.
 * A document that does not parse keeps the last good one (and says so), so a
 * typo never opts every repository out at once.
 */
export class RepositoryCatalog {
  private current = new Map<string, RepositoryConfig>();
  private timer?: NodeJS.Timeout;
  private lastText?: string;
  loaded = false;

  constructor(
    private readonly load: () => Promise<string | undefined>,
    private readonly onProblem: (message: string) => void,
    private readonly refreshMs = 30_000,
  ) {}

  get(repository: string): RepositoryConfig | undefined {
    return this.current.get(repository.toLowerCase());
  }

  all(): RepositoryConfig[] {
    return [...this.current.values()];
  }

  get size(): number {
    return this.current.size;
  }

  async refresh(): Promise<void> {
    try {
      const text = (await this.load()) ?? "";
      if (text !== this.lastText) {
        this.current = parseRepositories(text);
        this.lastText = text;
      }
      this.loaded = true;
    } catch (error) {
      this.onProblem(
        `repository configuration not (re)loaded, the last good one stays: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
