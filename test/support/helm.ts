// Test support for the sandbox chart: render it with helm (argument arrays,
// never a shell), parse what comes out, and read Kubernetes quantities so
// tests can add up resources the way the ResourceQuota admission does.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { parseAllDocuments } from "yaml";
import { binaryPaths, readVersions } from "../ground/paths.js";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const chartDir = join(repoRoot, "charts", "odoo-dev-sandbox");

/** Helm 4, from $HELM or the test ground's binary cache. */
export function helmBinary(): string {
  return process.env.HELM ?? binaryPaths().helm;
}

/**
 * Helm 3, from $HELM3 or the cache. The chart and the engine support both
 * majors, so a missing Helm 3 fails the tests that need it: skipping them
 * would turn "works with Helm 3" into an untested claim without a sound.
 */
export function helm3Binary(): string {
  const path = process.env.HELM3 ?? binaryPaths().helm3;
  if (!existsSync(path)) {
    throw new Error(`Helm 3 is not at ${path}: run test/ground/build-binaries.sh, or point HELM3 at a helm v3 binary`);
  }
  return path;
}

/** The helm binaries to test the chart with: 4 and 3 (a missing one fails its tests, see helm3Binary). */
export function helmBinaries(): { name: string; path: string }[] {
  const helm3 = process.env.HELM3 ?? binaryPaths().helm3;
  return [
    { name: "helm4", path: helmBinary() },
    { name: "helm3", path: helm3 },
  ];
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are free-form; tests narrow what they read.
  [field: string]: any;
}

export interface RenderOptions {
  /** Values files, relative to the chart directory or absolute. */
  valuesFiles?: string[];
  /** --set key=value pairs. */
  set?: Record<string, string | number | boolean>;
  release?: string;
  namespace?: string;
  helm?: string;
  /** Kubernetes version to render for; default the test ground's. */
  kubeVersion?: string;
  /** The chart directory; default charts/odoo-dev-sandbox. */
  chart?: string;
}

function renderArgs(options: RenderOptions): string[] {
  // An explicit --kube-version: a Helm 3 built without its version ldflags
  // would otherwise assume v1.20 and refuse the chart's kubeVersion.
  const kubeVersion = options.kubeVersion ?? readVersions().kubernetes;
  const chart = options.chart ?? chartDir;
  const args = [
    "template",
    options.release ?? "sbx",
    chart,
    "--namespace",
    options.namespace ?? "sandbox-test",
    "--kube-version",
    kubeVersion,
  ];
  for (const file of options.valuesFiles ?? []) args.push("--values", file.startsWith("/") ? file : join(chart, file));
  for (const [key, value] of Object.entries(options.set ?? {})) args.push("--set", `${key}=${value}`);
  return args;
}

export interface HelmRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runHelm(args: string[], helm = helmBinary()): Promise<HelmRun> {
  if (helm.includes("/") && !existsSync(helm))
    throw new Error(`${helm} does not exist: run test/ground/build-binaries.sh, or set HELM / HELM3`);
  const result = await execa(helm, args, { reject: false });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** `helm template` without judging the outcome (for rejection tests). */
export function helmTemplateRun(options: RenderOptions = {}): Promise<HelmRun> {
  return runHelm(renderArgs(options), options.helm);
}

/** `helm template`, parsed; throws with helm's stderr when it fails. */
export async function helmTemplate(options: RenderOptions = {}): Promise<K8sObject[]> {
  const run = await helmTemplateRun(options);
  if (run.exitCode !== 0) throw new Error(`helm template failed (${run.exitCode}): ${run.stderr}`);
  return parseManifests(run.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`unparsable manifest: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

export interface PodTemplate {
  /** "Deployment/sbx-odoo-dev-sandbox-odoo" */
  owner: string;
  // biome-ignore lint/suspicious/noExplicitAny: a PodSpec
  spec: any;
  labels: Record<string, string>;
  replicas: number;
}

/** Every pod template of the rendered workloads (Deployments, StatefulSets, Jobs, Pods). */
export function podTemplates(objects: K8sObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    const owner = `${o.kind}/${o.metadata.name}`;
    if (o.kind === "Deployment" || o.kind === "StatefulSet" || o.kind === "Job") {
      out.push({ owner, spec: o.spec.template.spec, labels: o.spec.template.metadata?.labels ?? {}, replicas: o.spec.replicas ?? 1 });
    } else if (o.kind === "Pod") {
      out.push({ owner, spec: o.spec, labels: o.metadata.labels ?? {}, replicas: 1 });
    }
  }
  return out;
}

/** CPU in millicores. */
export function parseCpu(value: string | number): number {
  const text = String(value);
  if (text.endsWith("m")) return Number(text.slice(0, -1));
  return Math.round(Number(text) * 1000);
}

const BYTE_UNITS: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** Memory or storage in bytes. */
export function parseBytes(value: string | number): number {
  const match = /^([0-9.]+)([A-Za-z]*)$/.exec(String(value));
  const factor = match ? BYTE_UNITS[match[2] ?? ""] : undefined;
  if (!match || factor === undefined) throw new Error(`not a byte quantity: ${value}`);
  return Number(match[1]) * factor;
}

export type Footprint = Record<"requests.cpu" | "requests.memory" | "limits.cpu" | "limits.memory", number>;

/**
 * What a pod counts against a ResourceQuota: per resource, the larger of the
 * biggest init container and the sum of the app containers (Kubernetes'
 * "effective request"). Throws when a container lacks a value, since the
 * quota admission would refuse such a pod.
 */
export function podFootprint(spec: { containers: unknown[]; initContainers?: unknown[] }): Footprint {
  const read = (c: unknown, kind: "requests" | "limits", res: "cpu" | "memory"): number => {
    const container = c as { name: string; resources?: Record<string, Record<string, string | number>> };
    const value = container.resources?.[kind]?.[res];
    if (value === undefined) throw new Error(`container ${container.name} has no ${kind}.${res}`);
    return res === "cpu" ? parseCpu(value) : parseBytes(value);
  };
  const out = {} as Footprint;
  for (const kind of ["requests", "limits"] as const) {
    for (const res of ["cpu", "memory"] as const) {
      const sum = spec.containers.reduce<number>((total, c) => total + read(c, kind, res), 0);
      const init = Math.max(0, ...(spec.initContainers ?? []).map((c) => read(c, kind, res)));
      out[`${kind}.${res}`] = Math.max(sum, init);
    }
  }
  return out;
}

// The Pod Security Standards "restricted" profile (which includes "baseline"),
// checked on a PodSpec before it reaches an API server, so a manifest the
// namespace's admission would refuse fails a unit test with the rule's name.

const RESTRICTED_VOLUME_TYPES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);

interface Container {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: a SecurityContext
  securityContext?: any;
  ports?: { hostPort?: number }[];
}

/** Violations of the restricted profile, as "<container or pod>: <rule>" lines; empty when it passes. */
// biome-ignore lint/suspicious/noExplicitAny: a PodSpec
export function restrictedViolations(spec: any): string[] {
  const out: string[] = [];
  const pod = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) out.push("pod: host namespaces");
  for (const volume of spec.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== "name");
    if (!type || !RESTRICTED_VOLUME_TYPES.has(type)) out.push(`pod: volume ${volume.name} of type ${type}`);
  }
  if (pod.runAsUser === 0) out.push("pod: runAsUser 0");
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as Container[]) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (sc.privileged) out.push(`${where}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation must be false`);
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot must be true`);
    if (sc.runAsUser === 0) out.push(`${where}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`${where}: seccompProfile must be RuntimeDefault or Localhost`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) out.push(`${where}: capabilities must drop ALL`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== "NET_BIND_SERVICE") out.push(`${where}: adds capability ${cap}`);
    if ((c.ports ?? []).some((p) => p.hostPort)) out.push(`${where}: hostPort`);
  }
  return out;
}

/** An RBAC rule as rendered. */
export type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

/** Rules as "group/resource verb [names]" lines, sorted: one line per right, to compare whole. */
export function grants(rules: Rule[]): string[] {
  return rules
    .flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.flatMap((res) =>
          r.verbs.map((v) => `${g || "core"}/${res} ${v}${r.resourceNames ? ` [${r.resourceNames.join(",")}]` : ""}`),
        ),
      ),
    )
    .sort();
}
