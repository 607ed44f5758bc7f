// Fault drills for the engine on the real ground: a run killed midway, a Helm
// release left pending, two deploys of one sandbox at once, a deploy whose
// pods never become ready, a run that loses its lock, and the API server
// dropping out during a sweep. Names are per run: a reused ground may still
// be deleting an earlier run's namespaces.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { SandboxError } from "../../src/domain/errors.js";
import { sandboxIdentity } from "../../src/domain/identity.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import type { Engine, EngineSettings } from "../../src/operations/engine.js";
import { sweep } from "../../src/operations/sweep.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { cliEntry } from "../support/cli.js";
import { eventually, kubectl, kubectlJson, namespaceGone, tool, uniqueName } from "../support/cluster.js";
import { allowLocalVolumes, groundSettings } from "../support/engine.js";
import { startFlakyApi } from "../support/flaky-api.js";

const PREFIX = `${uniqueName("drill")}-`;
let localVolumes = "";

function settings(extra: Partial<EngineSettings> = {}): EngineSettings {
  return groundSettings(PREFIX, "drill.example.test", { localVolumesConfig: localVolumes, ...extra });
}

function engine(
  holder: string,
  extra: Partial<EngineSettings> = {},
  options: { kubeconfigContent?: string; lockLeaseSeconds?: number } = {},
): Engine & { log: MemoryLogger } {
  const log = new MemoryLogger();
  return Object.assign(
    createEngine({
      settings: settings(extra),
      logger: log,
      holder,
      lockLeaseSeconds: options.lockLeaseSeconds ?? 6,
      kubeconfigContent: options.kubeconfigContent,
    }),
    { log },
  );
}

async function helmStatus(namespace: string): Promise<{ status: string; revision: number }> {
  const { stdout } = await execa(tool("HELM"), ["status", "sandbox", "-n", namespace, "-o", "json"], {
    env: { KUBECONFIG: process.env.KUBECONFIG },
  });
  const release = JSON.parse(stdout);
  return { status: release.info.status, revision: release.version };
}

beforeAll(async () => {
  // The killed run mounts examples/sample-addons in local mode: allow the repository, as an admin would.
  localVolumes = await allowLocalVolumes([process.cwd()]);
});

afterAll(async () => {
  // Through the engine, so cluster-scoped objects (local mode's volume) go too;
  // and until they are gone, so nothing of this run is left terminating.
  const cleaner = engine("drill-cleanup");
  const { stdout } = await kubectl(["get", "namespaces", "-o", "name"]);
  const ours = stdout
    .split("\n")
    .map((l) => l.replace("namespace/", ""))
    .filter((n) => n.startsWith(PREFIX));
  for (const name of ours) {
    await destroy(cleaner, name.slice(PREFIX.length)).catch(() =>
      kubectl(["delete", "namespace", name, "--wait=false"], { reject: false }),
    );
  }
  for (const name of ours) await namespaceGone(name, 120_000);
  const [configNamespace, configName] = localVolumes.split("/");
  if (configNamespace && configName) await kubectl(["-n", configNamespace, "delete", "configmap", configName], { reject: false });
});

describe("fault drills", () => {
  it("a deploy killed midway is completed by the next run", async () => {
    const branch = "drill/killed";
    const namespace = sandboxIdentity({ branch, prefix: PREFIX, baseDomain: "drill.example.test" }).namespace;
    // The CLI in its own process (local mode: no image step), killed with
    // SIGKILL while it holds the sandbox's lock: no cleanup code runs.
    const child = spawn(
      process.execPath,
      [
        await cliEntry(),
        "create",
        "--mode",
        "local",
        "--addons-dir",
        "examples/sample-addons",
        "--branch",
        branch,
        "--prefix",
        PREFIX,
        "--base-domain",
        "drill.example.test",
        "--chart",
        "charts/odoo-dev-sandbox",
      ],
      // Its own process group, killed whole below: a runner or pod that dies
      // takes helm with it. (SIGKILL of the CLI alone left its helm running on;
      // under load that orphan still held the release when the re-run came.)
      { env: { ...process.env, K8S_SANDBOX_LEASE_SECONDS: "6", K8S_SANDBOX_LOCAL_VOLUMES: localVolumes }, stdio: "ignore", detached: true },
    );
    await eventually(
      "the killed run to hold the lock",
      async () => (await kubectl(["-n", namespace, "get", "lease", "k8s-dev-sandbox-lock"], { reject: false })).exitCode === 0,
      60_000,
      25,
    );
    process.kill(-(child.pid as number), "SIGKILL");
    const drill = engine("drill-rerun", { mode: "local", localAddonsPath: join(process.cwd(), "examples/sample-addons") });
    const done = await deploy(drill, { branch, commit: "c".repeat(40) });
    // The lease of the dead holder had to run out first: the re-run waited, then converged.
    expect(drill.log.lines.join("\n")).toMatch(/waiting for k8s-sandbox cli .* to finish with drill-killed/);
    expect(["deployed", "unchanged"]).toContain(done.result);
    expect((await helmStatus(namespace)).status).toBe("deployed");
    const ns = await kubectlJson<{ metadata: { annotations: Record<string, string> } }>(["get", "ns", namespace]);
    expect(ns.metadata.annotations["k8s-dev-sandbox/status"]).toBe("ready");
  });

  it("a Helm release left pending by a killed helm is recovered", async () => {
    const branch = "drill/pending";
    const first = await deploy(engine("drill-pending-1"), { branch });
    const namespace = first.identity.namespace;
    // An upgrade killed while helm waits leaves the release in pending-upgrade;
    // its new pod crash-loops (kwok stage), so helm is surely still waiting.
    const crash = "odoo.podLabels.ground\\.k8s-dev-sandbox/behaviour=crashloop";
    const helm = execa(
      tool("HELM"),
      ["upgrade", "sandbox", "charts/odoo-dev-sandbox", "-n", namespace, "--reuse-values", "--set", crash, "--wait", "--timeout", "5m"],
      {
        env: { KUBECONFIG: process.env.KUBECONFIG },
        reject: false,
      },
    );
    await eventually("pending-upgrade", async () => (await helmStatus(namespace)).status === "pending-upgrade", 30_000, 50);
    helm.kill("SIGKILL");
    await helm;
    expect((await helmStatus(namespace)).status).toBe("pending-upgrade");
    const drill = engine("drill-pending-2");
    const done = await deploy(drill, { branch, commit: "d".repeat(40) });
    expect(done.result).toBe("deployed");
    expect(drill.log.lines.join("\n")).toMatch(/stuck in pending-upgrade; rolled back to revision 1/);
    expect((await helmStatus(namespace)).status).toBe("deployed");
  });

  it("two deploys of one sandbox at once: one waits for the other, the release stays healthy", async () => {
    const branch = "drill/concurrent";
    const a = engine("drill-A");
    const b = engine("drill-B");
    const [ra, rb] = await Promise.all([deploy(a, { branch, commit: "e".repeat(40) }), deploy(b, { branch, commit: "e".repeat(40) })]);
    const waited = [...a.log.lines, ...b.log.lines].filter((l) => /waiting for drill-[AB] to finish/.test(l));
    expect(waited.length).toBeGreaterThan(0);
    expect([ra.result, rb.result].sort()).toEqual(["deployed", "unchanged"]);
    expect(await helmStatus(ra.identity.namespace)).toEqual({ status: "deployed", revision: 1 });
  });

  it("a deploy whose pods never become ready fails early with evidence and keeps its namespace", async () => {
    const drill = engine("drill-crash", { waitTimeoutMs: 60_000, failFastAfterMs: 5_000 });
    // The ground's kwok stage turns pods with this label into a crash loop.
    const values = join(tmpdir(), `crash-values-${process.pid}.yaml`);
    writeFileSync(values, stringify({ odoo: { podLabels: { "ground.k8s-dev-sandbox/behaviour": "crashloop" } } }));
    drill.settings.valuesFiles = [values];
    const error = await deploy(drill, { branch: "drill/crash" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SandboxError);
    const failure = error as SandboxError;
    expect(failure.step).toBe("wait ready");
    expect(failure.sandbox).toMatch(/^drill-crash/);
    expect(failure.message).toMatch(/CrashLoopBackOff/);
    expect(failure.evidence).toMatch(/log of odoo/);
    expect(failure.evidence).toMatch(/kwok simulates this container/);
    expect(failure.hint).toMatch(/namespace is kept/);
    // Failed on the crash loop, not by running into the 60 s wait timeout.
    expect(failure.message).not.toMatch(/not ready after/);
    const ns = await kubectlJson<{ metadata: { annotations: Record<string, string> }; status: { phase: string } }>([
      "get",
      "ns",
      `${PREFIX}${failure.sandbox}`,
    ]);
    expect(ns.status.phase).toBe("Active");
    expect(ns.metadata.annotations["k8s-dev-sandbox/status"]).toBe("failed");
    expect(ns.metadata.annotations["k8s-dev-sandbox/last-step"]).toBe("wait ready");
    expect(ns.metadata.annotations["k8s-dev-sandbox/expires-at"]).toMatch(/^\d{4}-\d\d-\d\dT/);
  }, 200_000);

  it("a run that loses its lock stops at once and leaves the record to the new holder", async () => {
    // Crash-looping pods keep the run in its wait; a short lease renews every second.
    const values = join(tmpdir(), `lost-values-${process.pid}.yaml`);
    writeFileSync(values, stringify({ odoo: { podLabels: { "ground.k8s-dev-sandbox/behaviour": "crashloop" } } }));
    const drill = engine(
      "drill-lost",
      { valuesFiles: [values], waitTimeoutMs: 120_000, failFastAfterMs: 120_000 },
      { lockLeaseSeconds: 3 },
    );
    const deploying = deploy(drill, { branch: "drill/lost" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const namespace = sandboxIdentity({ branch: "drill/lost", prefix: PREFIX, baseDomain: "drill.example.test" }).namespace;
    await eventually("the run to wait for its pods", async () => drill.log.lines.some((l) => /waiting \(\d+s\)/.test(l)), 60_000, 100);
    // Another run takes the lease over (as one would after ours expired).
    const started = Date.now();
    await kubectl([
      "-n",
      namespace,
      "patch",
      "lease",
      "k8s-dev-sandbox-lock",
      "--type=merge",
      "-p",
      '{"spec":{"holderIdentity":"drill-thief [0badc0de]"}}',
    ]);
    const error = (await deploying) as SandboxError;
    expect(error).toBeInstanceOf(SandboxError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error.message).toMatch(/lost the lock of .*drill-lost-[0-9a-f]+: drill-thief took it over/);
    expect(error.hint).toMatch(/another run may have taken the sandbox over/);
    // It did not write "failed" over whatever the new holder records.
    const ns = await kubectlJson<{ metadata: { annotations: Record<string, string> } }>(["get", "ns", namespace]);
    expect(ns.metadata.annotations["k8s-dev-sandbox/status"]).not.toBe("failed");
    // Nor did it delete the lease it no longer holds.
    const lease = await kubectlJson<{ spec: { holderIdentity: string } }>(["-n", namespace, "get", "lease", "k8s-dev-sandbox-lock"]);
    expect(lease.spec.holderIdentity).toBe("drill-thief [0badc0de]");
  }, 200_000);

  it("the API server dropping out during a sweep: retried, and nothing wrongly deleted", async () => {
    const flaky = await startFlakyApi(process.env.KUBECONFIG as string);
    const names = { expired: [] as string[], fresh: [] as string[] };
    for (let i = 0; i < 6; i++) {
      for (const kind of ["expired", "fresh"] as const) {
        const key = `sweep-${kind}-${i}`;
        const expires = kind === "expired" ? "2020-01-01T00:00:00Z" : "2099-01-01T00:00:00Z";
        await kubectl(["apply", "-f", "-"], {
          input: JSON.stringify({
            apiVersion: "v1",
            kind: "Namespace",
            metadata: {
              name: PREFIX + key,
              labels: { "app.kubernetes.io/managed-by": "k8s-dev-sandbox", "k8s-dev-sandbox/key": key },
              annotations: { "k8s-dev-sandbox/expires-at": expires },
            },
          }),
        });
        names[kind].push(PREFIX + key);
      }
    }
    const drill = engine("drill-sweep", {}, { kubeconfigContent: flaky.kubeconfig });
    try {
      // The API goes dark at the sweep's first DELETE (that request is lost
      // unanswered) and refuses connections for 2 s: the engine must come back.
      flaky.outageOn((method) => method === "DELETE", 2_000);
      const first = await sweep(drill, {}, { concurrency: 2 });
      expect(flaky.outageStartedAt, "the sweep deleted something through the proxy").toBeDefined();
      expect(flaky.refused, "the engine retried while the API was dark").toBeGreaterThan(0);
      // Whatever the outage made fail is completed by the next sweep.
      const second = first.failed.length > 0 ? await sweep(drill) : first;
      expect(second.failed).toEqual([]);
      expect(flaky.forwarded.filter((r) => r.startsWith("DELETE /api/v1/namespaces/")).length).toBeGreaterThanOrEqual(names.expired.length);
      for (const name of names.expired) await namespaceGone(name);
      for (const name of names.fresh)
        expect((await kubectlJson<{ status: { phase: string } }>(["get", "ns", name])).status.phase).toBe("Active");
    } finally {
      await flaky.close();
    }
  }, 200_000);
});
