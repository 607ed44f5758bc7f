// The engine's safety properties on the real ground: it never deploys into,
// destroys or extends a namespace of the same name that is not its own (no
// managed-by label, or another repository's sandbox), and destroy is
// idempotent (twice, or of a sandbox that never existed).
import { afterAll, describe, expect, it } from "vitest";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { SandboxError } from "../../src/domain/errors.js";
import { repoHash } from "../../src/domain/metadata.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import type { Engine } from "../../src/operations/engine.js";
import { extend } from "../../src/operations/extend.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { kubectl, kubectlJson, namespaceGone, uniqueName } from "../support/cluster.js";
import { groundSettings } from "../support/engine.js";

const PREFIX = `${uniqueName("own")}-`;
const REPO = "acme/shop";
const HOUR = 3600_000;

/** null: a front door that serves no repository (the CLI). */
function engine(repository: string | null = REPO): Engine {
  return createEngine({
    settings: groundSettings(PREFIX, "own.example.test", { repository: repository ?? undefined }),
    logger: new MemoryLogger(),
    holder: "ownership-test",
  });
}

async function namespace(name: string, labels: Record<string, string>, annotations: Record<string, string> = {}): Promise<void> {
  await kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels, annotations } }),
  });
}

async function refusal(promise: Promise<unknown>): Promise<SandboxError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SandboxError);
  return error as SandboxError;
}

async function untouched(name: string, annotations: Record<string, string>): Promise<void> {
  const ns = await kubectlJson<{
    metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
    status: { phase: string };
  }>(["get", "namespace", name]);
  expect(ns.status.phase).toBe("Active");
  for (const [key, value] of Object.entries(annotations)) expect(ns.metadata.annotations?.[key]).toBe(value);
  expect(ns.metadata.annotations?.["k8s-dev-sandbox/status"]).toBeUndefined();
}

afterAll(async () => {
  const { stdout } = await kubectl(["get", "namespaces", "-o", "name"]);
  for (const name of stdout
    .split("\n")
    .map((l) => l.replace("namespace/", ""))
    .filter((n) => n.startsWith(PREFIX))) {
    await kubectl(["delete", "namespace", name, "--wait=false"], { reject: false });
  }
});

describe("a namespace of the same name that is not ours", () => {
  it("without our label: deploy, destroy and extend refuse and leave it as it is", async () => {
    const name = `${PREFIX}foreign`;
    const mark = { team: "payments", "k8s-dev-sandbox/expires-at": "2020-01-01T00:00:00Z" };
    await namespace(name, { team: "payments" }, mark);
    const e = engine();
    for (const attempt of [() => deploy(e, { branch: "foreign" }), () => destroy(e, "foreign"), () => extend(e, "foreign", HOUR, "test")]) {
      const error = await refusal(attempt());
      expect(error.message).toContain(`namespace ${name} exists but is not managed by k8s-dev-sandbox; refusing to touch it`);
      expect(error.step).toBe("namespace");
    }
    await untouched(name, mark);
  });

  it("another repository's sandbox: refused by deploy, destroy and extend; an operator's CLI may still remove it", async () => {
    const name = `${PREFIX}theirs`;
    const labels = {
      "app.kubernetes.io/managed-by": "k8s-dev-sandbox",
      "k8s-dev-sandbox/key": "theirs",
      "k8s-dev-sandbox/repo-hash": repoHash("other/app"),
    };
    const mark = { "k8s-dev-sandbox/repo": "other/app", "k8s-dev-sandbox/expires-at": "2099-01-01T00:00:00Z" };
    await namespace(name, labels, mark);
    const e = engine();
    for (const attempt of [() => deploy(e, { branch: "theirs" }), () => destroy(e, "theirs"), () => extend(e, "theirs", HOUR, "test")]) {
      const error = await refusal(attempt());
      expect(error.message).toContain("belongs to repository other/app, not acme/shop");
    }
    await untouched(name, mark);
    // The CLI serves no repository: its user is the cluster's operator.
    const removed = await destroy(engine(null), "theirs", { waitGone: true });
    expect(removed.existed).toBe(true);
    await namespaceGone(name);
  });

  it("a sandbox recording no repository is not taken over by one that has one", async () => {
    const name = `${PREFIX}anonymous`;
    await namespace(name, { "app.kubernetes.io/managed-by": "k8s-dev-sandbox", "k8s-dev-sandbox/key": "anonymous" });
    const error = await refusal(deploy(engine(), { branch: "anonymous" }));
    expect(error.message).toContain("records no repository");
  });
});

describe("destroy is idempotent", () => {
  it("of a sandbox that never existed: nothing to do, no error", async () => {
    const done = await destroy(engine(), "never-was");
    expect(done).toMatchObject({ result: "destroyed", existed: false });
  });

  it("twice in a row: the second finds it gone or going, and neither fails", async () => {
    const e = engine();
    const deployed = await deploy(e, { branch: "twice" });
    expect(deployed.result).toBe("deployed");
    const ns = await kubectlJson<{ metadata: { labels: Record<string, string> } }>(["get", "namespace", deployed.identity.namespace]);
    expect(ns.metadata.labels["k8s-dev-sandbox/repo-hash"]).toBe(repoHash(REPO));
    const first = await destroy(e, deployed.identity.key);
    const second = await destroy(e, deployed.identity.key);
    expect(first.existed).toBe(true);
    expect(second.result).toBe("destroyed");
    await namespaceGone(deployed.identity.namespace, 120_000);
    const third = await destroy(e, deployed.identity.key);
    expect(third.existed).toBe(false);
  });
});
