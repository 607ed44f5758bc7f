// The `test` command at the front doors: the Action's inputs, the planner's
// routing of `command: test`, and the Job built from a sandbox's Deployment.
import { createRequire } from "node:module";
import type { V1Deployment, V1Job } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { readInputs } from "../../src/action/inputs.js";
import { InputError } from "../../src/domain/errors.js";
import { planEvent } from "../../src/domain/plan.js";
import { stoppedAtDeadline } from "../../src/operations/test.js";
import { buildTestJob, TEST_SCRIPT, testDatabaseName, validateModules, validateTags } from "../../src/domain/test-job.js";

const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: Record<string, unknown>[] }[];
const pullRequest = structuredClone(examples.find((d) => d.name === "pull_request")?.examples.find((e) => e.action === "opened"));

function inputs(values: Record<string, string>) {
  return readInputs((name) => values[name] ?? (name === "test-timeout" ? "30m" : ""), "/workspace");
}

describe("command: test in the Action", () => {
  it("reads modules, tags and the deadline, and needs modules", () => {
    const read = inputs({ command: "test", modules: "shop, shop_extra", tags: "/shop:TestCart", "base-domain": "p.example.com" });
    expect(read.test).toEqual({ modules: ["shop", "shop_extra"], tags: "/shop:TestCart", deadlineSeconds: 1800 });
    expect(() => inputs({ command: "test", "base-domain": "p.example.com" })).toThrow(InputError);
    expect(() => inputs({ command: "test", modules: "Shop;rm", "base-domain": "p.example.com" })).toThrow(/not an Odoo module name/);
    expect(inputs({ command: "deploy", modules: "whatever!", "base-domain": "p.example.com" }).test).toBeUndefined();
  });

  it("plans a test of the event's sandbox", () => {
    const plan = planEvent(
      { name: "pull_request", payload: pullRequest },
      { command: "test", forkLabel: "sandbox:allow", repository: "Codertocat/Hello-World" },
    );
    expect(plan.operation).toBe("test");
    expect(plan.target?.pullRequest).toBe(2);
  });
});

describe("the test Job", () => {
  const deployment: V1Deployment = {
    metadata: { name: "sandbox-odoo-dev-sandbox-odoo", namespace: "dev-sandbox-x" },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/component": "odoo" } },
      template: {
        metadata: {
          labels: {
            "app.kubernetes.io/name": "odoo-dev-sandbox",
            "app.kubernetes.io/component": "odoo",
            "k8s-dev-sandbox/postgres-client": "true",
          },
        },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 100 },
          initContainers: [
            { name: "config", image: "odoo:18", command: ["render"] },
            { name: "init-db", image: "odoo:18", env: [{ name: "ODOO_DATABASE", value: "odoo" }] },
          ],
          containers: [
            {
              name: "odoo",
              image: "reg/shop:sha-1",
              args: ["odoo", "--dev=all"],
              env: [{ name: "PGHOST", value: "pg" }],
              readinessProbe: { httpGet: { path: "/web/health", port: "http" } },
              ports: [{ name: "http", containerPort: 8069 }],
              resources: { limits: { cpu: "1" } },
              securityContext: { capabilities: { drop: ["ALL"] } },
              volumeMounts: [{ name: "data", mountPath: "/var/lib/odoo" }],
            },
          ],
          volumes: [
            { name: "data", persistentVolumeClaim: { claimName: "odoo-data" } },
            { name: "addons", persistentVolumeClaim: { claimName: "addons", readOnly: true } },
          ],
        },
      },
    },
  };
  const job = buildTestJob(deployment, { runId: "abc123", modules: ["shop"], tags: "/shop", database: "odoo", deadlineSeconds: 600 });
  const pod = job.spec?.template.spec;
  const container = pod?.containers[0];
  const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));

  it("runs the sandbox's image and environment, with a deadline, once, and cleans up after itself", () => {
    expect(job.metadata?.name).toBe("odoo-test-abc123");
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 3600 });
    expect(pod?.restartPolicy).toBe("Never");
    expect(container?.image).toBe("reg/shop:sha-1");
    expect(env.PGHOST).toBe("pg");
    expect(container?.securityContext).toEqual({ capabilities: { drop: ["ALL"] } });
    expect(pod?.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 100 });
    expect(container?.readinessProbe).toBeUndefined();
    expect(container?.ports).toBeUndefined();
  });

  it("keeps the configuration step, not the sandbox's database step, and a filestore of its own", () => {
    expect(pod?.initContainers?.map((c) => c.name)).toEqual(["config"]);
    expect(pod?.volumes).toEqual([
      { name: "data", emptyDir: {} },
      { name: "addons", persistentVolumeClaim: { claimName: "addons", readOnly: true } },
    ]);
  });

  it("reaches PostgreSQL as a client but is no Odoo pod for the Service or the Deployment", () => {
    const labels = job.spec?.template.metadata?.labels ?? {};
    expect(labels["k8s-dev-sandbox/postgres-client"]).toBe("true");
    expect(labels["app.kubernetes.io/component"]).toBe("odoo-test");
    expect(labels["k8s-dev-sandbox/test-run"]).toBe("abc123");
  });

  it("names a throwaway database per run and passes everything through the environment", () => {
    expect(env).toMatchObject({
      TEST_DATABASE: "odoo_test_abc123",
      TEST_MODULES: "shop",
      TEST_TAGS: "/shop",
      TEST_DB_FILTER: "^odoo_test_abc123$",
    });
    expect(container?.command).toEqual(["/bin/bash", "-c", TEST_SCRIPT, "odoo-test"]);
    expect(TEST_SCRIPT).toContain("--test-enable --stop-after-init");
    expect(TEST_SCRIPT).toContain('DROP DATABASE IF EXISTS :"db" WITH (FORCE)');
    expect(TEST_SCRIPT).toContain("trap stop TERM INT");
    // Odoo connects once: the script first waits for PostgreSQL to answer this new pod.
    expect(TEST_SCRIPT.indexOf("pg_isready -q -d postgres")).toBeLessThan(TEST_SCRIPT.indexOf("pid=$!"));
    expect(testDatabaseName("x".repeat(80), "abc123")).toHaveLength(63);
    expect(testDatabaseName("x".repeat(80), "abc123").endsWith("_test_abc123")).toBe(true);
  });

  it("accepts module names and tag specs, nothing else", () => {
    expect(validateModules("a_b,c ,a_b")).toEqual(["a_b", "c"]);
    expect(() => validateModules("")).toThrow(InputError);
    expect(() => validateModules("a$(id)")).toThrow(InputError);
    expect(validateTags(" ")).toBeUndefined();
    expect(validateTags("-slow,/shop:TestX.test_y,post_install")).toBe("-slow,/shop:TestX.test_y,post_install");
    expect(() => validateTags("a b")).toThrow(InputError);
    expect(() => validateTags("$(reboot)")).toThrow(InputError);
  });
});

describe("a container seen ended before its Job is marked (busy cluster)", () => {
  const job = (deadline: number | undefined, startTime?: string) =>
    ({ spec: { activeDeadlineSeconds: deadline, template: {} }, status: startTime ? { startTime: new Date(startTime) } : {} }) as V1Job;

  it("counts an end at the deadline as the deadline's", () => {
    expect(stoppedAtDeadline(job(15, "2026-11-26T05:00:00Z"), new Date("2026-11-26T05:00:15Z"))).toBe(true);
    expect(stoppedAtDeadline(job(15, "2026-11-26T05:00:00Z"), new Date("2026-11-26T05:00:14.2Z"))).toBe(true);
  });

  it("counts an earlier end as the run's own, and needs every fact to say deadline", () => {
    expect(stoppedAtDeadline(job(15, "2026-11-26T05:00:00Z"), new Date("2026-11-26T05:00:09Z"))).toBe(false);
    expect(stoppedAtDeadline(job(undefined, "2026-11-26T05:00:00Z"), new Date("2026-11-26T05:01:00Z"))).toBe(false);
    expect(stoppedAtDeadline(job(15), new Date("2026-11-26T05:01:00Z"))).toBe(false);
    expect(stoppedAtDeadline(job(15, "2026-11-26T05:00:00Z"), undefined)).toBe(false);
  });
});
