// The Docker Engine API bodies of a workspace (notes/agent-api.md §5, §6):
// its container, its named home volume, and the storage job's helper
// container. Pure, as manifests.ts is for Kubernetes; the same names, labels
// and environment, so the two runtimes differ only where the engines do.
import type { JobRequest, WorkspaceRuntimeSettings } from "./manifests.js";
import { jobName, LABELS, MANAGED_BY, type Naming, volumeName, workloadName, workspaceLabels } from "./names.js";

export interface DockerSettings {
  /** A user-defined network the containers join (AGENT_DOCKER_NETWORK). */
  network: string;
  /** The host address the workspace's port is published on; the agent checks health and answers upstream there. */
  publishHost: string;
}

/**
 * Kubernetes keeps one agent's objects apart by namespace; on one engine the
 * resource prefix does it, as a label (names alone would also match a longer
 * prefix that starts the same).
 */
export const PREFIX_LABEL = "k8s-sandbox.agent/resource-prefix";

export function containerLabels(naming: Naming, ws: string, component: "workspace" | "volume" | "job"): Record<string, string> {
  return { ...workspaceLabels(ws, component), [PREFIX_LABEL]: naming.prefix };
}

/** The label filter of a list call: ours, under this prefix, of this component (and `extra`, e.g. workspace, job type). */
export function labelFilter(naming: Naming, component: "workspace" | "volume" | "job", extra: Record<string, string> = {}): string[] {
  const labels = { [LABELS.managedBy]: MANAGED_BY, [PREFIX_LABEL]: naming.prefix, [LABELS.component]: component, ...extra };
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

/**
 * Whether labels carry every `key=value` of a filter. The engine filters too,
 * but Podman 4.3 ORs several label filters on volumes (Docker ANDs them), so
 * what comes back is checked again.
 */
export function matchesFilter(labels: Record<string, string> | undefined, filter: string[]): boolean {
  return filter.every((entry) => {
    const at = entry.indexOf("=");
    return labels?.[entry.slice(0, at)] === entry.slice(at + 1);
  });
}

/**
 * A named volume. The engine makes it owned by root; the workspace and the
 * storage jobs run as uid:gid, so Podman is asked to create it owned by them
 * (its local driver's `o=uid=,gid=`). Docker's local driver has no such
 * option without a device: there volumeOwnerBody's container does it.
 */
export function volumeBody(s: WorkspaceRuntimeSettings, ws: string, podman: boolean) {
  return {
    Name: volumeName(s.naming, ws),
    Labels: containerLabels(s.naming, ws, "volume"),
    ...(podman ? { DriverOpts: { o: `uid=${s.uid},gid=${s.gid}` } } : {}),
  };
}

/**
 * Where the engine cannot create a volume owned by uid:gid (Docker's local
 * driver), a one-shot container hands the fresh volume's root to them: root
 * with CHOWN as its only capability, no network, nothing else mounted.
 */
export function volumeOwnerBody(s: WorkspaceRuntimeSettings, ws: string) {
  return {
    Image: s.storageJobImage,
    User: "0:0",
    Entrypoint: ["/bin/chown"],
    Cmd: [`${s.uid}:${s.gid}`, "/data"],
    Labels: containerLabels(s.naming, ws, "volume"),
    HostConfig: {
      CapDrop: ["ALL"],
      CapAdd: ["CHOWN"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      NetworkMode: "none",
      Mounts: [{ Type: "volume", Source: volumeName(s.naming, ws), Target: "/data", ReadOnly: false }],
      RestartPolicy: { Name: "no" },
    },
  };
}

export function volumeOwnerName(s: WorkspaceRuntimeSettings, ws: string): string {
  return `${volumeName(s.naming, ws)}-owner`;
}

/** Hardening both kinds of container share: no capabilities, no privilege gain. */
const HARDENED = { CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], Privileged: false };

/**
 * The workspace container: the contract's user, HOME, arguments and mount;
 * its port published on the host address only (never 0.0.0.0), on a port the
 * engine picks.
 */
export function workspaceContainerBody(s: WorkspaceRuntimeSettings, d: DockerSettings, ws: string, image: string) {
  const port = `${s.containerPort}/tcp`;
  return {
    Image: image,
    User: `${s.uid}:${s.gid}`,
    Env: [`HOME=${s.homePath}`],
    Cmd: ["--auth", "none", "--bind-addr", `0.0.0.0:${s.containerPort}`],
    Labels: containerLabels(s.naming, ws, "workspace"),
    ExposedPorts: { [port]: {} },
    HostConfig: {
      ...HARDENED,
      NetworkMode: d.network,
      Mounts: [{ Type: "volume", Source: volumeName(s.naming, ws), Target: s.homePath, ReadOnly: false }],
      PortBindings: { [port]: [{ HostIp: d.publishHost, HostPort: "" }] },
      RestartPolicy: { Name: "no" },
    },
  };
}

export function workspaceContainerName(s: WorkspaceRuntimeSettings, ws: string): string {
  return workloadName(s.naming, ws);
}

/**
 * The storage job's helper container: the contract's command and environment,
 * the volume at /data (read-only for archive). The store's keys are in its
 * environment, as the Docker agent passes them (§5): an engine has no Secret
 * object; whoever can inspect containers can use the engine's socket, which
 * is root on the host anyway. Never in the command line.
 */
export function jobContainerBody(
  s: WorkspaceRuntimeSettings,
  d: DockerSettings,
  request: JobRequest,
  keys: { accessKey: string; secretKey: string },
) {
  const { type, ws, op } = request;
  return {
    Image: s.storageJobImage,
    User: `${s.uid}:${s.gid}`,
    Entrypoint: ["/bin/sh", "-c"],
    Cmd: [`/usr/local/bin/${type}`],
    Env: [
      `ARCHIVE_URL=s3://${s.s3.bucket}/${request.archiveKey}`,
      `AWS_ENDPOINT_URL=${s.s3.internalEndpoint}`,
      `AWS_REGION=${s.s3.region}`,
      `AWS_DEFAULT_REGION=${s.s3.region}`,
      `AWS_ACCESS_KEY_ID=${keys.accessKey}`,
      `AWS_SECRET_ACCESS_KEY=${keys.secretKey}`,
      `WORKSPACE_ID=${ws}`,
      `S3_PREFIX=${s.naming.prefix}`,
      `S3_BUCKET=${s.s3.bucket}`,
      ...(type === "archive" ? [`ARCHIVE_OP_ID=${op}`] : [`RESTORE_OP_ID=${op}`, `RESTORE_ARCHIVE_KEY=${request.archiveKey}`]),
    ],
    Labels: {
      ...containerLabels(s.naming, ws, "job"),
      [LABELS.jobType]: type,
      ...(type === "archive" ? { [LABELS.archiveOpId]: op } : { [LABELS.restoreOpId]: op }),
    },
    HostConfig: {
      ...HARDENED,
      NetworkMode: d.network,
      Mounts: [{ Type: "volume", Source: volumeName(s.naming, ws), Target: "/data", ReadOnly: type === "archive" }],
      RestartPolicy: { Name: "no" },
    },
  };
}

export function jobContainerName(s: WorkspaceRuntimeSettings, request: JobRequest): string {
  return jobName(s.naming, request.type, request.ws, request.op);
}
