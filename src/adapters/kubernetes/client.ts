// The engine's view of a cluster: the few calls it needs, on top of
// @kubernetes/client-node. Library errors become messages a user can act on.
import { createHash } from "node:crypto";
import {
  ApiException,
  AppsV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  type V1Namespace,
} from "@kubernetes/client-node";

export const FIELD_MANAGER = "k8s-dev-sandbox";

export interface KubeConnection {
  config: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  coordination: CoordinationV1Api;
  rbac: RbacAuthorizationV1Api;
  authentication: AuthenticationV1Api;
  authorization: AuthorizationV1Api;
  objects: KubernetesObjectApi;
  /** The API server's address, for messages. */
  server: string;
}

/**
 * Loads a kubeconfig from content (the Action's secret input), else from
 * KUBECONFIG / ~/.kube/config, else the in-cluster service account.
 */
export function connect(options: { kubeconfigContent?: string; context?: string } = {}): KubeConnection {
  const config = new KubeConfig();
  if (options.kubeconfigContent?.trim()) config.loadFromString(options.kubeconfigContent);
  else config.loadFromDefault();
  if (options.context) config.setCurrentContext(options.context);
  reuseConnections(config);
  const cluster = config.getCurrentCluster();
  if (!cluster) {
    throw new Error("no Kubernetes cluster configured: pass a kubeconfig, set KUBECONFIG, or run inside a cluster");
  }
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    batch: config.makeApiClient(BatchV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    rbac: config.makeApiClient(RbacAuthorizationV1Api),
    authentication: config.makeApiClient(AuthenticationV1Api),
    authorization: config.makeApiClient(AuthorizationV1Api),
    objects: KubernetesObjectApi.makeApiClient(config),
    server: cluster.server,
  };
}

/**
 * @kubernetes/client-node 2.x builds a new undici Agent for every request,
 * so every API call opened a new TLS connection: measured in the controller's
 * bench, TLS handshakes and secure contexts were a third of its CPU. Agents
 * are reused here, one per distinct set of TLS options (a rotated client
 * certificate gets a new one); credentials sent as headers (tokens) are
 * applied per request as before. The method is private in the typings: if a
 * later version drops it, this does nothing and requests work as they did.
 */
function reuseConnections(config: KubeConfig): void {
  const target = config as unknown as { createDispatcher?: (cluster: unknown, agentOptions: unknown) => unknown };
  const create = target.createDispatcher;
  if (typeof create !== "function") return;
  const agents = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = optionsKey(config.createDispatcherOptions(cluster as never, agentOptions as never));
    let agent = agents.get(key);
    if (agent === undefined) {
      agent = create.call(config, cluster, agentOptions);
      agents.set(key, agent);
    }
    return agent;
  };
}

/** A short key for TLS options: certificates and keys are hashed, not serialized (JSON of a Buffer is an array of numbers). */
function optionsKey(value: unknown): string {
  if (Buffer.isBuffer(value) || typeof value === "string") return createHash("sha256").update(value).digest("base64");
  if (Array.isArray(value)) return `[${value.map(optionsKey).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}:${optionsKey(v)}`)
      .join(",")}}`;
  }
  return String(value);
}

export function statusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  return undefined;
}

export function isNotFound(error: unknown): boolean {
  return statusCode(error) === 404;
}

export function isConflict(error: unknown): boolean {
  return statusCode(error) === 409;
}

export function isForbidden(error: unknown): boolean {
  return statusCode(error) === 403;
}

/** Network errors and 5xx/429 are worth retrying; 4xx answers are final. */
export function isTransient(error: unknown): boolean {
  const code = statusCode(error);
  if (code !== undefined) return code === 429 || code >= 500;
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? "")}` : String(error);
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|fetch failed|other side closed|UND_ERR/i.test(text);
}

/** The API server's own explanation, from an ApiException's raw body. */
export function describeKubeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as unknown;
    let message: string | undefined;
    if (typeof body === "string") {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = body.slice(0, 500);
      }
    } else if (body && typeof body === "object") {
      message = (body as { message?: string }).message;
    }
    return `HTTP ${error.code}: ${message ?? error.message}`;
  }
  if (!(error instanceof Error)) return String(error);
  // fetch says only "fetch failed"; the reason (ECONNREFUSED, a TLS error) is its cause.
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error && !error.message.includes(cause.message) ? `${error.message}: ${cause.message}` : error.message;
}

/** Retries `fn` on transient failures with backoff; gives up after `attempts`. */
export async function withRetry<T>(
  fn: () => Promise<T>,
  options: { attempts?: number; baseMs?: number; onRetry?: (error: unknown, attempt: number) => void } = {},
): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      options.onRetry?.(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(base * 2 ** (attempt - 1), 5_000)));
    }
  }
}

export interface NamespaceShape {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  resourceVersion?: string;
}

export function namespaceShape(ns: V1Namespace): NamespaceShape {
  return {
    name: ns.metadata?.name ?? "",
    labels: ns.metadata?.labels ?? {},
    annotations: ns.metadata?.annotations ?? {},
    creationTimestamp: toIso(ns.metadata?.creationTimestamp),
    deletionTimestamp: toIso(ns.metadata?.deletionTimestamp),
    resourceVersion: ns.metadata?.resourceVersion,
  };
}

function toIso(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? value.toISOString() : String(value);
}

export class Namespaces {
  constructor(private readonly kube: KubeConnection) {}

  async get(name: string): Promise<NamespaceShape | undefined> {
    try {
      return namespaceShape(await withRetry(() => this.kube.core.readNamespace({ name })));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list(labelSelector: string): Promise<NamespaceShape[]> {
    const list = await withRetry(() => this.kube.core.listNamespace({ labelSelector }));
    return list.items.map(namespaceShape);
  }

  /**
   * Server-side apply of the labels and annotations we own. Fields other
   * managers set (a user's own labels) are left alone.
   */
  async apply(name: string, labels: Record<string, string>, annotations: Record<string, string>): Promise<NamespaceShape> {
    const body = { apiVersion: "v1", kind: "Namespace", metadata: { name, labels, annotations } };
    const applied = await withRetry(() =>
      this.kube.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
    return namespaceShape(applied as V1Namespace);
  }

  /** Merge-patches annotations (null removes one) without taking ownership of the rest. */
  async annotate(name: string, annotations: Record<string, string | null>): Promise<void> {
    // null deletes a key in a merge patch; the client's typings do not know that.
    const body = { apiVersion: "v1", kind: "Namespace", metadata: { name, annotations: annotations as Record<string, string> } };
    await withRetry(() => this.kube.objects.patch(body, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch));
  }

  /** Deletes; a namespace already gone counts as deleted. */
  async delete(name: string): Promise<"deleted" | "absent"> {
    try {
      await withRetry(() => this.kube.core.deleteNamespace({ name, propagationPolicy: "Background" }));
      return "deleted";
    } catch (error) {
      if (isNotFound(error)) return "absent";
      throw error;
    }
  }

  /**
   * Deletes only if the namespace is still as it was read (its
   * resourceVersion): a deploy or extend that touched it since makes this
   * "changed" (409), and nothing is deleted. No lock needed, and no rights
   * inside the namespace: what the sweep's ServiceAccount relies on.
   */
  async deleteIfUnchanged(name: string, resourceVersion: string): Promise<"deleted" | "absent" | "changed"> {
    try {
      await withRetry(() =>
        this.kube.core.deleteNamespace({ name, propagationPolicy: "Background", body: { preconditions: { resourceVersion } } }),
      );
      return "deleted";
    } catch (error) {
      if (isNotFound(error)) return "absent";
      if (isConflict(error)) return "changed";
      throw error;
    }
  }

  async waitGone(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!(await this.get(name))) return true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return false;
  }
}
