// The real node's configuration and the local-path provisioner's decisions,
// as pure functions: what each setting must be, and why (docs/test-ground.md).
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isReclaimable, PROVISIONER, volumeFor } from "../ground/local-path-provisioner.js";
import {
  clusterDnsManifests,
  cniConflist,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  NODE_IP,
  type NodePaths,
  POD_CIDR,
  REAL_NODE_SCHEDULING,
  registryHostsToml,
} from "../ground/node-config.js";

const paths: NodePaths = {
  containerdRoot: "/c/root",
  containerdState: "/run/x/state",
  containerdSocket: "/run/x/containerd.sock",
  cniConfDir: "/g/cni",
  cniDataDir: "/g/ipam",
  registryHostsDir: "/g/hosts",
  kubeletRoot: "/g/kubelet",
  podLogsDir: "/g/logs",
};

describe("the real node's configuration", () => {
  it("containerd: runc with cgroupfs, restricted oom_score_adj, the ground's pause image and registry hosts", () => {
    const toml = containerdConfig(paths, "127.0.0.1:5000/ground/pause:abc");
    expect(toml).toContain('sandbox_image = "127.0.0.1:5000/ground/pause:abc"');
    expect(toml).toContain("restrict_oom_score_adj = true");
    expect(toml).toContain("SystemdCgroup = false");
    expect(toml).toContain('runtime_type = "io.containerd.runc.v2"');
    expect(toml).toContain('config_path = "/g/hosts"');
    expect(toml).toContain('address = "/run/x/containerd.sock"');
  });

  it("the registry is plain HTTP on loopback, pull only", () => {
    const toml = registryHostsToml("127.0.0.1:5000");
    expect(toml).toContain('server = "http://127.0.0.1:5000"');
    expect(toml).toContain('capabilities = ["pull", "resolve"]');
  });

  it("CNI: the ground's own bridge and range, no masquerade (pods do not leave the machine)", () => {
    const conf = JSON.parse(cniConflist("/g/ipam"));
    const bridge = conf.plugins[0];
    expect(bridge.bridge).toBe("ksb0");
    expect(bridge.ipMasq).toBe(false);
    expect(bridge.ipam.ranges[0][0]).toMatchObject({ subnet: POD_CIDR, gateway: NODE_IP });
  });

  it("kubelet: authenticated and authorized API, no read-only port, cgroup v1 allowed, registered tainted", () => {
    const config = parse(kubeletConfig({ caCert: "/pki/ca.crt", port: 10250, healthzPort: 10248, paths }));
    expect(config.readOnlyPort).toBe(0);
    expect(config.authentication.anonymous.enabled).toBe(false);
    expect(config.authorization.mode).toBe("Webhook");
    expect(config.address).toBe(NODE_IP);
    expect(config.healthzBindAddress).toBe("127.0.0.1");
    expect(config.failCgroupV1).toBe(false);
    expect(config.cgroupDriver).toBe("cgroupfs");
    expect(config.registerWithTaints).toEqual([{ key: "ground.k8s-dev-sandbox/real-node", value: "true", effect: "NoSchedule" }]);
    expect(config.clusterDNS).toEqual(["10.96.0.10"]);
  });

  it("kube-proxy: iptables, NodePorts on loopback only, servers on loopback", () => {
    const config = parse(kubeProxyConfig("/k", 1, 2));
    expect(config.mode).toBe("iptables");
    expect(config.nodePortAddresses).toEqual(["127.0.0.0/8"]);
    expect(config.healthzBindAddress).toBe("127.0.0.1:1");
    expect(config.metricsBindAddress).toBe("127.0.0.1:2");
    expect(config.clusterCIDR).toBe(POD_CIDR);
  });

  it("CoreDNS: in kube-system as k8s-app=kube-dns (what charts' NetworkPolicies select), on the real node, non-root", () => {
    const objects = clusterDnsManifests("r/coredns:1") as {
      kind: string;
      metadata: { namespace?: string };
      spec?: Record<string, unknown>;
    }[];
    const deployment = objects.find((o) => o.kind === "Deployment") as unknown as {
      spec: { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } };
    };
    expect(deployment.spec.template.metadata.labels).toEqual({ "k8s-app": "kube-dns" });
    expect(deployment.spec.template.spec.nodeSelector).toEqual(REAL_NODE_SCHEDULING.nodeSelector);
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    const service = objects.find((o) => o.kind === "Service") as unknown as { spec: { clusterIP: string } };
    expect(service.spec.clusterIP).toBe("10.96.0.10");
  });
});

function claim(overrides: Partial<V1PersistentVolumeClaim> = {}, annotations: Record<string, string> = {}): V1PersistentVolumeClaim {
  return {
    metadata: {
      name: "data",
      namespace: "ns",
      uid: "u-1",
      annotations: { "volume.kubernetes.io/storage-provisioner": PROVISIONER, ...annotations },
    },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Gi" } } },
    status: { phase: "Pending" },
    ...overrides,
  };
}

describe("the local-path provisioner", () => {
  it("serves a pending claim of its class with a host directory under its root, bound to that claim", () => {
    const pv = volumeFor(claim(), "standard", "/tmp/root");
    expect(pv?.metadata?.name).toBe("pvc-u-1");
    expect(pv?.spec?.hostPath?.path).toBe("/tmp/root/ns_data_pvc-u-1");
    expect(pv?.spec?.claimRef).toMatchObject({ namespace: "ns", name: "data", uid: "u-1" });
    expect(pv?.spec?.capacity).toEqual({ storage: "2Gi" });
    expect(pv?.spec?.persistentVolumeReclaimPolicy).toBe("Delete");
  });

  it.each([
    ["bound already", claim({ status: { phase: "Bound" } })],
    ["a volume named", claim({ spec: { volumeName: "x", resources: { requests: { storage: "1Gi" } } } })],
    ["another class", claim({ spec: { storageClassName: "fast", resources: { requests: { storage: "1Gi" } } } })],
    ["another provisioner", claim({}, { "volume.kubernetes.io/storage-provisioner": "other.example/x" })],
    ["a selector", claim({ spec: { selector: { matchLabels: { a: "b" } }, resources: { requests: { storage: "1Gi" } } } })],
  ])("leaves a claim alone: %s", (_what, c) => {
    expect(volumeFor(c, "standard", "/tmp/root")).toBeUndefined();
  });

  const volume = (phase: string, path: string, by = PROVISIONER, policy = "Delete"): V1PersistentVolume => ({
    metadata: { name: "pv", annotations: { "pv.kubernetes.io/provisioned-by": by } },
    spec: { persistentVolumeReclaimPolicy: policy, hostPath: { path } },
    status: { phase },
  });

  it("reclaims its own released volumes, and never a path outside its root", () => {
    expect(isReclaimable(volume("Released", "/tmp/root/ns_data_pvc-1"), "/tmp/root")).toBe(true);
    expect(isReclaimable(volume("Bound", "/tmp/root/ns_data_pvc-1"), "/tmp/root")).toBe(false);
    expect(isReclaimable(volume("Released", "/tmp/root/../etc"), "/tmp/root")).toBe(false);
    expect(isReclaimable(volume("Released", "/tmp/root"), "/tmp/root")).toBe(false);
    expect(isReclaimable(volume("Released", "/home/dev/addons", "kubernetes.io/host-path"), "/tmp/root")).toBe(false);
    expect(isReclaimable(volume("Released", "/tmp/root/x", PROVISIONER, "Retain"), "/tmp/root")).toBe(false);
  });
});
