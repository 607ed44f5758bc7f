// The test ground: a real Kubernetes control plane (etcd, API server,
// controller manager, scheduler) with kwok's simulated node for scale, a real
// node (containerd, kubelet, kube-proxy, kube-router, CoreDNS) for pods that
// must really run, an OCI registry with images built from Debian, and
// buildah, and an S3 store (SeaweedFS). Control-plane ports are free ports on
// 127.0.0.1, the real node's pods live on the ground's own bridge. `up` is
// idempotent, `down` stops only what `up` recorded and puts the host back.
// See docs/test-ground.md.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { ensurePki, type Pki } from "./certs.js";
import { kwokConfig, NODE_NAME, nodeManifest, STORAGE_CLASS, storageManifests } from "./cluster-objects.js";
import { PROVISIONER } from "./local-path-provisioner.js";
import { ensureGroundImages, type GroundImages } from "./images.js";
import { ensureTraefikImage, startIngress } from "./ingress.js";
import { NODE_IP, REAL_NODE_SCHEDULING } from "./node-config.js";
import {
  ensureCorednsImage,
  prepareHost,
  type RealNodeState,
  realNodeDead,
  realNodeUnavailable,
  startRealNode,
  stopRealNode,
} from "./real-node.js";
import {
  type DockerEngineState,
  dockerEngineAlive,
  dockerEngineUnavailable,
  ensureDockerEngine,
  stopDockerEngine,
} from "./docker-engine.js";
import { ensureS3, readS3Credentials, type S3State, s3Alive, stopS3 } from "./s3.js";
import { freePort, isAlive, isPortFree, notRunning, startDaemon, stopProcess, waitFor, withLock } from "./processes.js";
import { binaryPaths, cacheDir, groundSourceDir, readVersions, stateDir, type Versions } from "./paths.js";

const COMPONENTS = ["etcd", "apiserver", "controllerManager", "scheduler", "kwok", "registry", "provisioner"] as const;
type Component = (typeof COMPONENTS)[number];
const PORT_NAMES = ["etcdClient", "etcdPeer", "apiserver", "controllerManager", "scheduler", "kwok", "registry"] as const;
type Ports = Record<(typeof PORT_NAMES)[number], number>;

export interface GroundState {
  dir: string;
  /** Where the API server listens: the real node's bridge address, or loopback without a real node. */
  apiserverHost?: string;
  kubeconfig: string;
  registry: string;
  registriesConf: string;
  ports: Ports;
  pids: Partial<Record<Component, number>>;
  versions: Versions;
  startedAt: string;
  /** The real node, when this machine can run one. */
  node?: RealNodeState;
  /** Why there is no real node (tests that need one report this as their skip reason). */
  realNodeUnavailable?: string;
  images?: GroundImages & { coredns: string; traefik?: string };
  /** Traefik in kube-system, as K3s runs it; reached from the host on a loopback NodePort. */
  ingressUrl?: string;
  ingressHttpsUrl?: string;
  /** Chart values that put a sandbox on the real node with the ground's images. */
  realNodeValues?: string;
  /** The S3 store (test/ground/s3.ts). */
  s3?: S3State;
  /** Podman's Docker Engine API (test/ground/docker-engine.ts), when podman is installed and the real node runs. */
  dockerEngine?: DockerEngineState;
  /** Why there is no Docker Engine API (the agent's Docker runtime tests report it as their skip reason). */
  dockerEngineUnavailable?: string;
}

const log = (message: string) => process.stderr.write(`[ground] ${message}\n`);

function statePath(dir: string): string {
  return join(dir, "state.json");
}

/**
 * Writes the state file whole or not at all (a temporary file renamed over
 * it): every vitest process of a run reads it at start, unlocked, while
 * `up` may be saving it; a half-written file failed a CI run.
 */
function writeState(dir: string, state: GroundState): void {
  const file = statePath(dir);
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(partial, file);
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
  return (await whyUnhealthy(state)) === undefined;
}

/** Why the recorded ground is not whole, or undefined when it is. */
export async function whyUnhealthy(state: GroundState | undefined): Promise<string | undefined> {
  if (!state) return "nothing recorded as running";
  const dead = notRunning(COMPONENTS, state.pids);
  if (dead.length > 0) return `not running: ${dead.join(", ")}`;
  if (state.node) {
    const deadOnNode = realNodeDead(state.node);
    if (deadOnNode.length > 0) return `not running on the real node: ${deadOnNode.join(", ")}`;
    if (!state.ingressUrl) return "the ingress controller was never recorded as up";
  }
  if (!state.node && !state.realNodeUnavailable && !realNodeUnavailable()) return "the real node could run here but was not started";
  try {
    const pki = pkiOf(state.dir);
    const code = await httpsGet(`https://${apiserverHost(state)}:${state.ports.apiserver}/readyz`, pki);
    return code === 200 ? undefined : `the API server's /readyz answered ${code}`;
  } catch (error) {
    return `the API server's /readyz did not answer (${error instanceof Error ? error.message : String(error)})`;
  }
}

/**
 * Brings the ground up, once: concurrent callers (the global setups of test
 * projects running side by side, a person in another shell) wait for the
 * first and then find it up.
 */
export async function up(): Promise<GroundState> {
  const dir = stateDir();
  mkdirSync(dir, { recursive: true });
  return withLock(join(dir, "up.lock"), () => upUnlocked(dir));
}

async function upUnlocked(dir: string): Promise<GroundState> {
  const existing = readState(dir);
  const pinned = readVersions();
  // The S3 store restarts on its own when its version changes (ensureAddons).
  const stale = existing
    ? (Object.keys(pinned) as (keyof Versions)[]).filter((k) => k !== "seaweedfs" && existing.versions?.[k] !== pinned[k])
    : [];
  const unhealthy = existing ? await whyUnhealthy(existing) : undefined;
  if (existing && !unhealthy && stale.length === 0) {
    log(`already up (${dir})`);
    await ensureAddons(existing);
    return existing;
  }
  // Said out loud: a restart ends every pod and sandbox on it, under every
  // test process using it (once, nine processes restarted it in turn).
  if (existing && unhealthy) log(`restarting: ${unhealthy}`);
  // A running ground of other versions is never reused silently: it is restarted with the pinned ones.
  if (stale.length > 0 && existing) {
    log(
      `restarting: the running ground has ${stale.map((k) => `${k} ${existing.versions?.[k] ?? "?"}`).join(", ")}; versions.env pins ${stale.map((k) => `${k} ${pinned[k]}`).join(", ")}`,
    );
  }
  await ensureTools();
  if (existing) await stopAll(existing);
  // Every start from down is an empty cluster. Kept in etcd, what a killed
  // run or a leaking test left behind (sandboxes, crash-looping pods among
  // them) was started again by every later `up` and took CPU from every run
  // after it: measured 2026-11-26, 29 such pods kept 22% of the two cores
  // busy while idle, and etcd had grown to 927 MB. Their volumes go with them.
  rmSync(join(dir, "etcd"), { recursive: true, force: true });
  rmSync(volumeRoot(dir), { recursive: true, force: true });
  const withoutRealNode = realNodeUnavailable();
  if (withoutRealNode) log(`no real node: ${withoutRealNode}; pods run on kwok only`);
  // The bridge must exist before the API server binds its address.
  const prepared = withoutRealNode ? undefined : await prepareHost(dir, cacheDir());
  const host = prepared ? NODE_IP : "127.0.0.1";

  const versions = readVersions();
  const bins = binaryPaths(versions);
  mkdirSync(join(dir, "logs"), { recursive: true });
  const pki = await ensurePki(join(dir, "pki"));
  // The same ports as last time when they are still free: image references
  // carry the registry's port, and pods of the real node keep their specs
  // (and need no new rollout) only if it stays the same.
  const ports = {} as Ports;
  const taken = new Set<number>();
  for (const name of PORT_NAMES) {
    const previous = (existing?.ports ?? lastPorts(dir))?.[name];
    ports[name] = previous && !taken.has(previous) && (await isPortFree(previous)) ? previous : await freePort();
    taken.add(ports[name]);
  }
  writeFileSync(join(dir, "ports.json"), `${JSON.stringify(ports)}\n`);
  const state: GroundState = {
    dir,
    apiserverHost: host,
    kubeconfig: join(dir, "kubeconfig"),
    registry: `127.0.0.1:${ports.registry}`,
    registriesConf: join(dir, "registries.conf"),
    ports,
    pids: {},
    versions,
    startedAt: new Date().toISOString(),
    ...(withoutRealNode ? { realNodeUnavailable: withoutRealNode } : {}),
    // Recorded before anything else starts: a failed `up` is undone from it.
    ...(prepared ? { node: prepared } : {}),
  };
  const save = () => writeState(dir, state);
  const logFile = (name: string) => join(dir, "logs", `${name}.log`);
  const started = Date.now();

  try {
    state.pids.etcd = startDaemon(bins.etcd, etcdArgs(dir, ports), logFile("etcd"));
    save();
    await waitFor("etcd", async () => (await httpGet(`http://127.0.0.1:${ports.etcdClient}/health`)) === 200, 30_000, logFile("etcd"));

    state.pids.apiserver = startDaemon(bins.kubeApiserver, apiserverArgs(pki, ports, host, !!prepared), logFile("kube-apiserver"));
    save();
    await waitFor(
      "kube-apiserver /readyz",
      async () => (await httpsGet(`https://${host}:${ports.apiserver}/readyz`, pki)) === 200,
      120_000,
      logFile("kube-apiserver"),
    );
    writeKubeconfig(state.kubeconfig, pki, host, ports.apiserver);
    if (prepared) await refreshKubernetesEndpoints(state, bins.kubectl);

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
        // Only its own node: the real node is the kubelet's.
        "--manage-all-nodes=false",
        "--manage-nodes-with-label-selector=type=kwok",
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
    state.pids.provisioner = startDaemon(
      process.execPath,
      ["--import", "tsx", join(groundSourceDir, "local-path-provisioner.ts"), state.kubeconfig, volumeRoot(dir), STORAGE_CLASS],
      logFile("local-path-provisioner"),
    );
    save();

    await waitFor("registry /v2/", async () => (await httpGet(`http://${state.registry}/v2/`)) === 200, 30_000, logFile("registry"));
    writeRegistriesConf(state);
    await applyClusterObjects(state, bins.kubectl);
    save();
    if (prepared) {
      await startNodeWithImages(state, pki, prepared, save);
      save();
    }
    await ensureAddons(state);
    // Whole, or a failed start now: a part that died on the way would
    // otherwise be found by the next caller, which restarts everything.
    const missing = await whyUnhealthy(state);
    if (missing) throw new Error(`the ground came up incomplete: ${missing}`);
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
  // Under up()'s lock: a `down` that overlapped another run's `up` once removed
  // the new ground's state file, leaving its processes running unrecorded.
  if (!existsSync(dir)) return downUnlocked(dir, options);
  await withLock(join(dir, "up.lock"), () => downUnlocked(dir, options));
}

async function downUnlocked(dir: string, options: { purge?: boolean }): Promise<void> {
  const state = readState(dir);
  if (state) await stopAll(state);
  if (options.purge) rmSync(dir, { recursive: true, force: true });
  else if (state) rmSync(statePath(dir), { force: true });
  log(state ? "down" : "nothing recorded as running");
}

async function stopAll(state: GroundState): Promise<void> {
  // Its containers reach the S3 relay on the real node's bridge: it goes first.
  if (state.dockerEngine) {
    await stopDockerEngine(state.dockerEngine);
    state.dockerEngine = undefined;
  }
  if (state.s3) {
    await stopS3(state.s3);
    state.s3 = undefined;
  }
  // The real node first, while the API server still answers; then the
  // clients before the API server and etcd.
  if (state.node) {
    for (const line of await stopRealNode(state.node)) log(`real node: ${line}`);
    state.node = undefined;
    writeState(state.dir, state);
  }
  // The API server's clients at once (each may take its grace period), then
  // the API server, then etcd: `down` ends every CI run. The API server gets
  // a second, not ten: its graceful shutdown drains clients that are gone
  // by now, and the etcd it would keep tidy is removed by the next `up`
  // (measured: 10 s of a 23 s `down`).
  const stop = (components: readonly Component[], graceMs?: number) =>
    Promise.all(components.map((c) => (state.pids[c] ? stopProcess(state.pids[c], graceMs) : undefined)));
  await stop(COMPONENTS.filter((c) => c !== "apiserver" && c !== "etcd"));
  await stop(["apiserver"], 1_000);
  await stop(["etcd"]);
}

export async function status(): Promise<{ state?: GroundState; healthy: boolean; why?: string; components: Record<string, boolean> }> {
  const state = readState();
  const components: Record<string, boolean> = {};
  for (const c of COMPONENTS) components[c] = isAlive(state?.pids[c]);
  components.s3 = s3Alive(state?.s3, !!state?.node);
  components.dockerEngine = dockerEngineAlive(state?.dockerEngine);
  const why = await whyUnhealthy(state);
  return { state, healthy: !why, why, components };
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
    GROUND_REAL_NODE: state.node ? "1" : "0",
    ...(state.realNodeUnavailable ? { GROUND_REAL_NODE_UNAVAILABLE: state.realNodeUnavailable } : {}),
    ...(state.realNodeValues ? { GROUND_REAL_NODE_VALUES: state.realNodeValues } : {}),
    ...(state.ingressUrl ? { GROUND_INGRESS_URL: state.ingressUrl } : {}),
    ...(state.ingressHttpsUrl ? { GROUND_INGRESS_HTTPS_URL: state.ingressHttpsUrl } : {}),
    ...(state.images
      ? {
          GROUND_IMAGE_PAUSE: state.images.pause,
          GROUND_IMAGE_POSTGRES: state.images.postgres,
          GROUND_IMAGE_NGINX: state.images.nginx,
          GROUND_IMAGE_PYTHON: state.images.python,
          GROUND_IMAGE_ODOO: state.images.odooStandin,
          // A ground started before pgadmin was one of its images has none.
          ...(state.images.pgadmin ? { GROUND_IMAGE_PGADMIN: state.images.pgadmin } : {}),
          // The bases images/k8s-sandbox is built FROM on the ground (test/support/sandbox-image.ts).
          ...(state.images.node ? { GROUND_IMAGE_NODE: state.images.node } : {}),
          ...(state.images.helm ? { GROUND_IMAGE_HELM: state.images.helm } : {}),
          ...(state.images.codeServerStandin ? { GROUND_IMAGE_CODE_SERVER: state.images.codeServerStandin } : {}),
          ...(state.images.storageJob ? { GROUND_IMAGE_STORAGE_JOB: state.images.storageJob } : {}),
        }
      : {}),
    ...agentAssignments(state),
    ...(state.dockerEngine
      ? { GROUND_DOCKER_ENGINE: "1", AGENT_DOCKER_HOST: state.dockerEngine.host, AGENT_DOCKER_NETWORK: state.dockerEngine.network }
      : {
          GROUND_DOCKER_ENGINE: "0",
          GROUND_DOCKER_ENGINE_UNAVAILABLE: state.dockerEngineUnavailable ?? "the ground started no Docker Engine API",
        }),
  };
}

/**
 * The workspace agent's settings on this ground (names of the contract,
 * ../shared/notes/agent-api.md section 7): its S3 store and its images.
 * `k8s-sandbox agent` runs against the ground with only an API key added.
 */
function agentAssignments(state: GroundState): Record<string, string> {
  const env: Record<string, string> = {};
  if (state.s3) {
    const { accessKey, secretKey } = readS3Credentials(state.s3);
    Object.assign(env, {
      AGENT_S3_ENDPOINT: state.s3.endpoint,
      AGENT_S3_INTERNAL_ENDPOINT: state.s3.internalEndpoint,
      AGENT_S3_BUCKET: state.s3.bucket,
      AGENT_S3_REGION: state.s3.region,
      AGENT_S3_ACCESS_KEY: accessKey,
      AGENT_S3_SECRET_KEY: secretKey,
    });
  }
  if (state.images?.codeServerStandin) env.AGENT_RUNTIME_DEFAULT_IMAGE = state.images.codeServerStandin;
  if (state.images?.storageJob) env.AGENT_RUNTIME_STORAGE_JOB_IMAGE = state.images.storageJob;
  return env;
}

/**
 * What `up` adds to a ground that is already running, without restarting it:
 * the S3 store (started, or restarted for another pinned version), and the
 * images added to the ground since it started (a registry look-up each when
 * present). A ground started before these existed gets them here.
 */
async function ensureAddons(state: GroundState): Promise<void> {
  const save = () => writeState(state.dir, state);
  const pinned = readVersions();
  const weed = binaryPaths(pinned).weed;
  if (!existsSync(weed)) {
    log("the S3 store's binary (SeaweedFS) is not cached yet; building it");
    await execa("bash", [join(groundSourceDir, "build-binaries.sh"), "seaweedfs"], { stdio: "inherit" });
  }
  state.s3 = await ensureS3({
    groundDir: state.dir,
    weed,
    version: pinned.seaweedfs,
    previous: state.s3,
    bridgeIp: state.node ? NODE_IP : undefined,
    log,
  });
  state.versions = { ...state.versions, seaweedfs: pinned.seaweedfs };
  save();
  if (state.node && state.images) {
    const images = await ensureGroundImages({ registry: state.registry, registriesConf: state.registriesConf, cacheDir: cacheDir(), log });
    state.images = { ...state.images, ...images };
    save();
  }
  await ensureDockerEngineAddon(state);
  save();
}

/**
 * Optional: the ground is whole without it. Its containers reach the S3
 * store through the relay on the real node's bridge, so it needs the real
 * node; a machine without podman, or where it fails to start, gets the
 * reason recorded, which the Docker runtime's tests report as their skip.
 */
async function ensureDockerEngineAddon(state: GroundState): Promise<void> {
  const reason = state.node
    ? await dockerEngineUnavailable()
    : "no real node (its containers reach the S3 store on the real node's bridge)";
  if (reason) {
    if (state.dockerEngine) await stopDockerEngine(state.dockerEngine);
    state.dockerEngine = undefined;
    state.dockerEngineUnavailable = reason;
    return;
  }
  try {
    state.dockerEngine = await ensureDockerEngine({
      groundDir: state.dir,
      registriesConf: state.registriesConf,
      previous: state.dockerEngine,
      log,
    });
    state.dockerEngineUnavailable = undefined;
  } catch (error) {
    state.dockerEngine = undefined;
    state.dockerEngineUnavailable = `podman's Docker API did not start: ${error instanceof Error ? error.message : String(error)}`;
    log(state.dockerEngineUnavailable);
  }
}

/**
 * The API server keeps the `kubernetes` Service's endpoint port from the
 * first start on its etcd (a ground restarted while up keeps it); with a new port, pods
 * would dial the old one. Removing the stale objects makes the API server
 * write them again with its current address and port.
 */
async function refreshKubernetesEndpoints(state: GroundState, kubectl: string): Promise<void> {
  const env = { KUBECONFIG: state.kubeconfig };
  const current = `${apiserverHost(state)}:${state.ports.apiserver}`;
  const read = async () =>
    (
      await execa(
        kubectl,
        ["-n", "default", "get", "endpointslice", "kubernetes", "-o", "jsonpath={.endpoints[0].addresses[0]}:{.ports[0].port}"],
        {
          env,
          reject: false,
        },
      )
    ).stdout.trim();
  const seen = await read();
  if (seen === "" || seen === current) return;
  log(`the kubernetes Service still points at ${seen}; rewriting it for ${current}`);
  await execa(kubectl, ["-n", "default", "delete", "service", "kubernetes", "--wait=false"], { env, reject: false });
  await execa(kubectl, ["-n", "default", "delete", "endpoints,endpointslice", "kubernetes", "--wait=false"], { env, reject: false });
  await waitFor("the kubernetes Service's endpoint to follow the API server", async () => (await read()) === current, 60_000);
}

/** The ports of the last start, kept by `down` (which removes the state file). */
function lastPorts(dir: string): Partial<Ports> | undefined {
  const file = join(dir, "ports.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<Ports>) : undefined;
}

function apiserverHost(state: GroundState): string {
  return state.apiserverHost ?? "127.0.0.1";
}

/** Builds (or finds) the ground's images, then starts the real node with them. */
async function startNodeWithImages(state: GroundState, pki: Pki, node: RealNodeState, save: () => void): Promise<void> {
  const bins = binaryPaths(state.versions);
  const buildEnv = buildahEnv(state);
  const images = await ensureGroundImages({ registry: state.registry, registriesConf: state.registriesConf, cacheDir: cacheDir(), log });
  const coredns = await ensureCorednsImage({
    registry: state.registry,
    binary: bins.coredns,
    version: state.versions.coredns,
    env: buildEnv,
  });
  state.images = { ...images, coredns };
  state.realNodeValues = join(state.dir, "real-node-values.yaml");
  writeFileSync(state.realNodeValues, realNodeValuesYaml(state.images));
  save();
  state.node = await startRealNode({
    dir: state.dir,
    pki,
    apiserverUrl: `https://${apiserverHost(state)}:${state.ports.apiserver}`,
    adminKubeconfig: state.kubeconfig,
    kubectl: bins.kubectl,
    registry: state.registry,
    pauseImage: images.pause,
    corednsImage: coredns,
    binaries: { kubelet: bins.kubelet, kubeProxy: bins.kubeProxy, kubeRouter: bins.kubeRouter, coredns: bins.coredns },
    node,
    save,
  });
  save();
  const traefik = await ensureTraefikImage({
    registry: state.registry,
    binary: bins.traefik,
    version: state.versions.traefik,
    env: buildEnv,
  });
  state.images.traefik = traefik;
  const ingress = await startIngress({ kubectl: bins.kubectl, kubeconfig: state.kubeconfig, image: traefik });
  state.ingressUrl = ingress.httpUrl;
  state.ingressHttpsUrl = ingress.httpsUrl;
}

/** The environment buildah needs for the ground's registry (plain HTTP on loopback) and storage. */
export function buildahEnv(state: GroundState): Record<string, string> {
  return { BUILDAH_ISOLATION: "chroot", STORAGE_DRIVER: "vfs", CONTAINERS_REGISTRIES_CONF: state.registriesConf };
}

/**
 * Values for charts/odoo-dev-sandbox on the real node: its scheduling, and
 * the ground's images in place of the public ones (which cannot be pulled
 * here). Tests and the demo layer their own values on top.
 */
function realNodeValuesYaml(images: GroundImages): string {
  return stringify({
    scheduling: REAL_NODE_SCHEDULING,
    // Readiness is seen within a second of a container answering (the
    // kubelet probes readiness as soon as a startup probe passes): a dozen
    // deploys per suite run wait on it. Readiness itself keeps the chart's
    // 10 s: at 1 s, the sandboxes' probes (PostgreSQL's a pg_isready exec)
    // cost about a tenth of a CI run's CPU. Odoo's startup window stays 15 min.
    probes: { startupPeriodSeconds: 1 },
    odoo: { image: images.odooStandin, probes: { startupFailureThreshold: 900 } },
    postgres: { image: images.postgres },
    nginx: { image: images.nginx },
    pgadmin: { image: images.pgadmin },
    // The ground's ingress controller is Traefik in kube-system, as on K3s.
    networkPolicy: {
      ingressController: {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": "traefik" } },
      },
    },
  });
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

function apiserverArgs(pki: Pki, ports: Ports, host: string, inClusterClients: boolean): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    // With a real node the API server listens on the node's bridge address:
    // pods reach it there through the `kubernetes` Service, whose endpoint the
    // lease reconciler keeps pointing at it. The host reaches it there too.
    `--bind-address=${host}`,
    `--advertise-address=${host}`,
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
    `--endpoint-reconciler-type=${inClusterClients ? "lease" : "none"}`,
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

function writeKubeconfig(file: string, pki: Pki, host: string, port: number): void {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "ground", cluster: { server: `https://${host}:${port}`, "certificate-authority": pki.caCert } }],
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
  const manifests = [nodeManifest(), ...storageManifests()];
  // A StorageClass's provisioner cannot change in place: a class from an
  // earlier ground (in-tree host-path) is replaced, and its unused pool goes.
  const { stdout: provisioner } = await execa(kubectl, ["get", "storageclass", STORAGE_CLASS, "-o", "jsonpath={.provisioner}"], {
    env,
    reject: false,
  });
  if (provisioner && provisioner !== PROVISIONER) {
    await execa(kubectl, ["delete", "storageclass", STORAGE_CLASS], { env });
    await execa(
      kubectl,
      ["delete", "pv", "-l", "ground.k8s-dev-sandbox/pool=true", "--field-selector=status.phase=Available", "--wait=false"],
      { env, reject: false },
    );
  }
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

/** Stable per state directory, under /tmp like K3s's local-path default is under /var/lib. */
function volumeRoot(dir: string): string {
  return `/tmp/k8s-dev-sandbox-ground-${createHash("sha256").update(dir).digest("hex").slice(0, 10)}`;
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
