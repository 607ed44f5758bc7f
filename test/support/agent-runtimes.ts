// The two runtimes the Agent API contract suite runs against
// (test/integration/agent-contract-suite.ts): Kubernetes (the ground's API
// server, kwok's node) and a Docker Engine API (the ground's podman service).
// A leg sets a runtime up for the agent and lets the suite look at what the
// agent made there, in one shape for both: the suite's assertions are the
// same; only what the engines differ in by design (Kubernetes keeps the
// store's keys in a Secret, Docker passes them in the helper's environment;
// Job limits vs. the agent's own deadline) is checked by the leg.
//
// Storage jobs in the contract suite do no storage work on either leg: on
// kwok their pods "complete" without running, on Docker they run a helper
// image whose archive and restore exit 0 at once (made here by committing a
// container of the ground's Python image). The real work (bytes, checksums,
// restore) is proven by agent-real-node.test.ts and agent-docker.test.ts.
import { expect } from "vitest";
import { DockerEngine, demuxLogs, parseDockerHost, query } from "../../src/adapters/docker/engine.js";
import { labelFilter, matchesFilter } from "../../src/domain/workspace/containers.js";
import type { V1Deployment, V1Job, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { createRestrictedNamespace } from "./agent.js";
import { kubectl, kubectlJson } from "./cluster.js";

export interface JobView {
  /** Changes when the job is made anew. */
  id: string;
  labels: Record<string, string>;
  command: string[];
  /** Plain environment values (Kubernetes: those not taken from a Secret). */
  env: Record<string, string>;
  mountPath?: string;
  readOnly: boolean;
  volume?: string;
  failed: boolean;
}

export interface WorkloadView {
  started: boolean;
  image?: string;
  user?: string;
  /** Changes when the workload is changed or made anew (Kubernetes: generation; Docker: container id). */
  revision: string;
}

export interface RuntimeLeg {
  name: "kubernetes" | "docker";
  /** Why this leg cannot run here, or undefined. */
  skipReason?: string;
  /** Made once per run; the agent's env for this runtime (namespace, engine). */
  setup(run: string, prefix: string): Promise<void>;
  teardown(): Promise<void>;
  agentEnv(): Record<string, string>;
  /** Env that keeps every storage job running (as a long archive would), with a short deadline. */
  slowJobsEnv(): Promise<Record<string, string>>;
  setupSlow(run: string): Promise<void>;
  teardownSlow(): Promise<void>;
  slowAgentEnv(): Record<string, string>;
  /** The resource prefix of the slow agent (Kubernetes: the same, in its own namespace). */
  slowPrefix(): string;

  volumeLabels(ws: string): Promise<Record<string, string> | undefined>;
  volumeCount(): Promise<number>;
  workload(ws: string): Promise<WorkloadView | undefined>;
  workloadCount(): Promise<number>;
  /** Live processes of the workspace (pods, a running container). */
  liveProcesses(ws: string): Promise<number>;
  jobs(ws: string, type: "archive" | "restore", slow?: boolean): Promise<JobView[]>;
  /** What the agent answers for upstream while the workspace runs. */
  expectedUpstream(ws: string): Promise<{ hostname: string; port: number }>;
  /** Workload, volume (and Service) names of the workspace still present. */
  leftovers(ws: string): Promise<string[]>;
  /** How the store's keys reach a job, and the job's limits: by design different per runtime. */
  checkJobCredentialsAndLimits(ws: string, type: "archive"): Promise<void>;
}

// --- Kubernetes ----------------------------------------------------------------

export function kubernetesLeg(): RuntimeLeg {
  let ns = "";
  let nsSlow = "";
  let prefix = "";
  const jobsIn = async (namespace: string, ws: string, type: string) =>
    (await kubectlJson<{ items: V1Job[] }>(["-n", namespace, "get", "jobs", "-l", `codehub.workspace_id=${ws},codehub.job_type=${type}`]))
      .items;
  return {
    name: "kubernetes",
    async setup(run, p) {
      ns = `agent-test-${run}`;
      prefix = p;
      await createRestrictedNamespace(ns);
    },
    async teardown() {
      if (process.env.AGENT_TEST_KEEP === "1") return;
      await kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=false"], { reject: false });
    },
    agentEnv: () => ({ AGENT_KUBERNETES_NAMESPACE: ns }),
    async setupSlow(run) {
      nsSlow = `agent-test-${run}-pending`;
      await createRestrictedNamespace(nsSlow);
    },
    async teardownSlow() {
      if (process.env.AGENT_TEST_KEEP !== "1")
        await kubectl(["delete", "namespace", nsSlow, "--ignore-not-found", "--wait=false"], { reject: false });
    },
    slowAgentEnv: () => ({ AGENT_KUBERNETES_NAMESPACE: nsSlow }),
    slowPrefix: () => prefix,
    // No node has this label: the Jobs stay active, as a long archive would.
    slowJobsEnv: async () => ({
      AGENT_KUBERNETES_NODE_SELECTOR: JSON.stringify({ "agent-test.k8s-dev-sandbox/nowhere": "true" }),
      AGENT_DOCKER_JOB_TIMEOUT: "15",
    }),
    async volumeLabels(ws) {
      const r = await kubectl(["-n", ns, "get", "pvc", `${prefix}${ws}-home`, "-o", "json"], { reject: false });
      if (r.exitCode !== 0) return undefined;
      const pvc = JSON.parse(r.stdout) as V1PersistentVolumeClaim;
      expect(pvc.spec?.accessModes).toEqual(["ReadWriteOnce"]);
      return pvc.metadata?.deletionTimestamp ? undefined : (pvc.metadata?.labels ?? {});
    },
    async volumeCount() {
      return (await kubectl(["-n", ns, "get", "pvc", "-o", "name"])).stdout.split("\n").filter(Boolean).length;
    },
    async workload(ws) {
      const r = await kubectl(["-n", ns, "get", "deploy", `${prefix}${ws}`, "-o", "json"], { reject: false });
      if (r.exitCode !== 0) return undefined;
      const d = JSON.parse(r.stdout) as V1Deployment;
      const sc = d.spec?.template.spec?.securityContext;
      expect(sc).toMatchObject({ runAsNonRoot: true });
      return {
        started: (d.spec?.replicas ?? 1) > 0,
        image: d.spec?.template.spec?.containers[0]?.image,
        user: `${sc?.runAsUser}:${sc?.runAsGroup}`,
        revision: String(d.metadata?.generation),
      };
    },
    async workloadCount() {
      return (await kubectl(["-n", ns, "get", "deploy", "-o", "name"])).stdout.split("\n").filter(Boolean).length;
    },
    async liveProcesses(ws) {
      // The pods passed the namespace's Pod Security "restricted" admission (a violation is refused at creation).
      const pods = await kubectlJson<{ items: unknown[] }>(["-n", ns, "get", "pods", "-l", `codehub.workspace_id=${ws}`]);
      return pods.items.length;
    },
    async jobs(ws, type, slow) {
      return (await jobsIn(slow ? nsSlow : ns, ws, type)).map((job) => {
        const c = job.spec?.template.spec?.containers[0];
        const mount = c?.volumeMounts?.[0];
        return {
          id: job.metadata?.uid ?? "",
          labels: job.metadata?.labels ?? {},
          command: c?.command ?? [],
          env: Object.fromEntries((c?.env ?? []).flatMap((e) => (e.value !== undefined ? [[e.name, e.value]] : []))),
          mountPath: mount?.mountPath,
          readOnly: mount?.readOnly ?? false,
          volume: job.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName,
          failed: job.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True") ?? false,
        };
      });
    },
    async expectedUpstream(ws) {
      return { hostname: `${prefix}${ws}.${ns}.svc.cluster.local`, port: 8080 };
    },
    async leftovers(ws) {
      const left = await kubectl(["-n", ns, "get", "deploy,service,pvc", "-l", `codehub.workspace_id=${ws}`, "-o", "name"]);
      return left.stdout.split("\n").filter(Boolean);
    },
    async checkJobCredentialsAndLimits(ws, type) {
      const [job] = await jobsIn(ns, ws, type);
      expect(job?.spec).toMatchObject({ activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 3600, backoffLimit: 1 });
      const env = Object.fromEntries((job?.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
      expect(env.AWS_SECRET_ACCESS_KEY).toEqual({ name: `${prefix}storage-credentials`, key: "AWS_SECRET_ACCESS_KEY" });
      // The secret key is in the Secret, not in the Job.
      expect(JSON.stringify(job)).not.toContain(process.env.AGENT_S3_SECRET_KEY);
      const secret = await kubectlJson<{ data: Record<string, string> }>(["-n", ns, "get", "secret", `${prefix}storage-credentials`]);
      expect(Buffer.from(secret.data.AWS_SECRET_ACCESS_KEY ?? "", "base64").toString()).toBe(process.env.AGENT_S3_SECRET_KEY);
    },
  };
}

// --- Docker Engine API -----------------------------------------------------------

interface Inspect {
  Id: string;
  Name: string;
  Config: { Image: string; User?: string; Labels?: Record<string, string>; Env?: string[]; Entrypoint?: string[] | string; Cmd?: string[] };
  State: { Status: string; Running: boolean; ExitCode: number; StartedAt?: string };
  Mounts?: Array<{ Type: string; Name?: string; Destination: string; RW: boolean }>;
  HostConfig?: { CapDrop?: string[]; SecurityOpt?: string[] };
  NetworkSettings?: { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> };
}

/** Why the Docker leg cannot run: the ground's env says whether it started podman's service. */
export function dockerEngineMissing(): string | undefined {
  if (process.env.GROUND_DOCKER_ENGINE === "1" && process.env.AGENT_DOCKER_HOST) return undefined;
  return `no Docker Engine API: ${process.env.GROUND_DOCKER_ENGINE_UNAVAILABLE ?? "the ground exports no AGENT_DOCKER_HOST (is podman installed? see docs/test-ground.md)"}`;
}

export function engineOfGround(): DockerEngine {
  return new DockerEngine(parseDockerHost(process.env.AGENT_DOCKER_HOST ?? ""));
}

/**
 * An image whose /usr/local/bin/archive and restore exit 0 at once, or sleep
 * (a job that runs long): the Docker leg's counterpart of kwok's pods.
 * Committed from a container of the ground's Python image, in the engine only.
 */
export async function stubStorageJobImage(engine: DockerEngine, kind: "done" | "slow", run: string): Promise<string> {
  const base = process.env.GROUND_IMAGE_PYTHON;
  if (!base) throw new Error("GROUND_IMAGE_PYTHON is not set: the ground exports it when its real node runs");
  const present = await engine.call("GET", `/images/${base}/json`);
  if (present.status === 404) await engine.expect("POST", `/images/create${query({ fromImage: base })}`, undefined, [], 300_000);
  const body = kind === "done" ? "exit 0" : "exec sleep 3600";
  const script = `printf '#!/bin/sh\\n${body}\\n' > /usr/local/bin/archive && cp /usr/local/bin/archive /usr/local/bin/restore && chmod 755 /usr/local/bin/archive /usr/local/bin/restore`;
  const name = `hdk-stub-${kind}-${run}`;
  await engine.expect("POST", `/containers/create${query({ name })}`, {
    Image: base,
    User: "0:0",
    Entrypoint: ["/bin/sh", "-c"],
    Cmd: [script],
  });
  try {
    await engine.expect("POST", `/containers/${name}/start`);
    const waited = await engine.expect("POST", `/containers/${name}/wait`, undefined, [], 120_000);
    expect((waited.body as { StatusCode: number }).StatusCode).toBe(0);
    const repo = `localhost/agent-test-storage-job-${kind}`;
    await engine.expect("POST", `/commit${query({ container: name, repo, tag: run })}`, {});
    return `${repo}:${run}`;
  } finally {
    await engine.call("DELETE", `/containers/${name}${query({ force: true })}`);
  }
}

export function dockerLeg(): RuntimeLeg {
  const skipReason = dockerEngineMissing();
  const engine = skipReason ? undefined : engineOfGround();
  let prefix = "";
  let slowPrefix = "";
  let run = "";
  let doneImage = "";
  let slowImage = "";
  /** Every default capability dropped (podman lists them one by one where Docker keeps "ALL"). */
  const expectNoCapabilities = (c: Inspect | undefined) => {
    const dropped = new Set((c?.HostConfig?.CapDrop ?? []).map((x) => x.toUpperCase().replace(/^CAP_/, "")));
    if (dropped.has("ALL")) return;
    for (const cap of [
      "CHOWN",
      "DAC_OVERRIDE",
      "FOWNER",
      "FSETID",
      "KILL",
      "NET_BIND_SERVICE",
      "SETFCAP",
      "SETGID",
      "SETPCAP",
      "SETUID",
      "SYS_CHROOT",
    ])
      expect(dropped, `capability ${cap} not dropped`).toContain(cap);
  };
  const e = () => {
    if (!engine) throw new Error(skipReason);
    return engine;
  };
  const inspect = async (name: string) => {
    const r = await e().call("GET", `/containers/${name}/json`);
    return r.status === 404 ? undefined : (r.body as Inspect);
  };
  const listed = async (p: string, component: "workspace" | "volume" | "job", extra: Record<string, string> = {}) => {
    const naming = { prefix: p, archiveSuffix: "home.tar.zst" };
    const filter = labelFilter(naming, component, extra);
    type Listed = { Name: string; Id: string; Labels?: Record<string, string> };
    if (component === "volume") {
      const r = await e().expect("GET", `/volumes${query({ filters: { label: filter } })}`);
      return ((r.body as { Volumes: Listed[] | null }).Volumes ?? []).filter((v) => matchesFilter(v.Labels, filter)).map((v) => v.Name);
    }
    const r = await e().expect("GET", `/containers/json${query({ all: true, filters: { label: filter } })}`);
    return (r.body as Listed[]).filter((c) => matchesFilter(c.Labels, filter)).map((c) => c.Id);
  };
  const removeAll = async (p: string) => {
    for (const component of ["workspace", "job"] as const)
      for (const id of await listed(p, component)) await e().call("DELETE", `/containers/${id}${query({ force: true })}`);
    for (const name of await listed(p, "volume")) await e().call("DELETE", `/volumes/${name}`);
  };
  const jobsOf = async (p: string, ws: string, type: string): Promise<JobView[]> => {
    const ids = await listed(p, "job", { "codehub.workspace_id": ws, "codehub.job_type": type });
    const views = await Promise.all(ids.map((id) => inspect(id)));
    return views.flatMap((c) => {
      if (!c) return [];
      const entry = Array.isArray(c.Config.Entrypoint) ? c.Config.Entrypoint : c.Config.Entrypoint ? [c.Config.Entrypoint] : [];
      const env = Object.fromEntries(
        (c.Config.Env ?? []).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      );
      const mount = c.Mounts?.find((m) => m.Type === "volume");
      return [
        {
          id: c.Id,
          labels: c.Config.Labels ?? {},
          command: [...entry, ...(c.Config.Cmd ?? [])],
          env,
          mountPath: mount?.Destination,
          readOnly: mount ? !mount.RW : false,
          volume: mount?.Name,
          failed: (c.State.Status === "exited" || c.State.Status === "dead") && c.State.ExitCode !== 0,
        },
      ];
    });
  };
  return {
    name: "docker",
    skipReason,
    async setup(r, p) {
      run = r;
      prefix = p;
      doneImage = await stubStorageJobImage(e(), "done", run);
    },
    async teardown() {
      if (process.env.AGENT_TEST_KEEP === "1") return;
      await removeAll(prefix);
      await e().expect("DELETE", `/images/${doneImage}${query({ force: true })}`, undefined, [404]);
    },
    agentEnv: () => ({
      AGENT_RUNTIME_BACKEND: "docker",
      AGENT_RUNTIME_STORAGE_JOB_IMAGE: doneImage,
    }),
    async setupSlow() {
      slowPrefix = `${prefix.slice(0, -1)}s-`;
      slowImage = await stubStorageJobImage(e(), "slow", run);
    },
    async teardownSlow() {
      if (process.env.AGENT_TEST_KEEP === "1") return;
      await removeAll(slowPrefix);
      await e().expect("DELETE", `/images/${slowImage}${query({ force: true })}`, undefined, [404]);
    },
    // Another prefix keeps the slow agent's objects apart, as the other namespace does on Kubernetes.
    slowAgentEnv: () => ({ AGENT_RUNTIME_BACKEND: "docker" }),
    slowPrefix: () => slowPrefix,
    slowJobsEnv: async () => ({ AGENT_RUNTIME_STORAGE_JOB_IMAGE: slowImage, AGENT_DOCKER_JOB_TIMEOUT: "15" }),
    async volumeLabels(ws) {
      const r = await e().call("GET", `/volumes/${prefix}${ws}-home`);
      return r.status === 404 ? undefined : ((r.body as { Labels?: Record<string, string> }).Labels ?? {});
    },
    volumeCount: async () => (await listed(prefix, "volume")).length,
    async workload(ws) {
      const c = await inspect(`${prefix}${ws}`);
      if (!c) return undefined;
      expectNoCapabilities(c);
      return { started: true, image: c.Config.Image, user: c.Config.User, revision: `${c.Id}/${c.State.StartedAt}` };
    },
    workloadCount: async () => (await listed(prefix, "workspace")).length,
    async liveProcesses(ws) {
      const c = await inspect(`${prefix}${ws}`);
      return c?.State.Running ? 1 : 0;
    },
    jobs: (ws, type, slow) => jobsOf(slow ? slowPrefix : prefix, ws, type),
    async expectedUpstream(ws) {
      const c = await inspect(`${prefix}${ws}`);
      const binding = c?.NetworkSettings?.Ports?.["8080/tcp"]?.[0];
      // Published on loopback only.
      expect(binding?.HostIp).toBe("127.0.0.1");
      return { hostname: "127.0.0.1", port: Number(binding?.HostPort) };
    },
    async leftovers(ws) {
      const containers = await listed(prefix, "workspace", { "codehub.workspace_id": ws });
      const volumes = await listed(prefix, "volume", { "codehub.workspace_id": ws });
      return [...containers, ...volumes];
    },
    async checkJobCredentialsAndLimits(ws, type) {
      const [job] = await jobsOf(prefix, ws, type);
      // The Docker agent's way (notes/agent-api.md §5): the keys in the helper's environment, never in its command.
      expect(job?.env.AWS_SECRET_ACCESS_KEY).toBe(process.env.AGENT_S3_SECRET_KEY);
      expect(job?.env.AWS_ACCESS_KEY_ID).toBe(process.env.AGENT_S3_ACCESS_KEY);
      expect(JSON.stringify(job?.command)).not.toContain(process.env.AGENT_S3_SECRET_KEY);
      // Helpers are not restarted by the engine; the deadline is the agent's (AGENT_DOCKER_JOB_TIMEOUT), tested with the slow jobs.
      const c = await inspect(job?.id ?? "");
      expectNoCapabilities(c);
      expect(c?.Config.User).toBe("1000:1000");
    },
  };
}

/** Runs a command in a running container through the Engine API; its exit code and output (stdout, then stderr, as sent). */
export async function execInContainer(engine: DockerEngine, container: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const created = await engine.expect("POST", `/containers/${container}/exec`, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const id = (created.body as { Id: string }).Id;
  const started = await engine.expect("POST", `/exec/${id}/start`, { Detach: false, Tty: false }, [], 60_000);
  const inspected = await engine.expect("GET", `/exec/${id}/json`);
  return { code: (inspected.body as { ExitCode: number }).ExitCode, out: demuxLogs(Buffer.from(started.text, "latin1")) };
}
