// Keeps the sandbox namespaces in memory by list-then-watch, so readers (the
// controller's dashboard) never ask the API server themselves: one list at
// start, then only what changes. A watch that ends is resumed from the last
// resourceVersion it saw; one that fails, or whose version expired (410),
// is replaced by a fresh list, after which namespaces deleted meanwhile are
// reported gone. While it is down, `problem` says why.
import { Watch } from "@kubernetes/client-node";
import { describeKubeError, type KubeConnection, type NamespaceShape, namespaceShape } from "./client.js";

export type SandboxChange = { type: "upsert"; namespace: NamespaceShape } | { type: "remove"; name: string };

export interface SandboxWatchOptions {
  /** Label selector of the namespaces to hold (ours: MANAGED_SELECTOR). */
  labelSelector: string;
  onChange: (change: SandboxChange) => void;
  /** Called when the watch goes down or comes back (problem undefined). */
  onHealth?: (problem: string | undefined) => void;
  restartDelayMs?: number;
}

export class SandboxWatch {
  private readonly cache = new Map<string, NamespaceShape>();
  private abort?: AbortController;
  private closed = false;
  private problemText?: string = "not started";
  private running?: Promise<void>;

  /** The connection is asked for only when the watch starts: a controller without a cluster still answers /healthz. */
  constructor(
    private readonly connection: () => KubeConnection,
    private readonly options: SandboxWatchOptions,
  ) {}

  /** Why the view may be stale, or undefined while the watch is connected. */
  get problem(): string | undefined {
    return this.problemText;
  }

  /** The namespaces as last seen. */
  snapshot(): NamespaceShape[] {
    return [...this.cache.values()];
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.abort?.abort();
    await this.running;
  }

  private health(problem: string | undefined): void {
    if (problem === this.problemText) return;
    this.problemText = problem;
    this.options.onHealth?.(problem);
  }

  private async loop(): Promise<void> {
    let resourceVersion: string | undefined;
    while (!this.closed) {
      try {
        if (resourceVersion === undefined) resourceVersion = await this.relist();
        const started = Date.now();
        resourceVersion = await this.watchFrom(resourceVersion);
        // A stream the server keeps ending at once is not resumed in a tight loop.
        if (Date.now() - started < 1_000 && !this.closed) await this.pause();
      } catch (error) {
        resourceVersion = undefined;
        if (this.closed) return;
        this.health(`the watch on sandbox namespaces failed: ${error instanceof Error ? describeKubeError(error) : String(error)}`);
        await this.pause();
      }
    }
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.options.restartDelayMs ?? 2_000));
  }

  /** Lists, reports what changed since the cache, and returns the list's resourceVersion. */
  private async relist(): Promise<string | undefined> {
    const list = await this.connection().core.listNamespace({ labelSelector: this.options.labelSelector });
    const seen = new Set<string>();
    for (const item of list.items) {
      const ns = namespaceShape(item);
      seen.add(ns.name);
      this.upsert(ns);
    }
    for (const name of [...this.cache.keys()]) {
      if (!seen.has(name)) this.remove(name);
    }
    this.health(undefined);
    return list.metadata?.resourceVersion;
  }

  /**
   * Watches until the server ends the stream; resolves with the version to
   * resume from, or undefined when a fresh list is needed (410 Gone).
   */
  private watchFrom(from: string | undefined): Promise<string | undefined> {
    let version = from;
    return new Promise((resolve, reject) => {
      const watch = new Watch(this.connection().config);
      watch
        .watch(
          "/api/v1/namespaces",
          { labelSelector: this.options.labelSelector, resourceVersion: from, allowWatchBookmarks: true },
          (type: string, object: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) => {
            if (type === "ERROR") {
              // 410: the version is too old to resume from; anything else: start over too.
              version = undefined;
              return;
            }
            if (object.metadata?.resourceVersion) version = object.metadata.resourceVersion;
            if (type === "BOOKMARK") return;
            const ns = namespaceShape(object as Parameters<typeof namespaceShape>[0]);
            if (type === "DELETED") this.remove(ns.name);
            else this.upsert(ns);
          },
          (error: unknown) => {
            if (error && !this.closed && !isAbort(error)) reject(error);
            else resolve(version);
          },
        )
        .then((controller) => {
          this.abort = controller;
          if (this.closed) controller.abort();
          else this.health(undefined);
        })
        .catch(reject);
    });
  }

  private upsert(ns: NamespaceShape): void {
    this.cache.set(ns.name, ns);
    this.options.onChange({ type: "upsert", namespace: ns });
  }

  private remove(name: string): void {
    if (!this.cache.delete(name)) return;
    this.options.onChange({ type: "remove", name });
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || /aborted/i.test(error.message));
}
