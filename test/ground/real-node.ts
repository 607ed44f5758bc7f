// The ground's real node: containerd + runc, the CNI bridge, a kubelet and
// kube-proxy at the API server's version, kube-router enforcing
// NetworkPolicy, and CoreDNS as the cluster DNS. Pods of this node are real
// processes in their own network namespaces on the ground's bridge (ksb0,
// 10.88.0.0/24); nothing of it listens on the machine's own interfaces.
// kwok's fake node stays for scale; this node is tainted, so only pods that
// ask for it (REAL_NODE_SCHEDULING) land here. See docs/test-ground.md.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { manifestExists } from "../../src/adapters/image/registry.js";
import { stringify } from "yaml";
import { ensureClientCert, type Pki } from "./certs.js";
import { type HostSnapshot, removeCgroups, restoreHost, snapshotHost, unmountBelow, writeSysctl } from "./host-footprint.js";
import {
  BRIDGE,
  CLUSTER_DNS_IP,
  clusterDnsManifests,
  cniConflist,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  NODE_IP,
  type NodePaths,
  POD_CIDR,
  REAL_NODE_LABEL,
  REAL_NODE_NAME,
  registryHostsToml,
} from "./node-config.js";
import { freePort, isAlive, notRunning, startDaemon, stopProcess, waitFor } from "./processes.js";

const COMPONENTS = ["containerd", "kubelet", "kubeProxy", "kubeRouter"] as const;
type Component = (typeof COMPONENTS)[number];
/** Our own FORWARD chain: pods of the ground never reach beyond the machine. */
export const ISOLATION_CHAIN = "K8S-DEV-SANDBOX-GROUND";

export interface RealNodeState {
  pids: Partial<Record<Component, number>>;
  paths: NodePaths;
  /** The host as `up` found it; `down` puts it back. Kept from the first `up` until a `down` completes. */
  host: HostSnapshot;
  netnsBefore: string[];
  coredns?: string;
}

export interface RealNodeBinaries {
  kubelet: string;
  kubeProxy: string;
  kubeRouter: string;
  coredns: string;
}

const log = (message: string) => process.stderr.write(`[ground] ${message}\n`);

/** Why the ground runs without its real node here, or undefined when it can run one. */
export function realNodeUnavailable(): string | undefined {
  if (process.env.GROUND_REAL_NODE === "0") return "GROUND_REAL_NODE=0";
  if (process.getuid?.() !== 0) return "the real node needs root (containerd, network namespaces, iptables)";
  if (!existsSync("/proc/sys/net/bridge")) return "the kernel has no bridge netfilter (/proc/sys/net/bridge)";
  return undefined;
}

export function nodePaths(groundDir: string, cacheDir: string): NodePaths {
  // Unix sockets have a 108-byte path limit; /run keeps them short whatever
  // GROUND_DIR is. Only one real node runs per machine (one bridge, one range).
  const run = "/run/k8s-dev-sandbox";
  const node = join(groundDir, "node");
  return {
    containerdRoot: join(cacheDir, "containerd"),
    containerdState: join(run, "containerd"),
    containerdSocket: join(run, "containerd.sock"),
    cniConfDir: join(node, "cni"),
    cniDataDir: join(node, "ipam"),
    registryHostsDir: join(node, "registry-hosts"),
    kubeletRoot: join(node, "kubelet"),
    podLogsDir: join(node, "pod-logs"),
  };
}

/**
 * Before the API server starts: records the host, creates the bridge whose
 * address the API server, the kubelet and the pods' gateway share, and turns
 * on forwarding and bridge netfilter (kube-proxy and kube-router need both).
 */
export async function prepareHost(groundDir: string, cacheDir: string): Promise<RealNodeState> {
  const host = await snapshotHost();
  const netnsBefore = listNetns();
  const { stdout: routes } = await execa("ip", ["-4", "route", "show", POD_CIDR]);
  if (routes.trim() !== "" && !routes.includes(`dev ${BRIDGE}`)) {
    throw new Error(
      `the real node's pod range ${POD_CIDR} is routed elsewhere on this machine (${routes.trim()}); set GROUND_REAL_NODE=0 to run without it`,
    );
  }
  if ((await execa("ip", ["link", "show", BRIDGE], { reject: false })).exitCode !== 0) {
    await execa("ip", ["link", "add", BRIDGE, "type", "bridge"]);
  }
  await execa("ip", ["addr", "replace", `${NODE_IP}/24`, "dev", BRIDGE]);
  await execa("ip", ["link", "set", BRIDGE, "up"]);
  writeSysctl("net/ipv4/ip_forward", "1");
  writeSysctl("net/bridge/bridge-nf-call-iptables", "1");
  writeSysctl("net/bridge/bridge-nf-call-ip6tables", "1");
  await shareNetnsDirectory();
  await isolatePods();
  return { pids: {}, paths: nodePaths(groundDir, cacheDir), host, netnsBefore };
}

/**
 * Makes /run/netns a shared mount point before the first pod, as `ip netns`
 * and netavark (podman) do on first use when it is not one yet: their bind
 * mount of the directory on itself would otherwise shadow the pods' netns
 * mounts already in it, and the kubelet could never delete those pods
 * ("remove netns: unlinkat /var/run/netns/cni-...: device or resource
 * busy", seen when podman's Docker API first ran beside the ground). Left in
 * place at `down`, as `ip netns` leaves it: empty, it holds nothing.
 */
async function shareNetnsDirectory(): Promise<void> {
  mkdirSync("/run/netns", { recursive: true });
  const mounted = (await execa("findmnt", ["--noheadings", "--mountpoint", "/run/netns"], { reject: false })).stdout.trim() !== "";
  if (!mounted) await execa("mount", ["--bind", "/run/netns", "/run/netns"]);
  await execa("mount", ["--make-shared", "/run/netns"]);
}

/** Drops whatever a pod sends beyond the bridge: the ground's pods talk to each other and to the host, never further. */
async function isolatePods(): Promise<void> {
  const ipt = (...args: string[]) => execa("iptables", ["-w", ...args], { reject: false });
  if ((await ipt("-n", "-L", ISOLATION_CHAIN)).exitCode !== 0) await ipt("-N", ISOLATION_CHAIN);
  await ipt("-F", ISOLATION_CHAIN);
  await ipt("-A", ISOLATION_CHAIN, "-j", "DROP");
  const jump = ["FORWARD", "-i", BRIDGE, "!", "-o", BRIDGE, "-j", ISOLATION_CHAIN];
  if ((await ipt("-C", ...jump)).exitCode !== 0) await ipt("-I", ...jump);
}

export interface StartRealNodeOptions {
  dir: string;
  pki: Pki;
  apiserverUrl: string;
  adminKubeconfig: string;
  kubectl: string;
  registry: string;
  pauseImage: string;
  corednsImage: string;
  binaries: RealNodeBinaries;
  /** What prepareHost returned, recorded in the ground's state: a failed start is undone from it. */
  node: RealNodeState;
  save: () => void;
}

export async function startRealNode(o: StartRealNodeOptions): Promise<RealNodeState> {
  const { node } = o;
  const paths = node.paths;
  const nodeDir = join(o.dir, "node");
  const logFile = (name: string) => join(o.dir, "logs", `${name}.log`);
  for (const d of [paths.containerdRoot, paths.containerdState, paths.cniConfDir, paths.cniDataDir, paths.kubeletRoot, paths.podLogsDir]) {
    mkdirSync(d, { recursive: true });
  }
  // Host-local IPAM state from a run that did not stop cleanly would hand out addresses of pods that are gone.
  rmSync(paths.cniDataDir, { recursive: true, force: true });
  mkdirSync(paths.cniDataDir, { recursive: true });

  writeFileSync(join(paths.cniConfDir, "10-ground.conflist"), cniConflist(paths.cniDataDir));
  rmSync(paths.registryHostsDir, { recursive: true, force: true });
  mkdirSync(join(paths.registryHostsDir, o.registry), { recursive: true });
  writeFileSync(join(paths.registryHostsDir, o.registry, "hosts.toml"), registryHostsToml(o.registry));
  const containerdToml = join(nodeDir, "containerd.toml");
  writeFileSync(containerdToml, containerdConfig(paths, o.pauseImage));

  node.pids.containerd = startDaemon("/usr/bin/containerd", ["--config", containerdToml], logFile("containerd"));
  o.save();
  await waitFor(
    "containerd",
    async () => (await execa("ctr", ["--address", paths.containerdSocket, "version"], { reject: false })).exitCode === 0,
    30_000,
    logFile("containerd"),
  );

  const kubeletCert = await ensureClientCert(o.pki, "kubelet", `/O=system:nodes/CN=system:node:${REAL_NODE_NAME}`);
  const proxyCert = await ensureClientCert(o.pki, "kube-proxy", "/CN=system:kube-proxy");
  const kubeletKubeconfig = join(nodeDir, "kubelet.kubeconfig");
  const proxyKubeconfig = join(nodeDir, "kube-proxy.kubeconfig");
  writeFileSync(kubeletKubeconfig, kubeconfigFor(o.apiserverUrl, o.pki.caCert, kubeletCert), { mode: 0o600 });
  writeFileSync(proxyKubeconfig, kubeconfigFor(o.apiserverUrl, o.pki.caCert, proxyCert), { mode: 0o600 });

  const kubeletYaml = join(nodeDir, "kubelet.yaml");
  writeFileSync(kubeletYaml, kubeletConfig({ caCert: o.pki.caCert, port: await freePort(), healthzPort: await freePort(), paths }));
  // When the kubelet last started: a Node object left in etcd by an earlier
  // `up` still says Ready until its grace period runs out, so only a
  // heartbeat newer than this proves the kubelet running now is up (a CI run
  // once took that stale Ready for a kubelet that had exited at once).
  let kubeletStartedAt = 0;
  const startKubelet = () => {
    kubeletStartedAt = Date.now();
    node.pids.kubelet = startDaemon(
      o.binaries.kubelet,
      [
        `--config=${kubeletYaml}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--root-dir=${paths.kubeletRoot}`,
        `--cert-dir=${join(paths.kubeletRoot, "pki")}`,
        `--hostname-override=${REAL_NODE_NAME}`,
        `--node-ip=${NODE_IP}`,
        `--node-labels=${REAL_NODE_LABEL.key}=${REAL_NODE_LABEL.value}`,
        "--v=1",
      ],
      logFile("kubelet"),
    );
    o.save();
  };
  startKubelet();
  // While containerd recovers its state after a `down`, its CRI answers
  // "server is not initialized yet" and the kubelet exits at once; a node's
  // service manager restarts it, and so does this until the node is Ready.
  const superviseKubelet = () => {
    if (!isAlive(node.pids.kubelet)) startKubelet();
  };
  o.save();

  const proxyYaml = join(nodeDir, "kube-proxy.yaml");
  writeFileSync(proxyYaml, kubeProxyConfig(proxyKubeconfig, await freePort(), await freePort()));
  node.pids.kubeProxy = startDaemon(o.binaries.kubeProxy, [`--config=${proxyYaml}`, "--v=1"], logFile("kube-proxy"));

  const env = { KUBECONFIG: o.adminKubeconfig };
  await waitFor(
    `node ${REAL_NODE_NAME} to register`,
    async () => {
      superviseKubelet();
      return (await execa(o.kubectl, ["get", "node", REAL_NODE_NAME], { env, reject: false })).exitCode === 0;
    },
    60_000,
    logFile("kubelet"),
  );
  await setPodCidr(o.kubectl, env);
  // kube-router looks its node up once at start and exits when it is not
  // there yet: on an empty etcd (every `up` from down) that is until the
  // kubelet registered it.
  node.pids.kubeRouter = startDaemon(
    o.binaries.kubeRouter,
    [
      `--kubeconfig=${o.adminKubeconfig}`,
      // Firewall only: routing is the bridge's, services are kube-proxy's.
      "--run-firewall=true",
      "--run-router=false",
      "--run-service-proxy=false",
      `--hostname-override=${REAL_NODE_NAME}`,
      // Its health and metrics servers would listen on every interface: off.
      "--health-port=0",
      "--metrics-port=0",
      "--service-cluster-ip-range=10.96.0.0/16",
      "--v=1",
    ],
    logFile("kube-router"),
  );
  o.save();
  await waitFor(
    `node ${REAL_NODE_NAME} to be Ready`,
    async () => {
      superviseKubelet();
      const ready = [
        "get",
        "node",
        REAL_NODE_NAME,
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}',
      ];
      const { stdout } = await execa(o.kubectl, ready, { env });
      const [status, heartbeat] = stdout.trim().split(" ");
      // Heartbeats have whole seconds: compare with the start's second.
      const fresh = Date.parse(heartbeat ?? "") >= Math.floor(kubeletStartedAt / 1000) * 1000;
      return status === "True" && fresh && isAlive(node.pids.kubelet);
    },
    90_000,
    logFile("kubelet"),
  );

  node.coredns = o.corednsImage;
  await execa(o.kubectl, ["apply", "--server-side", "--force-conflicts", "-f", "-"], {
    env,
    input: clusterDnsManifests(o.corednsImage)
      .map((m) => stringify(m))
      .join("---\n"),
  });
  await execa(o.kubectl, ["-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=120s"], { env });
  log(`real node ${REAL_NODE_NAME} ready (pods on ${BRIDGE} ${POD_CIDR}, cluster DNS ${CLUSTER_DNS_IP})`);
  return node;
}

/**
 * No controller allocates node CIDRs on the ground; kube-router's firewall
 * reads the node's podCIDR to tell its pods from others. Set once, like
 * the node IPAM controller would.
 */
async function setPodCidr(kubectl: string, env: Record<string, string>): Promise<void> {
  const { stdout } = await execa(kubectl, ["get", "node", REAL_NODE_NAME, "-o", "jsonpath={.spec.podCIDR}"], { env });
  if (stdout.trim() === POD_CIDR) return;
  await execa(
    kubectl,
    ["patch", "node", REAL_NODE_NAME, "--type=merge", "-p", JSON.stringify({ spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] } })],
    {
      env,
    },
  );
}

/** The node's components that are not running, as `name (pid N)`. */
export function realNodeDead(node: RealNodeState): string[] {
  return notRunning(COMPONENTS, node.pids);
}

/**
 * Stops the node and puts the host back: containers, shims, mounts,
 * network namespaces, the bridge, cgroups, iptables chains, ipsets and
 * kernel settings. Each step tolerates what an earlier, interrupted `down`
 * already removed.
 */
export async function stopRealNode(node: RealNodeState): Promise<string[]> {
  const report: string[] = [];
  await Promise.all(
    (["kubeRouter", "kubeProxy", "kubelet"] as const).map((component) => {
      const pid = node.pids[component];
      return pid ? stopProcess(pid) : undefined;
    }),
  );
  const socket = node.paths.containerdSocket;
  if (isAlive(node.pids.containerd) && existsSync(socket)) {
    const ctr = (...args: string[]) => execa("ctr", ["--address", socket, "-n", "k8s.io", ...args], { reject: false });
    const tasks = (await ctr("tasks", "ls", "-q")).stdout.split("\n").filter(Boolean);
    // Eight ctr calls at a time: one after another, the ~140 calls of a CI
    // run's 40 tasks and 50 containers took most of `down`'s 30 s.
    await inBatches(tasks, 8, (id) => ctr("tasks", "kill", "-s", "SIGKILL", id));
    // containerd's CRI plugin often removes a killed task itself, and then
    // `tasks delete` answers "not found": that counts as gone (waiting out
    // the 10 s for each of ~25 tasks made `down` take 4.5 min).
    const deleted = async (id: string) => {
      const attempt = await ctr("tasks", "delete", id);
      return attempt.exitCode === 0 || /not found/.test(attempt.stderr);
    };
    await inBatches(tasks, 8, (id) => waitFor(`task ${id} to stop`, () => deleted(id), 10_000).catch(() => {}));
    const containers = (await ctr("containers", "ls", "-q")).stdout.split("\n").filter(Boolean);
    await inBatches(containers, 8, (id) => ctr("containers", "delete", id));
    report.push(`stopped ${tasks.length} tasks, removed ${containers.length} containers`);
  }
  if (node.pids.containerd) await stopProcess(node.pids.containerd);
  // Shims outlive containerd by design; ours are the ones started for our socket.
  await execa("pkill", ["-KILL", "-f", `containerd-shim-runc-v2 .*-address ${socket}`], { reject: false });
  const unmounted =
    (await unmountBelow(node.paths.kubeletRoot)) +
    (await unmountBelow(node.paths.containerdState)) +
    (await unmountBelow(node.paths.containerdRoot));
  if (unmounted > 0) report.push(`unmounted ${unmounted}`);
  const before = new Set(node.netnsBefore);
  const netns = listNetns().filter((name) => name.startsWith("cni-") && !before.has(name));
  // One `ip` for all; -force goes on past one already gone.
  if (netns.length > 0) {
    await execa("ip", ["-force", "-batch", "-"], { input: netns.map((name) => `netns delete ${name}`).join("\n"), reject: false });
    report.push(`deleted ${netns.length} network namespaces`);
  }
  await execa("ip", ["link", "delete", BRIDGE], { reject: false });
  const cgroups = removeCgroups();
  if (cgroups > 0) report.push(`removed ${cgroups} cgroups`);
  rmSync(node.paths.cniDataDir, { recursive: true, force: true });
  rmSync(node.paths.containerdState, { recursive: true, force: true });
  report.push(...(await restoreHost(node.host)));
  return report;
}

/**
 * CoreDNS from the Go build, as an image of one static binary: what the
 * kubelet runs must come from a registry, as on any cluster.
 */
export async function ensureCorednsImage(o: {
  registry: string;
  binary: string;
  version: string;
  env: Record<string, string>;
}): Promise<string> {
  const image = `${o.registry}/ground/coredns:${o.version}`;
  if (await manifestExists(image)) return image;
  log(`building ${image}`);
  const buildah = (...args: string[]) => execa("buildah", args, { env: o.env });
  const { stdout: container } = await buildah("from", "scratch");
  try {
    await buildah("copy", "--chmod", "0755", container.trim(), o.binary, "/coredns");
    await buildah("config", "--entrypoint", '["/coredns"]', "--cmd", "", "--user", "65532:65532", "--port", "53/udp", container.trim());
    await buildah("commit", "--rm", container.trim(), image);
  } catch (error) {
    await buildah("rm", container.trim()).catch(() => {});
    throw error;
  }
  await buildah("push", "--tls-verify=false", image, `docker://${image}`);
  return image;
}

function listNetns(): string[] {
  return existsSync("/run/netns") ? readdirSync("/run/netns") : [];
}

function kubeconfigFor(server: string, caCert: string, client: { cert: string; key: string }): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "ground", cluster: { server, "certificate-authority": caCert } }],
    users: [{ name: "component", user: { "client-certificate": client.cert, "client-key": client.key } }],
    contexts: [{ name: "ground", context: { cluster: "ground", user: "component" } }],
    "current-context": "ground",
  });
}

/** Runs `work` on every item, at most `width` at a time. */
async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(width, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}
