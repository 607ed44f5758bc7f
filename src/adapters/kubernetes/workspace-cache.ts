// Informers (list once, then watch) over the agent's objects in the workspace
// namespace, so observe reads memory instead of four lists per request. Used
// only for observe: a check before a write (is there a volume? a Job?) asks
// the API server, so a cache a moment behind never causes a second create.
// A watch that fails is restarted; until the first list has arrived, and
// while a restart is pending, snapshot() answers undefined and the caller
// lists directly.
import {
  type Informer,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  type V1Deployment,
  type V1Job,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from "@kubernetes/client-node";
import { LABELS, MANAGED_BY } from "../../domain/workspace/names.js";
import type { KubeConnection } from "./client.js";

const MANAGED = `${LABELS.managedBy}=${MANAGED_BY}`;

interface Watched<T extends KubernetesObject> {
  informer: Informer<T> & ObjectCache<T> & { latestResourceVersion(): string };
  /** The watch failed and is not back yet. */
  failed: boolean;
}

export class WorkspaceCache {
  private readonly deployments: Watched<V1Deployment>;
  private readonly pods: Watched<V1Pod>;
  private readonly claims: Watched<V1PersistentVolumeClaim>;
  private readonly jobs: Watched<V1Job>;
  private stopped = false;

  constructor(
    kube: KubeConnection,
    namespace: string,
    private readonly onError: (message: string) => void,
  ) {
    const ns = encodeURIComponent(namespace);
    this.deployments = this.watch(kube, `/apis/apps/v1/namespaces/${ns}/deployments`, () =>
      kube.apps.listNamespacedDeployment({ namespace, labelSelector: MANAGED }),
    );
    this.pods = this.watch(kube, `/api/v1/namespaces/${ns}/pods`, () => kube.core.listNamespacedPod({ namespace, labelSelector: MANAGED }));
    this.claims = this.watch(kube, `/api/v1/namespaces/${ns}/persistentvolumeclaims`, () =>
      kube.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector: MANAGED }),
    );
    this.jobs = this.watch(kube, `/apis/batch/v1/namespaces/${ns}/jobs`, () =>
      kube.batch.listNamespacedJob({ namespace, labelSelector: MANAGED }),
    );
  }

  private watch<T extends KubernetesObject>(
    kube: KubeConnection,
    path: string,
    list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
  ): Watched<T> {
    const informer = makeInformer<T>(kube.config, path, list as never, MANAGED) as Watched<T>["informer"];
    const watched: Watched<T> = { informer, failed: false };
    // "connect" comes before the list has arrived (client-node's ListWatch); the
    // list has arrived once a resource version is known (cleared again on 410 Gone).
    informer.on("connect", () => {
      watched.failed = false;
    });
    informer.on("error", (error: unknown) => {
      watched.failed = true;
      if (this.stopped) return;
      this.onError(
        `watch of ${path} failed (${error instanceof Error ? error.message : String(error)}); observe lists directly until it is back`,
      );
      setTimeout(() => {
        if (!this.stopped) informer.start().catch(() => undefined);
      }, 2_000);
    });
    return watched;
  }

  async start(): Promise<void> {
    await Promise.all([this.deployments, this.pods, this.claims, this.jobs].map((w) => w.informer.start()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.deployments, this.pods, this.claims, this.jobs].map((w) => w.informer.stop()));
  }

  snapshot():
    | { deployments: readonly V1Deployment[]; pods: readonly V1Pod[]; claims: readonly V1PersistentVolumeClaim[]; jobs: readonly V1Job[] }
    | undefined {
    const all = [this.deployments, this.pods, this.claims, this.jobs];
    if (this.stopped || !all.every((w) => !w.failed && w.informer.latestResourceVersion() !== "")) return undefined;
    return {
      deployments: this.deployments.informer.list(),
      pods: this.pods.informer.list(),
      claims: this.claims.informer.list(),
      jobs: this.jobs.informer.list(),
    };
  }
}
