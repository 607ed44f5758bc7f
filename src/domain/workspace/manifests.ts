// The Kubernetes objects of a workspace, built from settings and ids. Pure;
// the adapter sends them. Every pod passes Pod Security "restricted" and runs
// as the contract's uid/gid (notes/agent-api.md §6).
import type {
  V1Deployment,
  V1Job,
  V1PersistentVolumeClaim,
  V1PodSecurityContext,
  V1SecurityContext,
  V1Service,
  V1Toleration,
} from "@kubernetes/client-node";
import { archiveKey, type JobType, jobName, LABELS, type Naming, volumeName, workloadName, workspaceLabels } from "./names.js";

export interface WorkspaceRuntimeSettings {
  namespace: string;
  naming: Naming;
  uid: number;
  gid: number;
  containerPort: number;
  homePath: string;
  /** Empty: the cluster's default StorageClass. */
  storageClass: string;
  volumeSize: string;
  /** Where workspace and job pods may run (nodeSelector, tolerations); empty by default. */
  nodeSelector: Record<string, string>;
  tolerations: V1Toleration[];
  clusterDomain: string;
  storageJobImage: string;
  jobTimeoutSeconds: number;
  jobTtlSeconds: number;
  jobBackoffLimit: number;
  s3: { bucket: string; internalEndpoint: string; region: string };
  /** The Secret (in the workspace namespace) holding the store's keys for the jobs. */
  credentialsSecret: string;
}

export const HOME_VOLUME = "home";
export const CREDENTIAL_KEYS = { accessKey: "AWS_ACCESS_KEY_ID", secretKey: "AWS_SECRET_ACCESS_KEY" } as const;

export function podSecurity(s: WorkspaceRuntimeSettings): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: s.uid,
    runAsGroup: s.gid,
    fsGroup: s.gid,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export const CONTAINER_SECURITY: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  runAsNonRoot: true,
};

export function volumeClaim(s: WorkspaceRuntimeSettings, ws: string): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: volumeName(s.naming, ws), namespace: s.namespace, labels: workspaceLabels(ws, "volume") },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: s.volumeSize } },
      ...(s.storageClass ? { storageClassName: s.storageClass } : {}),
    },
  };
}

/** The pod selector of a workspace: stable labels only (never the image). */
export function workspaceSelector(ws: string): Record<string, string> {
  return workspaceLabels(ws, "workspace");
}

export function deployment(s: WorkspaceRuntimeSettings, ws: string, image: string, replicas: number): V1Deployment {
  const labels = workspaceSelector(ws);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: workloadName(s.naming, ws), namespace: s.namespace, labels },
    spec: {
      replicas,
      // The home volume is ReadWriteOnce: never two pods at once.
      strategy: { type: "Recreate" },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity(s),
          ...scheduling(s),
          containers: [
            {
              name: "workspace",
              image,
              args: ["--auth", "none", "--bind-addr", `0.0.0.0:${s.containerPort}`],
              env: [{ name: "HOME", value: s.homePath }],
              ports: [{ name: "http", containerPort: s.containerPort }],
              readinessProbe: { tcpSocket: { port: s.containerPort }, periodSeconds: 2, failureThreshold: 3 },
              securityContext: CONTAINER_SECURITY,
              volumeMounts: [{ name: HOME_VOLUME, mountPath: s.homePath }],
            },
          ],
          volumes: [{ name: HOME_VOLUME, persistentVolumeClaim: { claimName: volumeName(s.naming, ws) } }],
        },
      },
    },
  };
}

export function service(s: WorkspaceRuntimeSettings, ws: string): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: workloadName(s.naming, ws), namespace: s.namespace, labels: workspaceLabels(ws, "workspace") },
    spec: {
      type: "ClusterIP",
      selector: workspaceSelector(ws),
      ports: [{ name: "http", port: s.containerPort, targetPort: s.containerPort, protocol: "TCP" }],
    },
  };
}

export function upstreamHost(s: WorkspaceRuntimeSettings, ws: string): string {
  return `${workloadName(s.naming, ws)}.${s.namespace}.svc.${s.clusterDomain}`;
}

function scheduling(s: WorkspaceRuntimeSettings) {
  return {
    ...(Object.keys(s.nodeSelector).length > 0 ? { nodeSelector: s.nodeSelector } : {}),
    ...(s.tolerations.length > 0 ? { tolerations: s.tolerations } : {}),
  };
}

export interface JobRequest {
  type: JobType;
  ws: string;
  op: string;
  /** archive: the key it writes; restore: the key it reads. */
  archiveKey: string;
}

export function archiveJobRequest(s: WorkspaceRuntimeSettings, ws: string, op: string): JobRequest {
  return { type: "archive", ws, op, archiveKey: archiveKey(s.naming, ws, op) };
}

/**
 * A storage Job with the contract's environment (§5). The store's keys come
 * from a Secret, never from the Job's spec, so reading Jobs does not reveal
 * them. A deadline bounds it, the TTL removes it after it finished, and its
 * labels carry workspace, type and op so a restarted agent finds it again.
 */
export function storageJob(s: WorkspaceRuntimeSettings, request: JobRequest): V1Job {
  const { type, ws, op } = request;
  const labels = {
    ...workspaceLabels(ws, "job"),
    [LABELS.jobType]: type,
    ...(type === "archive" ? { [LABELS.archiveOpId]: op } : { [LABELS.restoreOpId]: op }),
  };
  const secretEnv = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: s.credentialsSecret, key } } });
  const env = [
    { name: "ARCHIVE_URL", value: `s3://${s.s3.bucket}/${request.archiveKey}` },
    { name: "AWS_ENDPOINT_URL", value: s.s3.internalEndpoint },
    { name: "AWS_REGION", value: s.s3.region },
    { name: "AWS_DEFAULT_REGION", value: s.s3.region },
    secretEnv("AWS_ACCESS_KEY_ID", CREDENTIAL_KEYS.accessKey),
    secretEnv("AWS_SECRET_ACCESS_KEY", CREDENTIAL_KEYS.secretKey),
    { name: "WORKSPACE_ID", value: ws },
    { name: "S3_PREFIX", value: s.naming.prefix },
    { name: "S3_BUCKET", value: s.s3.bucket },
    ...(type === "archive"
      ? [{ name: "ARCHIVE_OP_ID", value: op }]
      : [
          { name: "RESTORE_OP_ID", value: op },
          { name: "RESTORE_ARCHIVE_KEY", value: request.archiveKey },
        ]),
  ];
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: jobName(s.naming, type, ws, op), namespace: s.namespace, labels },
    spec: {
      backoffLimit: s.jobBackoffLimit,
      activeDeadlineSeconds: s.jobTimeoutSeconds,
      ttlSecondsAfterFinished: s.jobTtlSeconds,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity(s),
          ...scheduling(s),
          containers: [
            {
              name: type,
              image: s.storageJobImage,
              command: ["/bin/sh", "-c", `/usr/local/bin/${type}`],
              env,
              securityContext: CONTAINER_SECURITY,
              volumeMounts: [{ name: HOME_VOLUME, mountPath: "/data", readOnly: type === "archive" }],
            },
          ],
          volumes: [{ name: HOME_VOLUME, persistentVolumeClaim: { claimName: volumeName(s.naming, ws), readOnly: type === "archive" } }],
        },
      },
    },
  };
}
