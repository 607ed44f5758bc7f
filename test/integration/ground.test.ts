// Proof that the test ground is a real Kubernetes: the controllers, admission,
// RBAC, storage, Helm and the image pipeline behave as on a real cluster.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, kubectl, kubectlJson, namespaceGone, tool, uniqueName } from "../support/cluster.js";

const created: string[] = [];
async function namespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await kubectl(["create", "namespace", name]);
  created.push(name);
  return name;
}

afterAll(async () => {
  for (const ns of created) await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"], { reject: false });
});

describe("the test ground", () => {
  it("reports the Kubernetes version it was built as", async () => {
    const version = await kubectlJson<{ serverVersion: { gitVersion: string } }>(["version"]);
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.(3[4-9]|[4-9]\d)\.\d+$/);
  });

  it("makes a Deployment Available and binds a StatefulSet's claim", async () => {
    const ns = await namespace("ground-workloads");
    await kubectl(["-n", ns, "create", "deployment", "web", "--image=registry.example/web:1", "--replicas=2"]);
    await kubectl(["-n", ns, "apply", "-f", "-"], {
      input: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  serviceName: db
  replicas: 1
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec: { containers: [ { name: db, image: registry.example/db:1 } ] }
  volumeClaimTemplates:
    - metadata: { name: data }
      spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }
`,
    });
    await kubectl(["-n", ns, "wait", "--for=condition=Available", "deployment/web", "--timeout=60s"]);
    const deployment = await kubectlJson<{ status: { readyReplicas: number } }>(["-n", ns, "get", "deployment", "web"]);
    expect(deployment.status.readyReplicas).toBe(2);
    await kubectl(["-n", ns, "wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data-db-0", "--timeout=60s"]);
    await kubectl(["-n", ns, "wait", "--for=condition=Ready", "pod/db-0", "--timeout=60s"]);
    const pvc = await kubectlJson<{ spec: { volumeName: string; storageClassName: string } }>(["-n", ns, "get", "pvc", "data-db-0"]);
    expect(pvc.spec.storageClassName).toBe("standard");
    expect(pvc.spec.volumeName).not.toBe("");
  });

  it("completes the deletion of a namespace with objects in it", async () => {
    const ns = await namespace("ground-delete");
    await kubectl(["-n", ns, "create", "deployment", "web", "--image=registry.example/web:1"]);
    await kubectl(["-n", ns, "create", "configmap", "settings", "--from-literal=a=b"]);
    await kubectl(["-n", ns, "wait", "--for=condition=Available", "deployment/web", "--timeout=60s"]);
    await kubectl(["delete", "namespace", ns, "--wait=false"]);
    await namespaceGone(ns);
  });

  it("runs a CronJob whose Job's pod completes", async () => {
    const ns = await namespace("ground-cron");
    await kubectl(["-n", ns, "create", "cronjob", "tick", "--image=registry.example/tick:1", "--schedule=* * * * *"]);
    // CronJobs fire on minute boundaries: up to ~60 s plus the controller's sync.
    const job = await eventually(
      "the CronJob to create a Job that succeeds",
      async () => {
        const jobs = await kubectlJson<{ items: { metadata: { name: string }; status: { succeeded?: number } }[] }>([
          "-n",
          ns,
          "get",
          "jobs",
        ]);
        return jobs.items.find((j) => (j.status.succeeded ?? 0) >= 1);
      },
      100_000,
      2_000,
    );
    const pods = await kubectlJson<{ items: { status: { phase: string } }[] }>([
      "-n",
      ns,
      "get",
      "pods",
      "-l",
      `job-name=${job.metadata.name}`,
    ]);
    expect(pods.items.map((p) => p.status.phase)).toContain("Succeeded");
  }, 150_000);

  it("enforces a ResourceQuota and fills in LimitRange defaults", async () => {
    const ns = await namespace("ground-quota");
    await kubectl(["-n", ns, "apply", "-f", "-"], {
      input: `
apiVersion: v1
kind: ResourceQuota
metadata: { name: quota }
spec: { hard: { requests.cpu: 500m, limits.cpu: "1", pods: "5" } }
---
apiVersion: v1
kind: LimitRange
metadata: { name: defaults }
spec:
  limits:
    - type: Container
      default: { cpu: 200m, memory: 128Mi }
      defaultRequest: { cpu: 100m, memory: 64Mi }
`,
    });
    // Admission answers "status unknown for quota" until the controller has filled status.used.
    await eventually(
      "quota status",
      async () => (await kubectlJson<{ status?: { used?: object } }>(["-n", ns, "get", "resourcequota", "quota"])).status?.used,
    );
    await kubectl(["-n", ns, "run", "small", "--image=registry.example/app:1", "--restart=Never"]);
    const pod = await kubectlJson<{
      spec: { containers: { resources: { requests: Record<string, string>; limits: Record<string, string> } }[] };
    }>(["-n", ns, "get", "pod", "small"]);
    expect(pod.spec.containers[0]?.resources.requests).toEqual({ cpu: "100m", memory: "64Mi" });
    expect(pod.spec.containers[0]?.resources.limits).toEqual({ cpu: "200m", memory: "128Mi" });
    const big = await kubectl(
      [
        "-n",
        ns,
        "run",
        "big",
        "--image=registry.example/app:1",
        "--restart=Never",
        "--overrides",
        JSON.stringify({
          spec: {
            containers: [{ name: "big", image: "registry.example/app:1", resources: { requests: { cpu: "2" }, limits: { cpu: "2" } } }],
          },
        }),
      ],
      { reject: false },
    );
    expect(big.exitCode).not.toBe(0);
    expect(big.stderr).toMatch(/exceeded quota/);
  });

  it("lets a ServiceAccount list pods only where its Role allows", async () => {
    const ns = await namespace("ground-rbac");
    const other = await namespace("ground-rbac-other");
    await kubectl(["-n", ns, "create", "serviceaccount", "reader"]);
    await kubectl(["-n", ns, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods"]);
    await kubectl(["-n", ns, "create", "rolebinding", "reader", "--role=pod-reader", `--serviceaccount=${ns}:reader`]);
    const { stdout: token } = await kubectl(["-n", ns, "create", "token", "reader", "--duration=10m"]);
    const config = await kubectlJson<{ clusters: { cluster: { server: string; "certificate-authority"?: string } }[] }>([
      "config",
      "view",
      "--minify",
      "--raw",
    ]);
    const cluster = config.clusters[0]?.cluster;
    const asReader = (namespaceArg: string) =>
      execa(
        tool("KUBECTL"),
        [
          "--kubeconfig=/dev/null",
          `--server=${cluster?.server}`,
          `--certificate-authority=${cluster?.["certificate-authority"]}`,
          `--token=${token.trim()}`,
          "-n",
          namespaceArg,
          "get",
          "pods",
        ],
        { reject: false },
      );
    const own = await asReader(ns);
    expect(own.exitCode, own.stderr).toBe(0);
    const elsewhere = await asReader(other);
    expect(elsewhere.exitCode).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/forbidden/i);
  });

  it("denies what a ValidatingAdmissionPolicy forbids", async () => {
    const ns = await namespace("ground-vap");
    const policy = uniqueName("no-latest");
    await kubectl(["apply", "-f", "-"], {
      input: `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: ${policy} }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [ { apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps] } ]
  validations:
    - expression: "!has(object.data) || !('forbidden' in object.data)"
      message: "configmaps may not carry the key forbidden"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: ${policy} }
spec:
  policyName: ${policy}
  validationActions: [Deny]
  matchResources: { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${ns} } } }
`,
    });
    try {
      // Bindings take effect asynchronously: retry until the first denial.
      const denial = await eventually("the policy to deny", async () => {
        const attempt = await kubectl(["-n", ns, "create", "configmap", uniqueName("bad"), "--from-literal=forbidden=1"], {
          reject: false,
        });
        return attempt.exitCode !== 0 ? attempt.stderr : undefined;
      });
      expect(denial).toMatch(/configmaps may not carry the key forbidden/);
      const allowed = await kubectl(["-n", ns, "create", "configmap", "fine", "--from-literal=ok=1"], { reject: false });
      expect(allowed.exitCode, allowed.stderr).toBe(0);
    } finally {
      await kubectl(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy, "--ignore-not-found"], {
        reject: false,
      });
    }
  });

  it.each([["HELM"], ["HELM3"]] as const)("installs a chart with %s upgrade --install --wait and uninstalls it", async (helmVar) => {
    const helm = process.env[helmVar];
    expect(helm, `${helmVar} is set by the ground`).toBeTruthy();
    const ns = uniqueName("ground-helm");
    created.push(ns);
    const env = { KUBECONFIG: process.env.KUBECONFIG };
    await execa(
      helm as string,
      ["upgrade", "--install", "hello", "test/fixtures/hello-chart", "-n", ns, "--create-namespace", "--wait", "--timeout", "2m"],
      { env },
    );
    const { stdout } = await execa(helm as string, ["status", "hello", "-n", ns, "-o", "json"], { env });
    expect(JSON.parse(stdout).info.status).toBe("deployed");
    const deployment = await kubectlJson<{ status: { readyReplicas: number } }>(["-n", ns, "get", "deployment", "hello-hello"]);
    expect(deployment.status.readyReplicas).toBe(2);
    await execa(helm as string, ["uninstall", "hello", "-n", ns, "--wait"], { env });
    const left = await kubectl(["-n", ns, "get", "deployment,service", "-o", "name"]);
    expect(left.stdout.trim()).toBe("");
  });

  it("builds with buildah from a base that lives only in the local registry, and pushes", async () => {
    const registry = process.env.REGISTRY;
    expect(registry, "REGISTRY is set by the ground").toBeTruthy();
    const dir = await mkdtemp(join(tmpdir(), "ground-build-"));
    const base = `${registry}/ground-test/base:${uniqueName("v")}`;
    const app = `${registry}/ground-test/app:${uniqueName("v")}`;
    await writeFile(join(dir, "base.txt"), "base layer\n");
    await writeFile(join(dir, "Dockerfile.base"), "FROM scratch\nCOPY base.txt /base.txt\n");
    await writeFile(join(dir, "app.txt"), "app layer\n");
    await writeFile(
      join(dir, "Dockerfile"),
      `ARG BASE\nFROM \${BASE}\nCOPY app.txt /app.txt\nLABEL org.opencontainers.image.title=ground-test\n`,
    );
    const buildah = tool("BUILDAH");
    await execa(buildah, ["build", "--layers", "-f", join(dir, "Dockerfile.base"), "-t", base, dir]);
    await execa(buildah, ["push", "--tls-verify=false", base, `docker://${base}`]);
    // Forget the local copy, so the next build must pull the base from the registry.
    await execa(buildah, ["rmi", "-f", base]);
    await execa(buildah, [
      "build",
      "--layers",
      "--pull=always",
      "--tls-verify=false",
      "--build-arg",
      `BASE=${base}`,
      "-f",
      join(dir, "Dockerfile"),
      "-t",
      app,
      dir,
    ]);
    await execa(buildah, ["push", "--tls-verify=false", app, `docker://${app}`]);
    const [, repo, tag] = /^[^/]+\/(.+):(.+)$/.exec(app) ?? [];
    const response = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
      headers: { Accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" },
    });
    expect(response.status).toBe(200);
    const manifest = (await response.json()) as { layers: unknown[] };
    expect(manifest.layers.length).toBe(2);
  }, 180_000);
});
