// The real node's configuration, as pure functions of its settings: the
// containerd config, the CNI network, the kubelet and kube-proxy
// configurations and the cluster DNS objects. ground/real-node.ts writes and
// runs them; unit tests read them. The facts behind each setting (why runc,
// why cgroupfs, why restrict_oom_score_adj) are in docs/test-ground.md.
import { stringify } from "yaml";

export const REAL_NODE_NAME = "ground-real-0";
/** Every pod of the real node lives on this bridge, in this range. */
export const BRIDGE = "ksb0";
export const POD_CIDR = "10.88.0.0/24";
/** The bridge's own address: the node IP, the API server's and the kubelet's. */
export const NODE_IP = "10.88.0.1";
export const SERVICE_CIDR = "10.96.0.0/16";
export const CLUSTER_DNS_IP = "10.96.0.10";
/** Label and taint of the real node: only pods that ask for it land there. */
export const REAL_NODE_LABEL = { key: "ground.k8s-dev-sandbox/node", value: "real" } as const;
export const REAL_NODE_TAINT = { key: "ground.k8s-dev-sandbox/real-node", value: "true", effect: "NoSchedule" } as const;
/** What a pod spec needs to run on the real node (chart values use the same). */
export const REAL_NODE_SCHEDULING = {
  nodeSelector: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value },
  tolerations: [{ key: REAL_NODE_TAINT.key, operator: "Equal", value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
};

export interface NodePaths {
  /** containerd's content store: kept across `down`, so a warm start pulls nothing. */
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  cniConfDir: string;
  cniDataDir: string;
  registryHostsDir: string;
  kubeletRoot: string;
  podLogsDir: string;
}

export function containerdConfig(paths: NodePaths, pauseImage: string): string {
  // TOML written by hand: containerd 1.6 reads version 2 configs; every value
  // here is a quoted string, a boolean or a table, nothing needs escaping
  // beyond what JSON.stringify gives a string.
  const q = (value: string) => JSON.stringify(value);
  return `version = 2
root = ${q(paths.containerdRoot)}
state = ${q(paths.containerdState)}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(paths.containerdSocket)}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(pauseImage)}
  # The VM's bounding set lacks CAP_SYS_RESOURCE: without this, runc fails to
  # lower oom_score_adj for every sandbox ("can't get final child's PID").
  restrict_oom_score_adj = true
  enable_unprivileged_ports = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # No systemd on the host: cgroupfs, like the kubelet.
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(paths.cniConfDir)}
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ${q(paths.registryHostsDir)}
`;
}

/** hosts.toml for the ground's registry: plain HTTP on loopback, as a real cluster's registry mirror would be configured. */
export function registryHostsToml(registry: string): string {
  return `server = "http://${registry}"

[host."http://${registry}"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`;
}

export function cniConflist(dataDir: string): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "ground",
      plugins: [
        {
          type: "bridge",
          bridge: BRIDGE,
          isGateway: true,
          // No masquerade: pods have no way out of the ground (a FORWARD rule
          // drops what leaves the bridge, see real-node.ts).
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir,
            ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP, rangeStart: "10.88.0.10" }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "loopback" },
      ],
    },
    null,
    2,
  );
}

export interface KubeletSettings {
  caCert: string;
  port: number;
  healthzPort: number;
  paths: NodePaths;
}

export function kubeletConfig(s: KubeletSettings): string {
  return stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: NODE_IP,
    port: s.port,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: s.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: s.caCert },
    },
    authorization: { mode: "Webhook" },
    // The host runs hybrid cgroups without systemd; v1 support is deprecated
    // and must be allowed explicitly from 1.35 on.
    cgroupDriver: "cgroupfs",
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${s.paths.containerdSocket}`,
    clusterDNS: [CLUSTER_DNS_IP],
    clusterDomain: "cluster.local",
    podLogsDir: s.paths.podLogsDir,
    registerWithTaints: [REAL_NODE_TAINT],
    serializeImagePulls: false,
    maxPods: 110,
    // The ground shares a disk with everything else on the machine: evict
    // only when it is really full, and never collect the ground's images.
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // Fast feedback for tests: status and pod changes are reported promptly.
    nodeStatusUpdateFrequency: "5s",
    syncFrequency: "10s",
    fileCheckFrequency: "5s",
    shutdownGracePeriod: "0s",
  });
}

export function kubeProxyConfig(kubeconfig: string, healthzPort: number, metricsPort: number): string {
  return stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig },
    mode: "iptables",
    hostnameOverride: REAL_NODE_NAME,
    clusterCIDR: POD_CIDR,
    bindAddress: NODE_IP,
    healthzBindAddress: `127.0.0.1:${healthzPort}`,
    metricsBindAddress: `127.0.0.1:${metricsPort}`,
    // NodePorts answer on loopback only: nothing of the ground listens on the
    // machine's network interfaces.
    nodePortAddresses: ["127.0.0.0/8"],
    // The VM does not let kube-proxy raise nf_conntrack_max.
    conntrack: { maxPerCore: 0, min: 0 },
  });
}

/** CoreDNS as the cluster DNS, in kube-system with the labels charts select (k8s-app: kube-dns). */
export function clusterDnsManifests(image: string): object[] {
  const labels = { "k8s-app": "kube-dns" };
  // Port 53 inside the pod, as on every cluster: NetworkPolicies allow DNS by
  // the pod's port (after the Service's translation), so 53 it must be.
  const corefile = `.:53 {
    errors
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    reload
}
`;
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "coredns", namespace: "kube-system" } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "ground:coredns" },
      rules: [
        { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "ground:coredns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "ground:coredns" },
      subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: "kube-system" }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "coredns", namespace: "kube-system" }, data: { Corefile: corefile } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "coredns", namespace: "kube-system", labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "coredns",
            // The host's resolver is not the ground's business: CoreDNS
            // answers for cluster.local only and forwards nothing.
            dnsPolicy: "Default",
            enableServiceLinks: false,
            ...REAL_NODE_SCHEDULING,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              seccompProfile: { type: "RuntimeDefault" },
              // A safe, per-pod sysctl: a non-root process may bind 53 without any capability.
              sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "53" }],
            },
            containers: [
              {
                name: "coredns",
                image,
                args: ["-conf", "/etc/coredns/Corefile"],
                ports: [
                  { name: "dns", containerPort: 53, protocol: "UDP" },
                  { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                ],
                readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
                resources: { requests: { cpu: "20m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
              },
            ],
            volumes: [{ name: "config", configMap: { name: "coredns" } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kube-dns", namespace: "kube-system", labels },
      spec: {
        clusterIP: CLUSTER_DNS_IP,
        selector: labels,
        ports: [
          { name: "dns", port: 53, targetPort: 53, protocol: "UDP" },
          { name: "dns-tcp", port: 53, targetPort: 53, protocol: "TCP" },
        ],
      },
    },
  ];
}
