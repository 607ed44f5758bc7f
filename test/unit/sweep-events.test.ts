// What the TTL CronJob's sweep writes as Kubernetes Events: one per removed
// sandbox (Normal, SandboxRemoved) or failed removal (Warning), about the Job
// that ran, naming the namespace. The API server's acceptance of exactly
// these objects is proven in test/integration/sweep-events.test.ts.
import { describe, expect, it } from "vitest";
import { SWEEP_CONTROLLER, sweepEventObject } from "../../src/adapters/kubernetes/sweep-events.js";
import { MAX_EVENT_NOTE, sweepEvent } from "../../src/domain/sweep.js";

const target = {
  namespace: "k8s-sandbox-system",
  job: "sweep-29123456",
  jobUid: "4a1f0c2e-0000-4000-8000-000000000001",
  instance: "sweep-29123456-x7k2p",
};

describe("sweep events", () => {
  it("says which sandbox went, which namespace, and why", () => {
    expect(sweepEvent({ key: "pr-12", namespace: "dev-sandbox-pr-12", reason: "expired" })).toEqual({
      type: "Normal",
      reason: "SandboxRemoved",
      action: "Delete",
      note: "removed sandbox pr-12: deleted namespace dev-sandbox-pr-12 (expired: its time was up (expires-at passed))",
    });
    expect(sweepEvent({ key: "feature-x", namespace: "dev-sandbox-feature-x", reason: "branch-gone" }).note).toContain(
      "branch-gone: its branch is gone",
    );
  });

  it("reports a failed removal as a Warning with the error and what happens next", () => {
    const event = sweepEvent({ key: "pr-3", namespace: "dev-sandbox-pr-3", error: 'namespaces "dev-sandbox-pr-3" is forbidden' });
    expect(event.type).toBe("Warning");
    expect(event.reason).toBe("SandboxRemovalFailed");
    expect(event.note).toBe(
      'could not remove sandbox pr-3 (namespace dev-sandbox-pr-3): namespaces "dev-sandbox-pr-3" is forbidden; the next sweep tries again',
    );
  });

  it("keeps the note within the API's 1024 bytes, counting bytes, not characters", () => {
    const event = sweepEvent({ key: "k", namespace: "dev-sandbox-k", error: "é".repeat(2000) });
    expect(Buffer.byteLength(event.note, "utf8")).toBeLessThanOrEqual(MAX_EVENT_NOTE);
    expect(event.note.endsWith("...")).toBe(true);
    expect(event.note).not.toContain("\uFFFD");
  });

  it("is an events.k8s.io/v1 Event in the Job's namespace, about the Job, related to the namespace", () => {
    const content = sweepEvent({ key: "pr-12", namespace: "dev-sandbox-pr-12", reason: "expired" });
    const object = sweepEventObject(target, { namespace: "dev-sandbox-pr-12" }, content, new Date("2026-11-26T03:00:00.123Z"));
    expect(object).toEqual({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { generateName: "sweep-29123456-", namespace: "k8s-sandbox-system" },
      eventTime: "2026-11-26T03:00:00.123000Z",
      type: "Normal",
      reason: "SandboxRemoved",
      action: "Delete",
      note: content.note,
      reportingController: SWEEP_CONTROLLER,
      reportingInstance: "sweep-29123456-x7k2p",
      regarding: { apiVersion: "batch/v1", kind: "Job", namespace: "k8s-sandbox-system", name: "sweep-29123456", uid: target.jobUid },
      related: { apiVersion: "v1", kind: "Namespace", name: "dev-sandbox-pr-12" },
    });
    // Without a uid (a Job whose pod does not know it), the reference is by name.
    const byName = sweepEventObject({ ...target, jobUid: undefined }, { namespace: "n" }, content, new Date(0));
    expect(byName.regarding).not.toHaveProperty("uid");
  });
});
