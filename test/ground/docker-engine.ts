// The ground's Docker Engine API: Podman's Docker-compatible service
// (`podman system service`, Debian's podman 4.3 with netavark), an optional
// part started by `up` when podman is installed and the real node runs. The
// workspace agent's second runtime (AGENT_RUNTIME_BACKEND=docker) is tested
// against it.
//
// It must not disturb the rest of the ground, so nothing of it is read from
// /etc/containers: its own containers.conf and storage.conf (CONTAINERS_CONF,
// CONTAINERS_STORAGE_CONF), its own storage (not buildah's
// /var/lib/containers), its own network directory with one network on
// 10.89.0.0/24, bridge ksbd0 (podman's default, 10.88.0.0/16 on podman0 or
// cni-podman0, would take the real node's 10.88.0.0/24), the ground's
// registries.conf (its registry is plain HTTP on loopback), and the socket
// and run state under /run. Containers publish ports on 127.0.0.1 only; from
// the bridge they reach the S3 relay on the real node's address, as pods do.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { execa } from "execa";
import { isAlive, startDaemon, stopProcess, waitFor } from "./processes.js";

export const DOCKER_NETWORK = "ksb-docker";
export const DOCKER_SUBNET = "10.89.0.0/24";
export const DOCKER_GATEWAY = "10.89.0.1";
export const DOCKER_BRIDGE = "ksbd0";
const PODMAN = "/usr/bin/podman";
const NETAVARK = "/usr/lib/podman/netavark";

export interface DockerEngineState {
  pid?: number;
  /** unix:///run/.../docker.sock, what AGENT_DOCKER_HOST takes. */
  host: string;
  socket: string;
  network: string;
  /** Configuration and storage (under the ground's directory). */
  dir: string;
  /** Socket and run state (tmpfs: gone after a reboot, as podman expects). */
  runDir: string;
  /** The environment every podman command of this engine needs. */
  env: Record<string, string>;
}

/** Why this machine cannot run the ground's Docker Engine API, or undefined when it can. */
export async function dockerEngineUnavailable(): Promise<string | undefined> {
  if (process.env.GROUND_DOCKER_ENGINE === "0") return "GROUND_DOCKER_ENGINE=0";
  if (process.getuid?.() !== 0) return "podman's service runs as root here (netavark bridge, iptables)";
  if (!existsSync(PODMAN)) return `${PODMAN} is not installed (apt-get install podman netavark)`;
  if (!existsSync(NETAVARK)) return `${NETAVARK} is not installed (apt-get install netavark)`;
  // Another interface already routing the engine's range would be shadowed or would shadow it.
  const { stdout } = await execa("ip", ["-4", "route", "show", "to", "match", DOCKER_GATEWAY], { reject: false });
  const taken = stdout.split("\n").filter((line) => line.trim() && !line.startsWith("default") && !line.includes(`dev ${DOCKER_BRIDGE} `));
  if (taken.length > 0) return `${DOCKER_SUBNET} is already routed on this machine (${taken.join("; ")})`;
  return undefined;
}

export function dockerEngineAlive(state: DockerEngineState | undefined): boolean {
  return !!state && isAlive(state.pid);
}

/** The podman environment of one ground: its own configuration files. */
export function enginePaths(groundDir: string, registriesConf: string) {
  const dir = join(groundDir, "docker-engine");
  const runDir = `/run/k8s-dev-sandbox-podman-${createHash("sha256").update(groundDir).digest("hex").slice(0, 8)}`;
  const env = {
    CONTAINERS_CONF: join(dir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    CONTAINERS_REGISTRIES_CONF: registriesConf,
  };
  return { dir, runDir, socket: join(runDir, "docker.sock"), env };
}

/**
 * runc sets every rlimit it is given and may not raise one above the
 * service's own hard limit; podman's defaults for root (1048576 files,
 * 4194304 processes) are above this VM's. The hard limits here, capped.
 */
function ulimits(): { nofile: number; nproc: number } {
  // The service is started from this process and inherits its limits.
  const limits = readFileSync("/proc/self/limits", "utf8");
  const hard = (name: string, max: number) => {
    const value = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, "m").exec(limits)?.[1] ?? "1024";
    return value === "unlimited" ? max : Math.min(Number(value) || 1024, max);
  };
  return { nofile: hard("Max open files", 65_536), nproc: hard("Max processes", 8_192) };
}

/** The engine's three files, by path: pure, so a unit test reads what the service will. */
export function engineFiles(
  paths: { dir: string; runDir: string; env: { CONTAINERS_CONF: string; CONTAINERS_STORAGE_CONF: string } },
  limits: { nofile: number; nproc: number },
): Record<string, string> {
  const q = JSON.stringify;
  const containersConf = [
    "# Written by test/ground/docker-engine.ts; read through CONTAINERS_CONF only.",
    "[containers]",
    'log_driver = "k8s-file"',
    `default_ulimits = [${q(`nofile=${limits.nofile}:${limits.nofile}`)}, ${q(`nproc=${limits.nproc}:${limits.nproc}`)}]`,
    "[engine]",
    // No systemd in the ground's machines; crun cannot run on this hybrid cgroup host (see install-packages.sh).
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = ${q(join(paths.dir, "events.log"))}`,
    'runtime = "runc"',
    `tmp_dir = ${q(join(paths.runDir, "libpod"))}`,
    "[network]",
    'network_backend = "netavark"',
    `network_config_dir = ${q(join(paths.dir, "networks"))}`,
    `default_network = ${q(DOCKER_NETWORK)}`,
    `default_subnet = ${q(DOCKER_SUBNET)}`,
    `default_subnet_pools = [{ base = ${q(DOCKER_SUBNET)}, size = 24 }]`,
    "",
  ].join("\n");
  const storageConf = [
    "[storage]",
    'driver = "overlay"',
    `graphroot = ${q(join(paths.dir, "storage"))}`,
    `runroot = ${q(join(paths.runDir, "storage"))}`,
    "",
  ].join("\n");
  // Written as a file: podman 4.3's `network create` cannot name the bridge.
  const network = {
    name: DOCKER_NETWORK,
    id: createHash("sha256").update(DOCKER_NETWORK).digest("hex"),
    driver: "bridge",
    network_interface: DOCKER_BRIDGE,
    created: "2026-11-26T00:00:00Z",
    subnets: [{ subnet: DOCKER_SUBNET, gateway: DOCKER_GATEWAY }],
    ipv6_enabled: false,
    internal: false,
    // No aardvark-dns: nothing here resolves container names.
    dns_enabled: false,
    ipam_options: { driver: "host-local" },
  };
  return {
    [paths.env.CONTAINERS_CONF]: containersConf,
    [paths.env.CONTAINERS_STORAGE_CONF]: storageConf,
    [join(paths.dir, "networks", `${DOCKER_NETWORK}.json`)]: `${JSON.stringify(network, null, 2)}\n`,
  };
}

function writeConfig(paths: ReturnType<typeof enginePaths>, limits: { nofile: number; nproc: number }): void {
  mkdirSync(join(paths.dir, "networks"), { recursive: true });
  mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  for (const [file, text] of Object.entries(engineFiles(paths, limits))) writeFileSync(file, text);
}

/** Starts the service unless it runs; answers once the API does. */
export async function ensureDockerEngine(options: {
  groundDir: string;
  registriesConf: string;
  previous: DockerEngineState | undefined;
  log: (message: string) => void;
}): Promise<DockerEngineState> {
  const { previous, log } = options;
  if (previous && dockerEngineAlive(previous) && (await pings(previous.socket))) return previous;
  if (previous) await stopDockerEngine(previous);
  const paths = enginePaths(options.groundDir, options.registriesConf);
  const state: DockerEngineState = {
    host: `unix://${paths.socket}`,
    socket: paths.socket,
    network: DOCKER_NETWORK,
    dir: paths.dir,
    runDir: paths.runDir,
    env: paths.env,
  };
  // A service of this directory that runs and answers (state.json rewritten
  // by a run that does not know this part) is taken over, not restarted.
  const running = recordedService(paths.dir);
  if (running && (await pings(paths.socket))) return { ...state, pid: running };
  if (running) await stopProcess(running);
  rmSync(join(paths.dir, "pid"), { force: true });
  writeConfig(paths, ulimits());
  const logFile = join(options.groundDir, "logs", "docker-engine.log");
  const started = Date.now();
  rmSync(paths.socket, { force: true });
  state.pid = startDaemon(PODMAN, ["system", "service", "--time=0", state.host], logFile, paths.env);
  writeFileSync(join(paths.dir, "pid"), `${state.pid}\n`);
  try {
    await waitFor("podman's Docker API (/_ping)", () => pings(paths.socket), 60_000, logFile);
  } catch (error) {
    await stopDockerEngine(state);
    throw error;
  }
  log(
    `Docker Engine API (podman) up in ${((Date.now() - started) / 1000).toFixed(1)}s: ${state.host}, network ${DOCKER_NETWORK} ${DOCKER_SUBNET} on ${DOCKER_BRIDGE}`,
  );
  return state;
}

/**
 * Removes every container of this engine (they outlive the service: conmon
 * keeps them), so netavark takes its bridge and rules down, then stops the
 * service.
 */
export async function stopDockerEngine(state: DockerEngineState): Promise<void> {
  const env = { ...process.env, ...state.env };
  await execa(PODMAN, ["rm", "--all", "--force", "--time", "5"], { env, reject: false, timeout: 120_000 });
  if (state.pid) await stopProcess(state.pid);
  rmSync(join(state.dir, "pid"), { force: true });
}

/** The pid of this directory's service when that process still runs it. */
function recordedService(dir: string): number | undefined {
  const file = join(dir, "pid");
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return undefined;
  }
  return pid && isAlive(pid) && cmdline.startsWith(PODMAN) && cmdline.includes("service") ? pid : undefined;
}

function pings(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}
