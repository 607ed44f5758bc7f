// Proof that the ground's real node runs real containers: processes with the
// image's user, Jobs that exit with their real code, a CronJob that fires,
// cluster DNS, in-cluster access to the API through the `kubernetes`
// Service, images pulled from the ground's registry, and kwok still serving
// the pods that do not ask for the real node.
import { execa } from "execa";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { REAL_NODE_NAME, REAL_NODE_SCHEDULING } from "../ground/node-config.js";
import { ISOLATION_CHAIN } from "../ground/real-node.js";
import { eventually, kubectl, kubectlJson, uniqueName } from "../support/cluster.js";
import { execIn, groundImage, realNodeMissing, requireRealNode } from "../support/real-node.js";

const created: string[] = [];
async function namespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await kubectl(["create", "namespace", name]);
  created.push(name);
  return name;
}

async function apply(ns: string, objects: object[]): Promise<void> {
  await kubectl(["-n", ns, "apply", "-f", "-"], { input: objects.map((o) => stringify(o)).join("---\n") });
}

const restricted = {
  allowPrivilegeEscalation: false,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

function podSpec(command: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...REAL_NODE_SCHEDULING,
    restartPolicy: "Never",
    containers: [{ name: "main", image: groundImage("PYTHON"), command, securityContext: restricted }],
    ...extra,
  };
}

afterAll(async () => {
  if (realNodeMissing()) return;
  for (const ns of created) await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"], { reject: false });
});

describe("the ground's real node", () => {
  beforeEach((ctx) => requireRealNode(ctx));

  it("is a kubelet at the API server's version, Ready, and tainted so only pods that ask land there", async () => {
    const node = await kubectlJson<{
      spec: { taints?: { key: string }[] };
      status: { nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } };
    }>(["get", "node", REAL_NODE_NAME]);
    const server = await kubectlJson<{ serverVersion: { gitVersion: string } }>(["version"]);
    expect(node.status.nodeInfo.kubeletVersion).toBe(server.serverVersion.gitVersion);
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(node.spec.taints?.map((t) => t.key)).toContain("ground.k8s-dev-sandbox/real-node");
  });

  it("runs a pod's process as the image's user, pulled from the ground's registry", async () => {
    const ns = await namespace("real-pod");
    await apply(ns, [{ apiVersion: "v1", kind: "Pod", metadata: { name: "sleeper" }, spec: podSpec(["sleep", "600"]) }]);
    await kubectl(["-n", ns, "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s"]);
    const pod = await kubectlJson<{ spec: { nodeName: string }; status: { containerStatuses: { imageID: string }[] } }>([
      "-n",
      ns,
      "get",
      "pod",
      "sleeper",
    ]);
    expect(pod.spec.nodeName).toBe(REAL_NODE_NAME);
    expect(pod.status.containerStatuses[0]?.imageID).toContain(process.env.REGISTRY);
    const { out } = await execIn(ns, "sleeper", "main", ["sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '"]);
    expect(out).toMatch(/^65532\n/);
    expect(out).toContain("sleep 600");
  });

  it("without the toleration a pod still goes to kwok's node (kwok stays for scale)", async () => {
    const ns = await namespace("real-kwok");
    await apply(ns, [
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "fake" },
        spec: { containers: [{ name: "main", image: "registry.example/not-pulled:1", securityContext: restricted }] },
      },
    ]);
    await kubectl(["-n", ns, "wait", "--for=condition=Ready", "pod/fake", "--timeout=60s"]);
    const pod = await kubectlJson<{ spec: { nodeName: string } }>(["-n", ns, "get", "pod", "fake"]);
    expect(pod.spec.nodeName).toBe("ground-node-0");
  });

  it("gives Jobs their real exit code", async () => {
    const ns = await namespace("real-job");
    const job = (name: string, code: number) => ({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name },
      spec: { backoffLimit: 0, template: { spec: podSpec(["sh", "-c", `echo job ${name}; exit ${code}`]) } },
    });
    await apply(ns, [job("passes", 0), job("fails", 3)]);
    await kubectl(["-n", ns, "wait", "--for=condition=Complete", "job/passes", "--timeout=120s"]);
    await kubectl(["-n", ns, "wait", "--for=condition=Failed", "job/fails", "--timeout=120s"]);
    const pods = await kubectlJson<{ items: { status: { containerStatuses: { state: { terminated: { exitCode: number } } }[] } }[] }>([
      "-n",
      ns,
      "get",
      "pods",
      "-l",
      "job-name=fails",
    ]);
    expect(pods.items[0]?.status.containerStatuses[0]?.state.terminated.exitCode).toBe(3);
    const { stdout } = await kubectl(["-n", ns, "logs", "job/passes"]);
    expect(stdout.trim()).toBe("job passes");
  });

  it("fires a CronJob on its schedule", async () => {
    const ns = await namespace("real-cron");
    await apply(ns, [
      {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: "tick" },
        spec: {
          schedule: "* * * * *",
          successfulJobsHistoryLimit: 1,
          jobTemplate: { spec: { backoffLimit: 0, template: { spec: podSpec(["sh", "-c", "echo tick"]) } } },
        },
      },
    ]);
    // The CronJob controller starts a Job at the next minute: at most ~70 s.
    const job = await eventually(
      "the CronJob's first Job to complete",
      async () => {
        const jobs = await kubectlJson<{ items: { metadata: { name: string }; status: { succeeded?: number } }[] }>([
          "-n",
          ns,
          "get",
          "jobs",
        ]);
        return jobs.items.find((j) => j.status.succeeded === 1)?.metadata.name;
      },
      150_000,
      2_000,
    );
    const { stdout } = await kubectl(["-n", ns, "logs", `job/${job}`]);
    expect(stdout.trim()).toBe("tick");
  });

  it("resolves Service names through CoreDNS and reaches the API through the kubernetes Service", async () => {
    const ns = await namespace("real-incluster");
    await kubectl(["-n", ns, "create", "serviceaccount", "reader"]);
    await kubectl(["-n", ns, "create", "role", "reader", "--verb=get,list", "--resource=configmaps"]);
    await kubectl(["-n", ns, "create", "rolebinding", "reader", "--role=reader", `--serviceaccount=${ns}:reader`]);
    // What an in-cluster client (the controller, the agent, the TTL CronJob) does: the mounted token and CA, the Service name.
    const script = [
      "import json, ssl, socket, urllib.request",
      "print(socket.gethostbyname('kubernetes.default.svc.cluster.local'))",
      "base = '/var/run/secrets/kubernetes.io/serviceaccount/'",
      "token = open(base + 'token').read()",
      "context = ssl.create_default_context(cafile=base + 'ca.crt')",
      "def get(path):",
      "  request = urllib.request.Request('https://kubernetes.default.svc' + path, headers={'Authorization': 'Bearer ' + token})",
      "  try: return urllib.request.urlopen(request, context=context).status",
      "  except urllib.error.HTTPError as e: return e.code",
      `print(get('/api/v1/namespaces/${ns}/configmaps'))`,
      "print(get('/api/v1/namespaces/kube-system/secrets'))",
    ].join("\n");
    await apply(ns, [
      {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "client" },
        spec: { backoffLimit: 0, template: { spec: podSpec(["python3", "-c", script], { serviceAccountName: "reader" }) } },
      },
    ]);
    await kubectl(["-n", ns, "wait", "--for=condition=Complete", "job/client", "--timeout=120s"]);
    const { stdout } = await kubectl(["-n", ns, "logs", "job/client"]);
    const [address, allowed, forbidden] = stdout.trim().split("\n");
    expect(address).toBe("10.96.0.1");
    expect(allowed).toBe("200");
    expect(forbidden).toBe("403");
  });

  it("keeps the pods inside the ground: what leaves the bridge for elsewhere is dropped", async () => {
    // Checked as the rule, not by sending traffic off the machine.
    const { exitCode } = await execa("iptables", ["-w", "-C", "FORWARD", "-i", "ksb0", "!", "-o", "ksb0", "-j", ISOLATION_CHAIN], {
      reject: false,
    });
    expect(exitCode).toBe(0);
    const { stdout } = await execa("iptables", ["-w", "-S", ISOLATION_CHAIN]);
    expect(stdout).toContain(`-A ${ISOLATION_CHAIN} -j DROP`);
  });
});
