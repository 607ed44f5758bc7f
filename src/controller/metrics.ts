// What /metrics shows (Prometheus text, prom-client): every delivery counted
// once by its final result, the queue, and how long operations take.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** A delivery's final result; each delivery is counted exactly once. */
export type DeliveryResult = "processed" | "duplicate" | "ignored" | "refused" | "failed";

/**
 * The event label takes only names GitHub sends to this controller; any other
 * header value (hostile or new) is counted as "other", so a sender cannot
 * grow the label set.
 */
const KNOWN_EVENTS = new Set([
  "push",
  "pull_request",
  "delete",
  "create",
  "issue_comment",
  "workflow_run",
  "workflow_job",
  "check_run",
  "check_suite",
  "installation",
  "installation_repositories",
  "ping",
  "status",
  "pull_request_review",
  "pull_request_review_comment",
  // Work the reconcile made itself, counted beside what GitHub sent.
  "reconcile",
]);

export function eventLabel(name: string | undefined): string {
  return name && KNOWN_EVENTS.has(name) ? name : "other";
}

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly deliveries = new Counter({
    name: "k8s_sandbox_webhook_deliveries_total",
    help: "Webhook deliveries by event and final result (processed, duplicate, ignored, refused, failed)",
    labelNames: ["event", "result"] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "k8s_sandbox_queue_depth",
    help: "Acknowledged deliveries waiting to run",
    registers: [this.registry],
  });
  readonly running = new Gauge({
    name: "k8s_sandbox_operations_running",
    help: "Operations running now (at most the concurrency limit)",
    registers: [this.registry],
  });
  readonly operationSeconds = new Histogram({
    name: "k8s_sandbox_operation_duration_seconds",
    help: "How long one delivery's operation took, by operation and result",
    labelNames: ["operation", "result"] as const,
    buckets: [0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  readonly ackSeconds = new Histogram({
    name: "k8s_sandbox_webhook_ack_seconds",
    help: "From the request's arrival to its answer (verify, queue, acknowledge)",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  count(event: string | undefined, result: DeliveryResult): void {
    this.deliveries.inc({ event: eventLabel(event), result });
  }
}
