// The test ground: a real Kubernetes control plane (etcd, API server,
// controller manager, scheduler) with kwok's simulated node, an OCI registry
// and buildah, all on 127.0.0.1 with free ports. `up` is idempotent, `down`
// stops only what `up` recorded. See docs/test-ground.md.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { ensurePki, type Pki } from "./certs.js";
import { kwokConfig, NODE_NAME, nodeManifest, storageManifests } from "./cluster-objects.js";
import { freePort, isAlive, startDaemon, stopProcess, waitFor } from "./processes.js";
import { binaryPaths, groundSourceDir, readVersions, stateDir, type Versions } from "./paths.js";

const COMPONENTS = ["etcd", "apiserver", "controllerManager", "scheduler", "kwok", "registry"] as const;
type Component = (typeof COMPONENTS)[number];
const PORT_NAMES = ["etcdClient", "etcdPeer", "apiserver", "controllerManager", "scheduler", "kwok", "registry"] as const;
type Ports = Record<(typeof PORT_NAMES)[number], number>;

export interface GroundState {
  dir: string;
  kubeconfig: string;
  registry: string;
  registriesConf: string;
  ports: Ports;
  pids: Partial<Record<Component, number>>;
  versions: Versions;
  startedAt: string;
}

const log = (message: string) => process.stderr.write(`[ground] ${message}\n`);

function statePath(dir: string): string {
  return join(dir, "state.json");
}

export function readState(dir = stateDir()): GroundState | undefined {
  const file = statePath(dir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as GroundState;
}

/** Builds missing binaries and installs missing Debian packages. */
export async function ensureTools(): Promise<void> {
  await execa("bash", [join(groundSourceDir, "install-packages.sh")], { stdio: "inherit" });
  const bins = binaryPaths();
  if (!Object.values(bins).every((file) => existsSync(file))) {
    log("some binaries are not cached yet; building them (a cold build takes a while, later runs take seconds)");
    await execa("bash", [join(groundSourceDir, "build-binaries.sh")], { stdio: "inherit" });
  }
}

export async function isHealthy(state: GroundState | undefined): Promise<boolean> {
  if (!state) return false;
  if (!COMPONENTS.every((c) => isAlive(state.pids[c]))) return false;
  try {
    const pki = pkiOf(state.dir);
    return (await httpsGet(`https://127.0.0.1:${state.ports.apiserver}/readyz`, pki)) === 200;
  } catch {
    return false;
  }
}

export async function up(): Promise<GroundState> {
  const dir = stateDir();
  const existing = readState(dir);
  if (await isHealthy(existing)) {
    log(`already up (${dir})`);
    return existing as GroundState;
  }
  await ensureTools();
  if (existing) await stopAll(existing);

  const versions = readVersions();
  const bins = binaryPaths(versions);
  mkdirSync(join(dir, "logs"), { recursive: true });
  const pki = await ensurePki(join(dir, "pki"));
  const ports = {} as Ports;
  for (const name of PORT_NAMES) ports[name] = await freePort();
  const state: GroundState = {
    dir,
    kubeconfig: join(dir, "kubeconfig"),
    registry: `127.0.0.1:${ports.registry}`,
    registriesConf: join(dir, "registries.conf"),
    ports,
    pids: {},
    versions,
    startedAt: new Date().toISOString(),
  };
  const save = () => writeFileSync(statePath(dir), `${JSON.stringify(state, null, 2)}\n`);
  const logFile = (name: string) => join(dir, "logs", `${name}.log`);
  const started = Date.now();

  try {
    state.pids.etcd = startDaemon(bins.etcd, etcdArgs(dir, ports), logFile("etcd"));
    save();
    await waitFor("etcd", async () => (await httpGet(`http://127.0.0.1:${ports.etcdClient}/health`)) === 200, 30_000, logFile("etcd"));

    state.pids.apiserver = startDaemon(bins.kubeApiserver, apiserverArgs(pki, ports), logFile("kube-apiserver"));
    save();
    await waitFor(
      "kube-apiserver /readyz",
      async () => (await httpsGet(`https://127.0.0.1:${ports.apiserver}/readyz`, pki)) === 200,
      120_000,
      logFile("kube-apiserver"),
    );
    writeKubeconfig(state.kubeconfig, pki, ports.apiserver);

    state.pids.controllerManager = startDaemon(
      bins.kubeControllerManager,
      controllerManagerArgs(state, pki),
      logFile("kube-controller-manager"),
    );
    state.pids.scheduler = startDaemon(
      bins.kubeScheduler,
      ["--kubeconfig", state.kubeconfig, "--leader-elect=false", "--bind-address=127.0.0.1", `--secure-port=${ports.scheduler}`],
      logFile("kube-scheduler"),
    );
    const podLog = join(dir, "pod.log");
    // CRI log format, which kwok parses: <time> <stream> <F|P> <text>.
    const at = new Date().toISOString();
    writeFileSync(
      podLog,
      [
        `${at} stdout F k8s-dev-sandbox test ground: kwok simulates this container`,
        `${at} stdout F no real process runs; this is its log`,
        "",
      ].join("\n"),
    );
    const kwokConfigFile = join(dir, "kwok.yaml");
    writeFileSync(kwokConfigFile, kwokConfig(podLog));
    mkdirSync(join(dir, "kwok-home"), { recursive: true });
    state.pids.kwok = startDaemon(
      bins.kwok,
      [
        "--kubeconfig",
        state.kubeconfig,
        "--config",
        kwokConfigFile,
        "--manage-all-nodes=true",
        "--node-ip=127.0.0.1",
        `--node-port=${ports.kwok}`,
        // kwok serves the kubelet API (logs, exec) and its own HTTP on this one port.
        `--server-address=127.0.0.1:${ports.kwok}`,
        "--tls-cert-file",
        pki.cert,
        "--tls-private-key-file",
        pki.key,
        "--node-lease-duration-seconds=40",
      ],
      logFile("kwok"),
      // kwok silently merges ~/.kwok/kwok.yaml; a private HOME keeps it ours.
      { HOME: join(dir, "kwok-home") },
    );
    state.pids.registry = startRegistry(state, logFile("registry"));
    save();

    await waitFor("registry /v2/", async () => (await httpGet(`http://${state.registry}/v2/`)) === 200, 30_000, logFile("registry"));
    writeRegistriesConf(state);
    await applyClusterObjects(state, bins.kubectl);
    save();
    log(`up in ${((Date.now() - started) / 1000).toFixed(1)}s: Kubernetes ${versions.kubernetes}, registry ${state.registry}`);
    return state;
  } catch (error) {
    log("start failed; stopping what was started");
    await stopAll(state);
    throw error;
  }
}

export async function down(options: { purge?: boolean } = {}): Promise<void> {
  const dir = stateDir();
  const state = readState(dir);
  if (state) await stopAll(state);
  if (options.purge) rmSync(dir, { recursive: true, force: true });
  else if (state) rmSync(statePath(dir), { force: true });
  log(state ? "down" : "nothing recorded as running");
}

async function stopAll(state: GroundState): Promise<void> {
  // Reverse order: the clients go before the API server and etcd.
  for (const component of [...COMPONENTS].reverse()) {
    const pid = state.pids[component];
    if (pid) await stopProcess(pid);
  }
}

export async function status(): Promise<{ state?: GroundState; healthy: boolean; components: Record<string, boolean> }> {
  const state = readState();
  const components: Record<string, boolean> = {};
  for (const c of COMPONENTS) components[c] = isAlive(state?.pids[c]);
  return { state, healthy: await isHealthy(state), components };
}

/** Shell assignments for `eval "$(npm run -s ground -- env)"`. */
export function envAssignments(state: GroundState): Record<string, string> {
  const bins = binaryPaths(state.versions);
  return {
    GROUND_DIR: state.dir,
    KUBECONFIG: state.kubeconfig,
    REGISTRY: state.registry,
    HELM: bins.helm,
    HELM3: bins.helm3,
    KUBECTL: bins.kubectl,
    BUILDAH: "/usr/bin/buildah",
    BUILDAH_ISOLATION: "chroot",
    STORAGE_DRIVER: "vfs",
    CONTAINERS_REGISTRIES_CONF: state.registriesConf,
    KUBERNETES_VERSION: state.versions.kubernetes,
    HELM_VERSION: state.versions.helm,
    HELM3_VERSION: state.versions.helm3,
    ETCD_VERSION: state.versions.etcd,
    KWOK_VERSION: state.versions.kwok,
  };
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function etcdArgs(dir: string, ports: Ports): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    "--name=ground",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=ground=${peer}`,
    "--unsafe-no-fsync=true",
    "--quota-backend-bytes=8589934592",
    "--log-level=warn",
  ];
}

function apiserverArgs(pki: Pki, ports: Ports): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${ports.apiserver}`,
    `--tls-cert-file=${pki.cert}`,
    `--tls-private-key-file=${pki.key}`,
    `--client-ca-file=${pki.caCert}`,
    `--kubelet-client-certificate=${pki.cert}`,
    `--kubelet-client-key=${pki.key}`,
    "--authorization-mode=Node,RBAC",
    `--service-account-key-file=${pki.key}`,
    `--service-account-signing-key-file=${pki.key}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--allow-privileged=true",
    "--endpoint-reconciler-type=none",
    "--service-cluster-ip-range=10.96.0.0/16",
    "--enable-priority-and-fairness=false",
    // The node's Hostname address does not resolve; its InternalIP is loopback.
    "--kubelet-preferred-address-types=InternalIP",
    "--v=1",
  ];
}

function controllerManagerArgs(state: GroundState, pki: Pki): string[] {
  return [
    `--kubeconfig=${state.kubeconfig}`,
    `--authentication-kubeconfig=${state.kubeconfig}`,
    `--authorization-kubeconfig=${state.kubeconfig}`,
    `--root-ca-file=${pki.caCert}`,
    `--service-account-private-key-file=${pki.key}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    "--use-service-account-credentials=true",
    "--leader-elect=false",
    "--bind-address=127.0.0.1",
    `--secure-port=${state.ports.controllerManager}`,
    "--enable-hostpath-provisioner=true",
    "--cluster-cidr=10.0.0.0/16",
    "--v=1",
  ];
}

function startRegistry(state: GroundState, logFile: string): number {
  const config = join(state.dir, "registry.yaml");
  writeFileSync(
    config,
    stringify({
      version: 0.1,
      log: { level: "warn" },
      storage: { filesystem: { rootdirectory: join(state.dir, "registry-data") }, delete: { enabled: true } },
      http: { addr: state.registry },
    }),
  );
  return startDaemon("/usr/bin/docker-registry", ["serve", config], logFile);
}

/** buildah and skopeo read this: our registry speaks plain HTTP on loopback. */
function writeRegistriesConf(state: GroundState): void {
  writeFileSync(
    state.registriesConf,
    [
      'short-name-mode = "permissive"',
      "unqualified-search-registries = []",
      "",
      "[[registry]]",
      `location = "${state.registry}"`,
      "insecure = true",
      "",
    ].join("\n"),
  );
}

function writeKubeconfig(file: string, pki: Pki, port: number): void {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "ground", cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority": pki.caCert } }],
    users: [{ name: "ground-admin", user: { "client-certificate": pki.cert, "client-key": pki.key } }],
    contexts: [{ name: "ground", context: { cluster: "ground", user: "ground-admin" } }],
    "current-context": "ground",
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
}

async function applyClusterObjects(state: GroundState, kubectl: string): Promise<void> {
  const env = { KUBECONFIG: state.kubeconfig };
  // Stable per state directory: the pool's PVs survive a restart of the ground,
  // and a PV's path cannot change. Under /tmp, where the host-path deleter works.
  const volumeRoot = `/tmp/k8s-dev-sandbox-ground-${createHash("sha256").update(state.dir).digest("hex").slice(0, 10)}`;
  const manifests = [nodeManifest(), ...storageManifests(volumeRoot)];
  await execa(kubectl, ["apply", "--server-side", "--force-conflicts", "-f", "-"], {
    env,
    input: manifests.map((m) => stringify(m)).join("---\n"),
  });
  // A node kept in etcd from an earlier start still names the old kubelet
  // port, and the API server would send logs/exec requests there.
  const endpoint = { status: { daemonEndpoints: { kubeletEndpoint: { Port: state.ports.kwok } } } };
  await execa(kubectl, ["patch", "node", NODE_NAME, "--subresource=status", "--type=merge", "-p", JSON.stringify(endpoint)], { env });
  await execa(kubectl, ["wait", "--for=condition=Ready", `node/${NODE_NAME}`, "--timeout=60s"], { env });
  // The node lifecycle controller taints a node until it sees it Ready.
  await waitFor(
    "the node to lose its not-ready taint",
    async () => {
      const { stdout } = await execa(kubectl, ["get", "node", NODE_NAME, "-o", "jsonpath={.spec.taints}"], { env });
      return stdout.trim() === "";
    },
    60_000,
  );
  // Pods cannot be created until the service-account controller made "default".
  await waitFor(
    "the default service account",
    async () => (await execa(kubectl, ["get", "serviceaccount", "default", "-n", "default"], { env, reject: false })).exitCode === 0,
    60_000,
  );
}

function pkiOf(dir: string): Pki {
  const pkiDir = join(dir, "pki");
  return {
    caCert: join(pkiDir, "ca.crt"),
    caKey: join(pkiDir, "ca.key"),
    cert: join(pkiDir, "admin.crt"),
    key: join(pkiDir, "admin.key"),
  };
}

async function httpGet(url: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return response.status;
}

function httpsGet(url: string, pki: Pki): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.cert),
        key: readFileSync(pki.key),
        timeout: 2_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}
