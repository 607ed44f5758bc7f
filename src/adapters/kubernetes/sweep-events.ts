// The sweep's report as Kubernetes Events (events.k8s.io/v1), so what the
// TTL CronJob removed is seen with `kubectl get events` in its namespace,
// long after the Job's pod and its log are gone. Each Event is about
// (`regarding`) the Job that ran the sweep and names the removed namespace in
// `related`: an Event lives in one namespace, and one about a cluster-wide
// Namespace would have to live in `default`, where the sweep has no rights.
import { EventsV1Api, type EventsV1Event } from "@kubernetes/client-node";
import { type SweepEventContent, sweepEvent } from "../../domain/sweep.js";
import type { SweepReporter } from "../../operations/sweep.js";
import type { KubeConnection } from "./client.js";
import { describeKubeError } from "./client.js";

/** `reportingController`: a qualified name, the same for every sweep. */
export const SWEEP_CONTROLLER = "k8s-dev-sandbox/sweep";

export interface EventTarget {
  /** Namespace of the Job, and so of its Events. */
  namespace: string;
  /** The Job that runs the sweep (the CronJob's, or one made from it). */
  job: string;
  /** The Job's uid, so the Event points at this Job and not a later one of the same name. */
  jobUid?: string;
  /** `reportingInstance`: the pod, so two runs' Events can be told apart. */
  instance: string;
}

/** The Event object for one sandbox; pure, so a unit test reads exactly what is sent. */
export function sweepEventObject(
  target: EventTarget,
  subject: { namespace: string },
  content: SweepEventContent,
  now: Date,
): EventsV1Event {
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { generateName: `${target.job.slice(0, 200)}-`, namespace: target.namespace },
    // MicroTime: six fractional digits, or the API server refuses it (see lease-lock.ts).
    eventTime: new Date(now).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date,
    type: content.type,
    reason: content.reason,
    action: content.action,
    note: content.note,
    reportingController: SWEEP_CONTROLLER,
    reportingInstance: target.instance.slice(0, 128),
    regarding: {
      apiVersion: "batch/v1",
      kind: "Job",
      namespace: target.namespace,
      name: target.job,
      ...(target.jobUid ? { uid: target.jobUid } : {}),
    },
    related: { apiVersion: "v1", kind: "Namespace", name: subject.namespace },
  };
}

/** Creates one Event per removed (or failed) sandbox. */
export class SweepEvents implements SweepReporter {
  private readonly api: EventsV1Api;

  constructor(
    kube: KubeConnection,
    private readonly target: EventTarget,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.api = kube.config.makeApiClient(EventsV1Api);
  }

  async removed(item: { key: string; namespace: string; reason: string }): Promise<void> {
    await this.send(item.namespace, sweepEvent(item));
  }

  async failed(item: { key: string; namespace: string; error: string }): Promise<void> {
    await this.send(item.namespace, sweepEvent(item));
  }

  private async send(namespace: string, content: SweepEventContent): Promise<void> {
    const body = sweepEventObject(this.target, { namespace }, content, this.now());
    try {
      await this.api.createNamespacedEvent({ namespace: this.target.namespace, body });
    } catch (error) {
      throw new Error(`could not record the Event "${content.note}" in ${this.target.namespace}: ${describeKubeError(error)}`);
    }
  }
}
