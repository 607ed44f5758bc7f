// The test ground's own images (test/ground/images.ts): built from Debian
// packages, tagged by their inputs, kept as archives, and true to the
// contracts of the public images the chart names. Each image is checked from
// the registry (its config) and by running it the way the chart's pod spec
// says (read-only root, the chart's mounts, its uid, no capabilities, its env
// and probes) under test/ground/images/run-like-pod.sh, until the real node
// runs them as pods.
import { spawn } from "node:child_process";
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { stringify } from "yaml";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildGroundImages, type GroundImages, type GroundImagesReport } from "../ground/images.js";
import { cacheDir, groundSourceDir } from "../ground/paths.js";
import { freePort, isAlive, stopProcess, waitFor } from "../ground/processes.js";
import { type K8sObject, helmTemplate, podTemplates, repoRoot } from "../support/helm.js";

/** Why these tests cannot run here, if they cannot. */
function missing(): string | undefined {
  if (process.env.GROUND_EXTERNAL === "1") return "GROUND_EXTERNAL=1: the ground's registry and image builder are not in use";
  if (process.getuid?.() !== 0) return "needs root (debootstrap, buildah mount, namespaces)";
  if (!process.env.REGISTRY || !process.env.CONTAINERS_REGISTRIES_CONF) return "REGISTRY/CONTAINERS_REGISTRIES_CONF not set by the ground";
  return undefined;
}

const work = mkdtempSync(join(tmpdir(), "ground-images-"));
const messages: string[] = [];
let first: GroundImagesReport;
let images: GroundImages;

function options(registry = process.env.REGISTRY ?? "", registriesConf = process.env.CONTAINERS_REGISTRIES_CONF ?? "") {
  return {
    registry,
    registriesConf,
    cacheDir: cacheDir(),
    log: (message: string) => messages.push(message),
    // A trial copy of the definitions (e.g. with a placeholder program), for working on them.
    sourceDir: process.env.GROUND_IMAGES_SOURCE,
  };
}

const toolEnv = () => ({
  BUILDAH_ISOLATION: "chroot",
  STORAGE_DRIVER: "vfs",
  CONTAINERS_REGISTRIES_CONF: process.env.CONTAINERS_REGISTRIES_CONF ?? "",
});

beforeAll(async () => {
  if (missing()) return;
  // Cold, this builds everything (a few minutes); after the ground's `up` it finds them all.
  first = await buildGroundImages(options());
  images = first.images;
}, 1_800_000);

beforeEach((ctx) => {
  const reason = missing();
  ctx.skip(reason !== undefined, reason);
});

const containers: string[] = [];
const pods: LikePod[] = [];
afterEach(async () => {
  for (const pod of pods.splice(0)) await pod.kill();
});
afterAll(async () => {
  for (const container of containers) await execa("buildah", ["rm", container], { env: toolEnv(), reject: false });
  rmSync(work, { recursive: true, force: true });
});

interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

async function imageConfig(image: string): Promise<ImageConfig> {
  const { stdout } = await execa("skopeo", ["inspect", "--config", "--tls-verify=false", `docker://${image}`], { env: toolEnv() });
  return (JSON.parse(stdout) as { config: ImageConfig }).config;
}

async function configDigest(image: string): Promise<string> {
  const { stdout } = await execa("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${image}`], { env: toolEnv() });
  return (JSON.parse(stdout) as { config: { digest: string } }).config.digest;
}

// ---------------------------------------------------------------------------
// Running an image the way a pod would (see run-like-pod.sh).

interface Mount {
  kind: "tmpfs" | "bind" | "robind";
  /** tmpfs: its mode; bind/robind: a host path. */
  source: string;
  target: string;
}

interface RunSpec {
  image: string;
  user: string;
  mounts: Mount[];
  env?: Record<string, string>;
  /** Kubernetes semantics: command replaces the entrypoint, args the cmd. */
  command?: string[];
  args?: string[];
}

class LikePod {
  private constructor(
    readonly pid: number,
    readonly child: number,
    readonly env: string[],
    private readonly user: string,
    private readonly output: string,
    private readonly exited: Promise<number>,
  ) {}

  static async start(spec: RunSpec): Promise<LikePod> {
    const { stdout } = await execa("buildah", ["from", "--quiet", "--tls-verify=false", spec.image], { env: toolEnv() });
    const container = stdout.trim();
    containers.push(container);
    const inspect = await execa("buildah", ["inspect", "--type", "container", container], { env: toolEnv() });
    const config = (JSON.parse(inspect.stdout) as { OCIv1: { config?: ImageConfig } }).OCIv1.config ?? {};
    const rootfs = (await execa("buildah", ["mount", container], { env: toolEnv() })).stdout.trim();
    const env = new Map((config.Env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    for (const [key, value] of Object.entries(spec.env ?? {})) env.set(key, value);
    // As the runtime does: HOME from the image's passwd entry of the uid.
    if (!env.has("HOME")) env.set("HOME", homeOf(rootfs, spec.user.split(":")[0] ?? ""));
    const lines = [...env].map(([k, v]) => `${k}=${v}`);
    const dir = mkdtempSync(join(work, "pod-"));
    const envFile = join(dir, "env");
    writeFileSync(envFile, `${lines.join("\n")}\n`);
    const argv = [...(spec.command ?? config.Entrypoint ?? []), ...(spec.args ?? (spec.command ? [] : (config.Cmd ?? [])))];
    const mounts = spec.mounts.map((m) => `${m.kind}|${m.source}|${m.target}`).join(";");
    const output = join(dir, "output");
    // A file, not a pipe to Node: nginx opens /dev/stdout, which fails on a
    // socket. Owned by the pod's user, as runc makes a container's stdio.
    const fd = openSync(output, "a");
    const [uid, gid] = spec.user.split(":").map(Number);
    chownSync(output, uid ?? 0, gid ?? 0);
    const runner = join(groundSourceDir, "images", "run-like-pod.sh");
    const child = spawn(
      "unshare",
      [
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
        "bash",
        runner,
        rootfs,
        spec.user,
        config.WorkingDir ?? "/",
        mounts,
        envFile,
        "--",
        ...argv,
      ],
      { stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    let done = false;
    const exited = new Promise<number>((resolve) =>
      child.on("exit", (code, signal) => {
        done = true;
        resolve(code ?? (signal ? 128 : -1));
      }),
    );
    const pid = child.pid ?? 0;
    // The pod's PID 1 (unshare's child), once it runs in the image's root as
    // the pod's user: before that it is still setting up, and a signal sent
    // to it would reach the wrong program. A short command may be gone already.
    let inner = 0;
    await waitFor(
      "the pod's first process",
      async () => {
        if (done) return true;
        inner = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0] || 0);
        if (inner === 0 || readlinkSync(`/proc/${inner}/root`) === "/") return false;
        return /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${inner}/status`, "utf8"))?.[1] === String(uid);
      },
      30_000,
    );
    const pod = new LikePod(pid, inner, lines, spec.user, output, exited);
    pods.push(pod);
    return pod;
  }

  /**
   * Kills what is left of the pod. Needed: the pod's PID 1 changed its uid,
   * which drops unshare's --kill-child, so it would outlive a failed test.
   */
  async kill(): Promise<void> {
    for (const pid of [this.child, this.pid]) {
      try {
        if (pid > 0 && isAlive(pid)) process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    await this.wait(10_000);
  }

  log(): string {
    return readFileSync(this.output, "utf8");
  }

  /** `kubectl exec`: the pod's namespaces, root and user, the image's environment. */
  async exec(command: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
    const [uid, gid] = this.user.split(":");
    const vars = [...this.env, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
    const result = await execa(
      "nsenter",
      [
        "-t",
        String(this.child),
        "-m",
        "-n",
        "-p",
        "-r",
        "-w",
        "-S",
        uid ?? "",
        "-G",
        gid ?? "",
        "--",
        "/usr/bin/env",
        "-i",
        ...vars,
        ...command,
      ],
      { reject: false, all: true },
    );
    return { code: result.exitCode ?? -1, out: result.all ?? "" };
  }

  /** Runs the command in the pod until it succeeds, like a probe; fails at once if the pod exits. */
  async until(what: string, command: string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (!isAlive(this.pid)) throw new Error(`the pod exited while waiting for ${what}; its output:\n${this.log()}`);
      const result = await this.exec(command);
      if (result.code === 0) return;
      last = result.out;
      await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}: ${last}\n${this.log()}`);
  }

  /** Sends the signal to the pod's first process and returns its exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number> {
    process.kill(this.child, signal);
    return this.wait();
  }

  /** The pod's exit code; after the timeout it is killed and -1 returned. */
  async wait(timeoutMs = 60_000): Promise<number> {
    const timer = new AbortController();
    const timeout = sleep(timeoutMs, undefined, { signal: timer.signal }).then(
      async () => {
        await stopProcess(this.pid, 0);
        return -1;
      },
      () => -1,
    );
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      timer.abort();
    }
  }
}

function homeOf(rootfs: string, uid: string): string {
  const passwd = existsSync(join(rootfs, "etc", "passwd")) ? readFileSync(join(rootfs, "etc", "passwd"), "utf8") : "";
  const entry = passwd.split("\n").find((line) => line.split(":")[2] === uid);
  return entry?.split(":")[5] || "/";
}

/** Runs a command like a pod and returns its exit code and output. */
async function runOnce(spec: RunSpec): Promise<{ code: number; out: string }> {
  const pod = await LikePod.start(spec);
  const code = await pod.wait();
  return { code, out: pod.log() };
}

// ---------------------------------------------------------------------------
// The chart's pod specs, rendered with the ground's images.

let chart: K8sObject[] = [];

async function renderChart(): Promise<K8sObject[]> {
  if (chart.length === 0) {
    chart = await helmTemplate({
      set: { "postgres.image": images.postgres, "nginx.image": images.nginx, "odoo.image": images.odooStandin },
    });
  }
  return chart;
}

function secretValue(objects: K8sObject[], name: string, key: string): string {
  const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === name);
  const value = secret?.data?.[key];
  if (typeof value !== "string") throw new Error(`no key ${key} in the rendered Secret ${name}`);
  return Buffer.from(value, "base64").toString("utf8");
}

/**
 * The RunSpec of one container of a rendered workload: its image, command,
 * args, env (values and secretKeyRefs), the pod's runAsUser/runAsGroup, and
 * its volumes as mounts: emptyDir -> tmpfs, configMap/secret -> read-only
 * files, claims -> a host directory as fsGroup leaves it (root:gid, 2775).
 */
async function chartContainer(owner: string, containerName: string): Promise<RunSpec & { container: K8sObject["spec"] }> {
  const objects = await renderChart();
  const template = podTemplates(objects).find((t) => t.owner === owner);
  if (!template) throw new Error(`the chart renders no ${owner}`);
  const pod = template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === containerName);
  const uid = pod.securityContext.runAsUser;
  const gid = pod.securityContext.runAsGroup;
  expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
  expect(container.securityContext.capabilities.drop).toEqual(["ALL"]);
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) env[e.name] = secretValue(objects, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
  }
  const dir = mkdtempSync(join(work, `${containerName}-volumes-`));
  const mounts: Mount[] = [];
  for (const m of container.volumeMounts ?? []) {
    const volume = (pod.volumes ?? []).find((v: { name: string }) => v.name === m.name);
    const host = join(dir, m.name);
    if (volume?.emptyDir) {
      mounts.push({ kind: "tmpfs", source: "1777", target: m.mountPath });
    } else if (volume?.configMap || volume?.secret) {
      mkdirSync(host);
      const source = objects.find(
        (o) =>
          o.kind === (volume.configMap ? "ConfigMap" : "Secret") &&
          o.metadata.name === (volume.configMap?.name ?? volume.secret?.secretName),
      );
      const data: Record<string, string> = volume.configMap
        ? (source?.data ?? {})
        : Object.fromEntries(Object.entries(source?.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), "base64").toString("utf8")]));
      const items: { key: string; path: string }[] =
        volume.secret?.items ?? volume.configMap?.items ?? Object.keys(data).map((k) => ({ key: k, path: k }));
      // As the kubelet writes them: defaultMode (0644 unless set), group fsGroup.
      const mode = volume.secret?.defaultMode ?? volume.configMap?.defaultMode ?? 0o644;
      for (const item of items) {
        writeFileSync(join(host, item.path), data[item.key] ?? "", { mode });
        chownSync(join(host, item.path), 0, gid);
      }
      mounts.push({ kind: "robind", source: host, target: m.mountPath });
    } else {
      // A claim (the StatefulSet's volumeClaimTemplates): the volume's root as fsGroup makes it.
      mkdirSync(host);
      await execa("chown", [`0:${gid}`, host]);
      await execa("chmod", ["2775", host]);
      mounts.push({ kind: m.readOnly ? "robind" : "bind", source: host, target: m.mountPath });
    }
  }
  return {
    image: container.image,
    user: `${uid}:${gid}`,
    mounts,
    env,
    command: container.command,
    args: container.args,
    container,
  };
}

const hostDirOf = (spec: RunSpec, target: string) => spec.mounts.find((m) => m.target === target)?.source ?? "";

// ---------------------------------------------------------------------------

describe("building, caching and pushing", () => {
  it("builds nothing when every image is in the registry", async () => {
    const again = await buildGroundImages(options());
    expect(again.actions).toEqual({
      base: "present",
      pause: "present",
      postgres: "present",
      nginx: "present",
      python: "present",
      odooStandin: "present",
      codeServerStandin: "present",
      storageJob: "present",
      pgadmin: "present",
      node: "present",
      helm: "present",
    });
    expect(again.images).toEqual(first.images);
    expect(messages.at(-1)).toMatch(/11 present, 0 restored .*, 0 built/);
  });

  it("tags every image by its inputs, under ground/ in the ground's registry", () => {
    for (const image of [first.base, ...Object.values(images)]) {
      expect(image).toMatch(new RegExp(`^${process.env.REGISTRY}/ground/[a-z-]+:[a-z0-9-]+$`));
    }
    expect(images.postgres).toMatch(/\/ground\/postgres:src-[0-9a-f]{20}$/);
    expect(first.base).toMatch(/\/ground\/debian:bookworm-[0-9a-f]{20}$/);
  });

  it("refills an empty registry from the cached archives, without building", async () => {
    const archives = Object.fromEntries(
      Object.entries({ base: first.base, ...images }).map(([name, image]) => {
        const [repo, tag] = image.slice(image.indexOf("/ground/") + 8).split(":");
        return [name, existsSync(join(cacheDir(), "images", `${repo}-${tag}.oci.tar`))];
      }),
    );
    const port = await freePort();
    const dir = join(work, "second-registry");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "config.yml"),
      stringify({
        version: 0.1,
        log: { level: "warn" },
        storage: { filesystem: { rootdirectory: join(dir, "data") } },
        http: { addr: `127.0.0.1:${port}` },
      }),
    );
    const registriesConf = join(dir, "registries.conf");
    writeFileSync(registriesConf, `[[registry]]\nlocation = "127.0.0.1:${port}"\ninsecure = true\n`);
    const registry = spawn("/usr/bin/docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore", detached: true });
    try {
      await waitFor("the second registry", async () => (await fetch(`http://127.0.0.1:${port}/v2/`)).status === 200, 30_000);
      const refill = await buildGroundImages(options(`127.0.0.1:${port}`, registriesConf));
      for (const [name, action] of Object.entries(refill.actions)) {
        expect(action, name).toBe(archives[name] ? "restored" : "built");
      }
      // The same archive behind both registries: the very same image.
      for (const name of ["postgres", "odooStandin"] as const) {
        if (archives[name]) expect(await configDigest(refill.images[name])).toBe(await configDigest(images[name]));
      }
    } finally {
      if (registry.pid) await stopProcess(registry.pid);
    }
  }, 900_000);
});

describe("image configs", () => {
  const expected: Record<keyof GroundImages, Partial<ImageConfig> & { title: string }> = {
    pause: { title: "ground pause", User: "65535:65535", Entrypoint: ["/pause"] },
    postgres: { title: "ground postgres", User: "999:999", Entrypoint: ["docker-entrypoint.sh"], Cmd: ["postgres"], StopSignal: "SIGINT" },
    nginx: { title: "ground nginx", User: "101:101", Cmd: ["nginx", "-g", "daemon off;"], StopSignal: "SIGQUIT" },
    python: { title: "ground python", User: "65532:65532", Cmd: ["python3"], WorkingDir: "/home/app" },
    odooStandin: { title: "ground odoo stand-in", User: "odoo", Entrypoint: ["/entrypoint.sh"], Cmd: ["odoo"] },
    codeServerStandin: {
      title: "ground code-server stand-in",
      User: "1000:1000",
      Entrypoint: ["/usr/bin/code-server"],
      Cmd: ["--auth", "none", "--bind-addr", "0.0.0.0:8080", "."],
      WorkingDir: "/home/coder",
    },
    storageJob: { title: "storage-job", User: "1000:1000", Cmd: ["/usr/local/bin/archive"], WorkingDir: "/data" },
    pgadmin: { title: "ground pgadmin", User: "5050:5050", Entrypoint: ["/entrypoint.sh"], WorkingDir: "/pgadmin4" },
    node: { title: "ground node", Cmd: ["node"] },
    helm: { title: "ground helm", Entrypoint: ["/usr/bin/helm"] },
  };
  const labels: Partial<Record<keyof GroundImages, string>> = {
    odooStandin: "odoo-standin",
    codeServerStandin: "code-server-standin",
    storageJob: "storage-job",
  };
  const ports: Record<keyof GroundImages, string[]> = {
    pause: [],
    postgres: ["5432/tcp"],
    nginx: ["8080/tcp"],
    python: [],
    odooStandin: ["8069/tcp", "8071/tcp", "8072/tcp"],
    codeServerStandin: ["8080/tcp"],
    storageJob: [],
    pgadmin: ["5050/tcp"],
    node: [],
    helm: [],
  };

  it.each(Object.keys(expected) as (keyof GroundImages)[])("%s: user, entrypoint, cmd, ports and labels", async (name) => {
    const config = await imageConfig(images[name]);
    const { title, ...fields } = expected[name];
    for (const [field, value] of Object.entries(fields)) expect(config[field as keyof ImageConfig], field).toEqual(value);
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual(ports[name]);
    expect(config.Labels?.["org.opencontainers.image.title"]).toBe(title);
    expect(config.Labels?.["ground.k8s-dev-sandbox/image"]).toBe(labels[name] ?? name);
  });

  it("odoo stand-in: the official image's environment and volumes", async () => {
    const config = await imageConfig(images.odooStandin);
    expect(config.Env).toContain("ODOO_RC=/etc/odoo/odoo.conf");
    expect(Object.keys(config.Volumes ?? {}).sort()).toEqual(["/mnt/extra-addons", "/var/lib/odoo"]);
  });

  it("pgadmin: the data volume, the port variable and the pinned version", async () => {
    const config = await imageConfig(images.pgadmin);
    expect(Object.keys(config.Volumes ?? {})).toEqual(["/var/lib/pgadmin"]);
    expect(config.Env).toContain("PGADMIN_LISTEN_PORT=5050");
    expect(config.Labels?.["org.opencontainers.image.version"]).toBe("9.18");
  });

  it("node: the pinned Node 24, as node:24-bookworm-slim says it", async () => {
    const config = await imageConfig(images.node);
    expect(config.Env).toContain("NODE_VERSION=24.21.0");
  });

  it("postgres: PGDATA and the version's binaries on PATH", async () => {
    const config = await imageConfig(images.postgres);
    expect(config.Env).toContain("PGDATA=/var/lib/postgresql/data");
    expect(config.Env?.find((e) => e.startsWith("PATH="))).toMatch(/^PATH=\/usr\/lib\/postgresql\/15\/bin:/);
  });
});

/** The processes whose parent is pid, with their state (Z: a zombie nobody reaped). */
function childrenOf(pid: number): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // After the command name, which may hold spaces: state, ppid.
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === pid) out.push({ pid: Number(entry), state: state ?? "" });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("pause", () => {
  it("sleeps as PID 1, reaps orphans, and exits 0 on SIGTERM", async () => {
    const pod = await LikePod.start({ image: images.pause, user: "65535:65535", mounts: [] });
    await sleep(300);
    expect(isAlive(pod.pid)).toBe(true);
    // An orphan in the pod's PID namespace is adopted by its PID 1, which must
    // reap it when it ends, or it would stay a zombie. (Its output goes
    // elsewhere, or execa would wait for it through the pipe.)
    await execa("nsenter", ["-t", String(pod.child), "-p", "--", "/bin/sh", "-c", "sleep 2 </dev/null >/dev/null 2>&1 & exit 0"]);
    await waitFor("pause to adopt the orphan", async () => childrenOf(pod.child).length === 1, 2_000);
    await waitFor("pause to reap the orphan", async () => childrenOf(pod.child).length === 0, 10_000);
    expect(await pod.stop("SIGTERM")).toBe(0);
  });
});

describe("postgres, run as the chart's StatefulSet runs it", () => {
  it("initializes PGDATA as uid 999 on a read-only root, honours POSTGRES_*, needs passwords from outside", async () => {
    const spec = await chartContainer("StatefulSet/sbx-odoo-dev-sandbox-postgres", "postgres");
    const env = spec.env ?? {};
    // The chart's superuser is postgres; its own initdb.d script makes Odoo's
    // role (proven on the real node by chart-hardening.test.ts).
    expect(env.POSTGRES_USER).toBe("postgres");
    expect(env.PGDATA).toBe("/var/lib/postgresql/data/pgdata");

    const pod = await LikePod.start(spec);
    const probe = spec.container.startupProbe.exec.command as string[];
    expect(probe[0]).toBe("pg_isready");
    await pod.until("PostgreSQL to accept connections (the chart's startup probe)", probe);
    expect((await pod.exec(["id", "-u"])).out.trim()).toBe("999");
    expect((await pod.exec(["touch", "/probe"])).out).toMatch(/Read-only file system/);

    // From a non-loopback address (as another pod would come): scram, and only with the password.
    const sql = (query: string, password?: string) =>
      pod.exec(
        ["psql", "-h", "192.0.2.10", "-U", "postgres", "-d", "postgres", "-w", "-tAc", query],
        password ? { PGPASSWORD: password } : {},
      );
    expect((await sql("select 1")).code).not.toBe(0);
    expect((await sql("select 1", "wrong")).out).toMatch(/password authentication failed/);
    const password = env.POSTGRES_PASSWORD ?? "";
    expect((await sql("select current_user, rolsuper from pg_roles where rolname = current_user", password)).out.trim()).toBe("postgres|t");
    expect((await sql("show listen_addresses", password)).out.trim()).toBe("*");
    expect((await sql("select left(rolpassword, 13) from pg_authid where rolname = 'postgres'", password)).out.trim()).toBe(
      "SCRAM-SHA-256",
    );

    const data = hostDirOf(spec, "/var/lib/postgresql/data");
    expect(statSync(join(data, "pgdata", "PG_VERSION")).uid).toBe(999);
    expect(readFileSync(join(data, "pgdata", "pg_hba.conf"), "utf8")).toMatch(/^host all all all scram-sha-256$/m);
    expect(await pod.stop("SIGINT")).toBe(0);

    // A restart finds the cluster and initializes nothing.
    const again = await LikePod.start(spec);
    await again.until("PostgreSQL to come back", probe);
    expect(again.log()).not.toContain("initializing");
    expect(await again.stop("SIGINT")).toBe(0);
  });

  it("reads the _FILE variants, creates POSTGRES_DB, and refuses to start without a password", async () => {
    const spec = await chartContainer("StatefulSet/sbx-odoo-dev-sandbox-postgres", "postgres");
    const secrets = join(work, "pg-secrets");
    mkdirSync(secrets);
    writeFileSync(join(secrets, "user"), "shop\n");
    writeFileSync(join(secrets, "password"), "from a file\n");
    spec.mounts.push({ kind: "robind", source: secrets, target: "/run/secrets/pg" });
    // The image's own contract, without the chart's initdb.d script (it needs
    // the chart's environment, replaced here).
    spec.mounts = spec.mounts.filter((m) => m.target !== "/docker-entrypoint-initdb.d");
    spec.env = {
      PGDATA: "/var/lib/postgresql/data/pgdata",
      POSTGRES_USER_FILE: "/run/secrets/pg/user",
      POSTGRES_PASSWORD_FILE: "/run/secrets/pg/password",
      POSTGRES_DB: "shop_db",
    };
    const pod = await LikePod.start(spec);
    await pod.until("PostgreSQL to accept connections", ["pg_isready", "-h", "127.0.0.1", "-U", "shop", "-d", "shop_db"]);
    const who = await pod.exec(
      ["psql", "-h", "192.0.2.10", "-U", "shop", "-d", "shop_db", "-w", "-tAc", "select current_user, current_database()"],
      {
        PGPASSWORD: "from a file",
      },
    );
    expect(who.out.trim()).toBe("shop|shop_db");
    expect(await pod.stop("SIGINT")).toBe(0);

    const empty = await chartContainer("StatefulSet/sbx-odoo-dev-sandbox-postgres", "postgres");
    empty.env = { PGDATA: "/var/lib/postgresql/data/pgdata" };
    const refused = await runOnce(empty);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/POSTGRES_PASSWORD is not set/);
  });
});

describe("nginx, run as the chart's Deployment runs it", () => {
  it("passes nginx -t with the chart's config, serves the probe path and proxies behind basic auth", async () => {
    const spec = await chartContainer("Deployment/sbx-odoo-dev-sandbox-nginx", "nginx");
    // The kubelet writes /etc/hosts; here it names the upstream Services.
    const upstreams = String(
      (await renderChart()).find((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-nginx"))?.data["upstreams.conf"],
    );
    const names = [...upstreams.matchAll(/server\s+([a-z0-9.-]+):\d+;/g)].map((m) => m[1]);
    const hosts = join(work, "hosts");
    writeFileSync(hosts, `127.0.0.1 localhost ${names.join(" ")}\n`);
    spec.mounts.push({ kind: "robind", source: hosts, target: "/etc/hosts" });

    const check = await runOnce({ ...spec, args: [...(spec.args ?? []), "-t"] });
    expect(check.out).toMatch(/test is successful/);
    expect(check.code).toBe(0);

    const pod = await LikePod.start(spec);
    const port = spec.container.ports[0].containerPort;
    const probe = spec.container.readinessProbe.httpGet.path;
    const curl = (...args: string[]) => pod.exec(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", ...args]);
    await pod.until("nginx to answer its probe", ["curl", "-fsS", `http://127.0.0.1:${port}${probe}`]);
    expect((await curl(`http://127.0.0.1:${port}/web/health`)).out).toBe("401");
    const objects = await renderChart();
    const user = secretValue(objects, "sbx-odoo-dev-sandbox-basic-auth", "username");
    const password = secretValue(objects, "sbx-odoo-dev-sandbox-basic-auth", "password");
    // Past basic auth, to an upstream where nothing listens: nginx did proxy.
    expect((await curl("-u", `${user}:${password}`, `http://127.0.0.1:${port}/web/health`)).out).toBe("502");
    expect((await pod.exec(["id", "-u"])).out.trim()).toBe("101");
    expect(await pod.stop("SIGQUIT")).toBe(0);
    expect(pod.log()).toMatch(/"GET \/web\/health HTTP\/1.1" 502/);
  });

  it("serves its default site on 8080 with the image's own command", async () => {
    const pod = await LikePod.start({ image: images.nginx, user: "101:101", mounts: [{ kind: "tmpfs", source: "1777", target: "/tmp" }] });
    await pod.until("nginx to listen on 8080", ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/"]);
    expect(await pod.stop("SIGQUIT")).toBe(0);
  });
});

describe("python", () => {
  it("has the tools the Jobs use, as user app", async () => {
    const script = [
      "set -e",
      "id -un; id -u",
      "python3 -c 'import sys; print(sys.version_info[0])'",
      "tar --version | head -1",
      "zstd --version",
      "psql --version; pg_dump --version; pg_restore --version; pg_isready --version",
      "s3cmd --version",
      "curl --help all | grep -c -- --aws-sigv4",
      'echo "HOME=$HOME"',
    ].join("\n");
    const run = await runOnce({
      image: images.python,
      user: "65532:65532",
      mounts: [{ kind: "tmpfs", source: "1777", target: "/tmp" }],
      command: ["bash", "-c", script],
    });
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/^app\n65532\n3\n/);
    expect(run.out).toMatch(/pg_dump \(PostgreSQL\) 15/);
    expect(run.out).toMatch(/s3cmd version/);
    expect(run.out).toContain("HOME=/home/app");
  });
});

describe("odoo stand-in", () => {
  it("has the official image's user, paths and the client tools init-db.sh uses", async () => {
    const script = [
      "set -e",
      "id",
      "stat -c '%n %u:%g' /var/lib/odoo /mnt/extra-addons",
      "command -v odoo psql pg_isready python3 bash curl",
      "python3 -c 'import psycopg2'",
      "test -x /entrypoint.sh",
    ].join("\n");
    const run = await runOnce({
      image: images.odooStandin,
      user: "100:101",
      mounts: [{ kind: "tmpfs", source: "1777", target: "/tmp" }],
      command: ["bash", "-c", script],
    });
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/uid=100\(odoo\) gid=101\(odoo\)/);
    expect(run.out).toMatch(/\/var\/lib\/odoo 100:101/);
    expect(run.out).toMatch(/\/mnt\/extra-addons 100:/);
    expect(run.out).toMatch(/\/usr\/bin\/odoo/);
  });

  it("is a base Dockerfile.dev builds on (ODOO_IMAGE)", async () => {
    const context = join(work, "dockerfile-dev");
    mkdirSync(join(context, "addons", "ground_probe"), { recursive: true });
    writeFileSync(join(context, "addons", "ground_probe", "__manifest__.py"), "{'name': 'ground probe', 'version': '18.0.1.0.0'}\n");
    const image = `localhost/ground-images-test/dev:${Date.now().toString(36)}`;
    await execa(
      "buildah",
      [
        "bud",
        "--tls-verify=false",
        "--build-arg",
        `ODOO_IMAGE=${images.odooStandin}`,
        "-f",
        join(repoRoot, "Dockerfile.dev"),
        "-t",
        image,
        context,
      ],
      { env: toolEnv() },
    );
    try {
      const { stdout } = await execa("buildah", ["inspect", "--type", "image", image], { env: toolEnv() });
      const config = (JSON.parse(stdout) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
      expect(config.User).toBe("odoo");
      expect(config.Entrypoint).toEqual(["/entrypoint.sh"]);
      const run = await runOnce({ image, user: "100:101", mounts: [], command: ["cat", "/mnt/extra-addons/ground_probe/__manifest__.py"] });
      expect(run.out).toContain("ground probe");
    } finally {
      await execa("buildah", ["rmi", "--force", image], { env: toolEnv(), reject: false });
    }
  });
});
