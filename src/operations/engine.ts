// What every operation receives: the adapters, already built by a front door,
// and the settings it parsed. Operations never read env vars or inputs.
import type { Runner } from "../adapters/exec.js";
import type { Helm } from "../adapters/helm.js";
import type { ImageBuilder } from "../adapters/image/builders.js";
import type { RegistryCredentials } from "../adapters/image/registry.js";
import type { KubeConnection, Namespaces } from "../adapters/kubernetes/client.js";
import type { Logger } from "../adapters/logger.js";
import type { PodSecurityLevel } from "../domain/metadata.js";

export interface EngineSettings {
  /** owner/name of the repository the sandboxes belong to, when known. */
  repository?: string;
  prefix: string;
  baseDomain: string;
  scheme: "https" | "http";
  ttlMs: number;
  maxTtlMs: number;
  waitTimeoutMs: number;
  /** A pod stuck in a crash loop or image-pull failure this long fails the wait early (default 60 s). */
  failFastAfterMs?: number;
  mode: "ci" | "local";
  chart: string;
  valuesFiles: string[];
  sets: string[];
  /** Image repository without tag (registry/name); no build when absent. */
  imageRepository?: string;
  registryCredentials?: RegistryCredentials;
  dockerfile: string;
  context: string;
  buildArgs: Record<string, string>;
  podSecurity: PodSecurityLevel;
  /** The most sandboxes this repository may have under this prefix; a new one beyond it is refused. 0 or unset: no cap. */
  maxSandboxes?: number;
  /** Extra values for local mode (the worktree to mount). */
  localAddonsPath?: string;
  /**
   * The ClusterRole the engine binds to its own identity in each sandbox
   * namespace (charts/sandbox-access); unset = no binding (an identity that
   * already has the rights, e.g. a cluster admin).
   */
  sandboxRole?: string;
  /** Local mode: "namespace/name" of the ConfigMap in which the cluster's admin allows host paths. */
  localVolumesConfig?: string;
  dryRun: boolean;
}

export interface Engine {
  kube: KubeConnection;
  namespaces: Namespaces;
  helm: Helm;
  /** Chosen lazily: a deploy whose image already exists never needs one. */
  builder: () => Promise<ImageBuilder>;
  run: Runner;
  logger: Logger;
  now: () => Date;
  settings: EngineSettings;
  /** Who holds the sandbox's lock while an operation runs (for messages). */
  holder: string;
  /** How long a silent lock holder (a killed run) blocks the next one. */
  lockLeaseSeconds: number;
}

export type Result =
  | "deployed"
  | "unchanged"
  | "destroyed"
  | "extended"
  | "swept"
  | "skipped"
  | "refused"
  | "failed"
  | "status"
  | "built"
  | "approved"
  | "tested";
