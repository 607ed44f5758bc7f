// Helm through its CLI (3.13+ and 4), one argument array per call. The pure
// `upgradeArgs` is what unit tests cover; the class runs it and recovers a
// release that a killed run left in a pending state.
import type { Runner } from "./exec.js";
import { ToolError } from "./exec.js";

export interface ReleaseStatus {
  name: string;
  namespace: string;
  status: string;
  revision: number;
  chart?: string;
}

export interface UpgradeRequest {
  release: string;
  namespace: string;
  chart: string;
  /** The user's values files first, then the engine's generated file last. */
  valuesFiles: string[];
  /** `key=value` pairs, passed with --set (the Action's `set` input). */
  sets?: string[];
  timeout?: string;
  wait?: boolean;
  kubeconfig?: string;
  kubeContext?: string;
}

export function upgradeArgs(req: UpgradeRequest): string[] {
  const args = ["upgrade", "--install", req.release, req.chart, "--namespace", req.namespace, "--history-max", "10"];
  for (const file of req.valuesFiles) args.push("--values", file);
  for (const set of req.sets ?? []) args.push("--set", set);
  if (req.wait) args.push("--wait", "--timeout", req.timeout ?? "10m");
  else if (req.timeout) args.push("--timeout", req.timeout);
  args.push("--output", "json");
  return [...args, ...connectionArgs(req)];
}

function connectionArgs(c: { kubeconfig?: string; kubeContext?: string }): string[] {
  const args: string[] = [];
  if (c.kubeconfig) args.push("--kubeconfig", c.kubeconfig);
  if (c.kubeContext) args.push("--kube-context", c.kubeContext);
  return args;
}

const PENDING = new Set(["pending-install", "pending-upgrade", "pending-rollback"]);

export class Helm {
  constructor(
    private readonly run: Runner,
    private readonly binary = "helm",
    private readonly connection: { kubeconfig?: string; kubeContext?: string } = {},
  ) {}

  /** `helm status|history <release>` as JSON, with this Helm's connection flags. */
  private releaseQuery(verb: "status" | "history", release: string, namespace: string): string[] {
    return [verb, release, "--namespace", namespace, "--output", "json", ...connectionArgs(this.connection)];
  }

  async version(): Promise<string> {
    const { stdout } = await this.run(this.binary, ["version", "--template", "{{.Version}}"]);
    return stdout.trim();
  }

  async status(release: string, namespace: string): Promise<ReleaseStatus | undefined> {
    try {
      const { stdout } = await this.run(this.binary, this.releaseQuery("status", release, namespace));
      return parseRelease(stdout);
    } catch (error) {
      if (error instanceof ToolError && /not found/i.test(error.stderr)) return undefined;
      throw error;
    }
  }

  /** `signal` stops helm (the sandbox's lock was lost): it must not go on changing a release someone else may now own. */
  async upgradeInstall(
    req: Omit<UpgradeRequest, "kubeconfig" | "kubeContext">,
    options: { onLine?: (line: string) => void; signal?: AbortSignal } = {},
  ): Promise<ReleaseStatus> {
    const { stdout } = await this.run(this.binary, upgradeArgs({ ...req, ...this.connection }), options);
    const parsed = parseRelease(stdout);
    if (!parsed) throw new Error(`helm upgrade gave no release: ${stdout.slice(0, 200)}`);
    return parsed;
  }

  /**
   * A run killed mid-upgrade leaves the release pending, and Helm then
   * refuses every change ("another operation is in progress"). Only called
   * under the sandbox's lock, so no live helm process owns that state.
   * Returns what it did, for the log.
   */
  async recoverPending(release: string, namespace: string): Promise<string | undefined> {
    const current = await this.status(release, namespace);
    if (!current || !PENDING.has(current.status)) return undefined;
    const history = await this.history(release, namespace);
    const good = history.filter((h) => h.status === "deployed" || h.status === "superseded").sort((a, b) => b.revision - a.revision)[0];
    if (good) {
      await this.run(this.binary, [
        "rollback",
        release,
        String(good.revision),
        "--namespace",
        namespace,
        ...connectionArgs(this.connection),
      ]);
      return `release ${release} was stuck in ${current.status}; rolled back to revision ${good.revision}`;
    }
    // Never installed successfully: remove the half-made release. Volumes
    // claimed by StatefulSets are not Helm's and survive.
    await this.uninstall(release, namespace);
    return `release ${release} was stuck in ${current.status} with no good revision; uninstalled it`;
  }

  async history(release: string, namespace: string): Promise<ReleaseStatus[]> {
    const { stdout } = await this.run(this.binary, this.releaseQuery("history", release, namespace));
    const rows = JSON.parse(stdout) as { revision: number; status: string; chart?: string }[];
    return rows.map((r) => ({ name: release, namespace, status: r.status, revision: r.revision, chart: r.chart }));
  }

  async uninstall(release: string, namespace: string, signal?: AbortSignal): Promise<"uninstalled" | "absent"> {
    if (!(await this.status(release, namespace))) return "absent";
    await this.run(
      this.binary,
      ["uninstall", release, "--namespace", namespace, "--wait", "--timeout", "5m", ...connectionArgs(this.connection)],
      { signal },
    );
    return "uninstalled";
  }
}

/** `helm status -o json` and `helm upgrade -o json` print the release object. */
export function parseRelease(text: string): ReleaseStatus | undefined {
  const start = text.indexOf("{");
  if (start < 0) return undefined;
  const release = JSON.parse(text.slice(start)) as {
    name: string;
    namespace: string;
    version: number;
    info?: { status?: string };
    chart?: { metadata?: { name?: string; version?: string } };
  };
  const chart = release.chart?.metadata ? `${release.chart.metadata.name}-${release.chart.metadata.version}` : undefined;
  return { name: release.name, namespace: release.namespace, status: release.info?.status ?? "unknown", revision: release.version, chart };
}
