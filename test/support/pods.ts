// Pods and Jobs on the ground's real node for tests, with the security
// context the workspace agent gives its own: Pod Security "restricted", a
// fixed non-root uid, read-only root file system, no capabilities.
import { stringify } from "yaml";
import { REAL_NODE_SCHEDULING } from "../ground/node-config.js";
import { eventually, kubectl, kubectlJson } from "./cluster.js";

export const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

export function restrictedPodSecurity(uid = 1000, gid = 1000) {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, fsGroup: gid, seccompProfile: { type: "RuntimeDefault" } };
}

/** A namespace that enforces Pod Security "restricted" (the agent's workspaces namespace does). */
export async function createRestrictedNamespace(name: string): Promise<void> {
  await apply({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: { "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest" },
    },
  });
}

export async function apply(...objects: object[]): Promise<void> {
  await kubectl(["apply", "-f", "-"], { input: objects.map((o) => stringify(o)).join("---\n") });
}

export function pvc(namespace: string, name: string, size = "1Gi") {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { namespace, name },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: size } } },
  };
}

export interface VolumeMountSpec {
  claim: string;
  path: string;
  readOnly?: boolean;
}

export interface ContainerSpec {
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: object }[];
  volumes?: VolumeMountSpec[];
  uid?: number;
  /** Run as the image's own user (the pod only requires a non-root one) instead of `uid`. */
  imageUser?: boolean;
  serviceAccountName?: string;
  /** An emptyDir at /tmp, the one writable place on the read-only root. */
  tmpDir?: boolean;
}

export function podSpec(spec: ContainerSpec, restartPolicy: "Never" | "Always" = "Never") {
  const volumes = spec.volumes ?? [];
  const tmp = spec.tmpDir ? [{ name: "tmp", mountPath: "/tmp" }] : [];
  return {
    ...REAL_NODE_SCHEDULING,
    restartPolicy,
    ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
    securityContext: spec.imageUser
      ? { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } }
      : restrictedPodSecurity(spec.uid ?? 1000, spec.uid ?? 1000),
    containers: [
      {
        name: "main",
        image: spec.image,
        ...(spec.command ? { command: spec.command } : {}),
        ...(spec.args ? { args: spec.args } : {}),
        env: spec.env ?? [],
        securityContext: RESTRICTED_CONTAINER,
        volumeMounts: [...volumes.map((v, i) => ({ name: `v${i}`, mountPath: v.path, readOnly: v.readOnly ?? false })), ...tmp],
        resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "512Mi" } },
      },
    ],
    volumes: [
      ...volumes.map((v, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: v.claim, readOnly: v.readOnly ?? false } })),
      ...(spec.tmpDir ? [{ name: "tmp", emptyDir: {} }] : []),
    ],
  };
}

export interface JobOutcome {
  succeeded: boolean;
  logs: string;
}

/** Creates a Job (no retries, a deadline, cleaned up by TTL) without waiting for it. */
export async function startJob(namespace: string, name: string, spec: ContainerSpec): Promise<void> {
  await apply({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { namespace, name },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: 600,
      ttlSecondsAfterFinished: 600,
      template: { metadata: { labels: { job: name } }, spec: podSpec(spec) },
    },
  });
}

/** Waits until a Job succeeds or fails; returns the outcome with the pod's logs. */
export async function waitForJob(namespace: string, name: string, timeoutMs = 240_000): Promise<JobOutcome> {
  const conditions = await eventually(
    `job ${namespace}/${name} to finish`,
    async () => {
      const job = await kubectlJson<{ status?: { conditions?: { type: string; status: string }[] } }>([
        "-n",
        namespace,
        "get",
        "job",
        name,
      ]);
      const done = (job.status?.conditions ?? []).filter((c) => c.status === "True" && (c.type === "Complete" || c.type === "Failed"));
      return done.length > 0 ? done : undefined;
    },
    timeoutMs,
    1_000,
  );
  const { stdout, stderr } = await kubectl(["-n", namespace, "logs", `job/${name}`], { reject: false });
  return { succeeded: conditions.some((c) => c.type === "Complete"), logs: `${stdout}${stderr}` };
}

/** Runs a Job and waits for its outcome. */
export async function runJob(namespace: string, name: string, spec: ContainerSpec, timeoutMs = 240_000): Promise<JobOutcome> {
  await startJob(namespace, name, spec);
  return waitForJob(namespace, name, timeoutMs);
}

/** Runs a command to completion in a one-off pod (a Job), failing the test when it fails. */
export async function runOnce(namespace: string, name: string, spec: ContainerSpec): Promise<string> {
  const outcome = await runJob(namespace, name, spec);
  if (!outcome.succeeded) throw new Error(`job ${namespace}/${name} failed:\n${outcome.logs}`);
  return outcome.logs;
}
