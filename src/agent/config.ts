// The agent's settings from the contract's AGENT_* names (notes/agent-api.md
// §7) plus AGENT_KUBERNETES_* for what Kubernetes needs. A bad value is named
// with what to write instead; nothing here touches the network.
import { isIP } from "node:net";
import type { V1Toleration } from "@kubernetes/client-node";
import { parseDockerHost } from "../adapters/docker/engine.js";
import type { S3Settings } from "../adapters/s3/store.js";
import { DEFAULT_ARCHIVE_SUFFIX, DEFAULT_RESOURCE_PREFIX, validateNaming } from "../domain/workspace/names.js";
import type { AgentSettings } from "../operations/workspace/operations.js";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

export interface AgentConfig {
  host: string;
  port: number;
  /** Empty only with `insecure`. */
  apiKey: string;
  insecure: boolean;
  s3: S3Settings;
  agent: AgentSettings;
  kubeContext?: string;
  logLevel: string;
  /** How observe reads Kubernetes: "list" per request, or "informer" (watch once, read memory). */
  observeCache: "list" | "informer";
  /** Where workspaces run (AGENT_RUNTIME_BACKEND): Kubernetes, or a Docker Engine API (Docker, Podman). */
  backend: "kubernetes" | "docker";
  docker: {
    host: string;
    network: string;
    publishHost: string;
    imagePullTimeoutSeconds: number;
    volumeOwnership: "auto" | "driver" | "helper";
  };
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env, overrides: { port?: number; host?: string; insecure?: boolean } = {}): AgentConfig {
  const get = (name: string, fallback: string) => {
    const value = env[name];
    return value === undefined || value === "" ? fallback : value;
  };
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = get(name, String(fallback));
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
    return value;
  };
  const json = <T>(name: string, fallback: T, check: (v: unknown) => boolean, shape: string): T => {
    const raw = env[name];
    if (!raw) return fallback;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ConfigError(`${name}: not JSON; expected ${shape}`);
    }
    if (!check(value)) throw new ConfigError(`${name}: expected ${shape}`);
    return value as T;
  };

  const apiKey = env.AGENT_SERVER_API_KEY ?? "";
  const insecure = overrides.insecure === true || env.AGENT_SERVER_INSECURE === "1" || env.AGENT_SERVER_INSECURE === "true";
  if (!apiKey && !insecure) {
    throw new ConfigError(
      "AGENT_SERVER_API_KEY is empty: set it to the key the control plane sends (AGENT_API_KEY there), or pass --insecure-no-auth to serve without authentication on a trusted network",
    );
  }
  const endpoint = get("AGENT_S3_ENDPOINT", "http://minio:9000");
  const s3: S3Settings = {
    endpoint,
    bucket: get("AGENT_S3_BUCKET", "codehub-archives"),
    region: get("AGENT_S3_REGION", "us-east-1"),
    accessKey: env.AGENT_S3_ACCESS_KEY ?? "",
    secretKey: env.AGENT_S3_SECRET_KEY ?? "",
  };
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(s3.bucket))
    throw new ConfigError(`AGENT_S3_BUCKET=${JSON.stringify(s3.bucket)} is not a bucket name`);
  const naming = (() => {
    try {
      return validateNaming({
        prefix: get("AGENT_RUNTIME_RESOURCE_PREFIX", DEFAULT_RESOURCE_PREFIX),
        archiveSuffix: get("AGENT_RUNTIME_ARCHIVE_SUFFIX", DEFAULT_ARCHIVE_SUFFIX),
      });
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  })();
  const namespace = get("AGENT_KUBERNETES_NAMESPACE", "codehub-workspaces");
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(namespace))
    throw new ConfigError(`AGENT_KUBERNETES_NAMESPACE=${JSON.stringify(namespace)} is not a namespace name`);
  const agent: AgentSettings = {
    namespace,
    naming,
    uid: int("AGENT_DOCKER_CODER_UID", 1000, 1, 2_147_483_647),
    gid: int("AGENT_DOCKER_CODER_GID", 1000, 1, 2_147_483_647),
    containerPort: int("AGENT_DOCKER_CONTAINER_PORT", 8080, 1, 65_535),
    homePath: "/home/coder",
    storageClass: get("AGENT_KUBERNETES_STORAGE_CLASS", ""),
    volumeSize: get("AGENT_KUBERNETES_VOLUME_SIZE", "10Gi"),
    nodeSelector: json<Record<string, string>>(
      "AGENT_KUBERNETES_NODE_SELECTOR",
      {},
      (v) => !!v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string"),
      'an object of strings, e.g. {"kubernetes.io/os":"linux"}',
    ),
    tolerations: json<V1Toleration[]>(
      "AGENT_KUBERNETES_TOLERATIONS",
      [],
      (v) => Array.isArray(v) && v.every((t) => !!t && typeof t === "object"),
      "an array of tolerations",
    ),
    clusterDomain: get("AGENT_KUBERNETES_CLUSTER_DOMAIN", "cluster.local"),
    storageJobImage: get("AGENT_RUNTIME_STORAGE_JOB_IMAGE", "codehub/storage-job:latest"),
    defaultImage: get("AGENT_RUNTIME_DEFAULT_IMAGE", "cagojeiger/code-server:latest"),
    jobTimeoutSeconds: int("AGENT_DOCKER_JOB_TIMEOUT", 600, 10, 86_400),
    jobTtlSeconds: int("AGENT_KUBERNETES_JOB_TTL_SECONDS", 3600, 0, 604_800),
    jobBackoffLimit: int("AGENT_KUBERNETES_JOB_BACKOFF_LIMIT", 1, 0, 10),
    s3: { bucket: s3.bucket, internalEndpoint: get("AGENT_S3_INTERNAL_ENDPOINT", endpoint), region: s3.region },
    credentialsSecret: `${naming.prefix}storage-credentials`,
    s3Keys: { accessKey: s3.accessKey, secretKey: s3.secretKey },
  };
  if (!/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(agent.volumeSize)) {
    throw new ConfigError(`AGENT_KUBERNETES_VOLUME_SIZE=${JSON.stringify(agent.volumeSize)}: expected a quantity such as 10Gi`);
  }
  return {
    host: overrides.host ?? get("AGENT_SERVER_HOST", "0.0.0.0"),
    port: overrides.port ?? int("AGENT_SERVER_PORT", 8081, 0, 65_535),
    apiKey,
    insecure,
    s3,
    agent,
    kubeContext: env.AGENT_KUBERNETES_CONTEXT || undefined,
    observeCache: (() => {
      const value = get("AGENT_KUBERNETES_OBSERVE_CACHE", "list");
      if (value !== "list" && value !== "informer")
        throw new ConfigError(`AGENT_KUBERNETES_OBSERVE_CACHE=${JSON.stringify(value)}: expected informer or list`);
      return value;
    })(),
    logLevel: pinoLevel(get("AGENT_LOGGING_LEVEL", "INFO")),
    backend: (() => {
      const value = get("AGENT_RUNTIME_BACKEND", "kubernetes");
      if (value !== "kubernetes" && value !== "docker")
        throw new ConfigError(`AGENT_RUNTIME_BACKEND=${JSON.stringify(value)}: expected kubernetes or docker`);
      return value;
    })(),
    docker: {
      host: (() => {
        const value = get("AGENT_DOCKER_HOST", "unix:///var/run/docker.sock");
        try {
          parseDockerHost(value);
        } catch (error) {
          throw new ConfigError((error as Error).message);
        }
        return value;
      })(),
      network: (() => {
        const value = get("AGENT_DOCKER_NETWORK", "codehub-net");
        if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(value))
          throw new ConfigError(`AGENT_DOCKER_NETWORK=${JSON.stringify(value)} is not a network name`);
        return value;
      })(),
      publishHost: (() => {
        const value = get("AGENT_DOCKER_PUBLISH_HOST", "127.0.0.1");
        if (!isIP(value))
          throw new ConfigError(`AGENT_DOCKER_PUBLISH_HOST=${JSON.stringify(value)}: expected an IP address of this host, e.g. 127.0.0.1`);
        return value;
      })(),
      imagePullTimeoutSeconds: int("AGENT_DOCKER_IMAGE_PULL_TIMEOUT", 600, 10, 86_400),
      volumeOwnership: (() => {
        const value = get("AGENT_DOCKER_VOLUME_OWNERSHIP", "auto");
        if (value !== "auto" && value !== "driver" && value !== "helper")
          throw new ConfigError(`AGENT_DOCKER_VOLUME_OWNERSHIP=${JSON.stringify(value)}: expected auto, driver or helper`);
        return value;
      })(),
    },
  };
}

/** Python's level names (the contract's AGENT_LOGGING_LEVEL) as pino's. */
function pinoLevel(level: string): string {
  const lower = level.toLowerCase();
  const mapped = ({ warning: "warn", critical: "fatal", notset: "trace" } as Record<string, string>)[lower] ?? lower;
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(mapped)) {
    throw new ConfigError(`AGENT_LOGGING_LEVEL=${JSON.stringify(level)}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL`);
  }
  return mapped;
}
