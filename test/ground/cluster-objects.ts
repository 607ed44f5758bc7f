// The objects and config files that turn a bare control plane into a cluster
// that runs workloads: a fake node kwok keeps Ready, the stages that move pods
// through their lives, and a default StorageClass.
import { stringify } from "yaml";
import { PROVISIONER } from "./local-path-provisioner.js";

export const NODE_NAME = "ground-node-0";
export const STORAGE_CLASS = "standard";

export function nodeManifest(): object {
  const resources = { cpu: "64", memory: "256Gi", pods: "500", "ephemeral-storage": "1Ti" };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: NODE_NAME,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": NODE_NAME,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        type: "kwok",
      },
    },
    // kwok's own template uses 192.0.2.1; the API server reaches the node's
    // kubelet API (logs, exec) on this address, and only loopback is ours.
    status: {
      addresses: [
        { type: "InternalIP", address: "127.0.0.1" },
        { type: "Hostname", address: NODE_NAME },
      ],
      allocatable: resources,
      capacity: resources,
    },
  };
}

/**
 * The default StorageClass, served by the ground's local-path provisioner
 * (local-path-provisioner.ts), as K3s's default class is: every claim gets
 * its own world-writable host directory, removed with the volume.
 */
export function storageManifests(): object[] {
  return [
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: {
        name: STORAGE_CLASS,
        annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
      },
      provisioner: PROVISIONER,
      reclaimPolicy: "Delete",
      volumeBindingMode: "Immediate",
      allowVolumeExpansion: false,
    },
  ];
}

/**
 * kwok stages. Pods become Ready at once; Job pods complete with exit 0; a
 * pod labelled `ground.k8s-dev-sandbox/behaviour: crashloop` never becomes
 * Ready, so tests can drive a deploy into failure on purpose.
 */
export function kwokConfig(podLogFile: string): string {
  const docs: object[] = [
    {
      apiVersion: "config.kwok.x-k8s.io/v1alpha1",
      kind: "KwokConfiguration",
      options: { nodeLeaseDurationSeconds: 40 },
    },
    stage("node-initialize", "Node", [notReadyNode], nodeStatusTemplate(true)),
    {
      ...stage("node-heartbeat-with-lease", "Node", [runningNode, readyNode], nodeStatusTemplate(false)),
    },
    stage("pod-crashloop", "Pod", [notDeleting, noPodIp, crashLabel], crashStatusTemplate),
    stage("pod-ready", "Pod", [notDeleting, noPodIp, noCrashLabel], podReadyTemplate),
    stage("pod-complete", "Pod", [notDeleting, runningPod, ownedByJob], podCompleteTemplate),
    {
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "Stage",
      metadata: { name: "pod-delete" },
      spec: {
        resourceRef: { apiGroup: "v1", kind: "Pod" },
        selector: { matchExpressions: [{ key: ".metadata.deletionTimestamp", operator: "Exists" }] },
        next: { finalizers: { empty: true }, delete: true },
      },
    },
    {
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "ClusterLogs",
      metadata: { name: "all-pods" },
      spec: { logs: [{ logsFile: podLogFile, follow: false }] },
    },
  ];
  // The heartbeat only needs to run now and then; leases keep the node alive.
  const heartbeat = docs[2] as { spec: Record<string, unknown> };
  heartbeat.spec.delay = { durationMilliseconds: 20_000, jitterDurationMilliseconds: 25_000 };
  return docs.map((doc) => stringify(doc)).join("---\n");
}

interface Expression {
  key: string;
  operator: string;
  values?: string[];
}

function stage(name: string, kind: string, matchExpressions: Expression[], statusTemplate: string): object {
  return {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "Stage",
    metadata: { name },
    spec: {
      resourceRef: { apiGroup: "v1", kind },
      selector: { matchExpressions },
      next: { statusTemplate },
    },
  };
}

const READY_CONDITION = '.status.conditions.[] | select( .type == "Ready" ) | .status';
const notReadyNode = { key: READY_CONDITION, operator: "NotIn", values: ["True"] };
const readyNode = { key: READY_CONDITION, operator: "In", values: ["True"] };
const runningNode = { key: ".status.phase", operator: "In", values: ["Running"] };
const notDeleting = { key: ".metadata.deletionTimestamp", operator: "DoesNotExist" };
const noPodIp = { key: ".status.podIP", operator: "DoesNotExist" };
const runningPod = { key: ".status.phase", operator: "In", values: ["Running"] };
const ownedByJob = { key: ".metadata.ownerReferences.[].kind", operator: "In", values: ["Job"] };
const CRASH_LABEL = '.metadata.labels["ground.k8s-dev-sandbox/behaviour"]';
const crashLabel = { key: CRASH_LABEL, operator: "In", values: ["crashloop"] };
const noCrashLabel = { key: CRASH_LABEL, operator: "NotIn", values: ["crashloop"] };

function nodeStatusTemplate(full: boolean): string {
  const conditions = `
{{ $now := Now }}
{{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $lastTransitionTime | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
addresses:
{{ with .status.addresses }}
{{ YAML . 0 }}
{{ end }}
{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
`;
  if (!full) return conditions;
  return `${conditions}
allocatable:
{{ with .status.allocatable }}
{{ YAML . 1 }}
{{ end }}
capacity:
{{ with .status.capacity }}
{{ YAML . 1 }}
{{ end }}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: {{ printf "kwok-%s" Version }}
  kubeProxyVersion: {{ printf "kwok-%s" Version }}
  containerRuntimeVersion: {{ printf "kwok-%s" Version }}
  kernelVersion: {{ printf "kwok-%s" Version }}
  osImage: "k8s-dev-sandbox test ground"
  machineID: ""
  bootID: ""
  systemUUID: ""
phase: Running
`;
}

const podReadyTemplate = `
{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: ContainersReady
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: PodScheduled
{{ range .spec.readinessGates }}
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: {{ .conditionType | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
{{ end }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
phase: Running
startTime: {{ $now | Quote }}
`;

const crashStatusTemplate = `
{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  type: Ready
  reason: ContainersNotReady
  message: "containers with unready status"
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  type: ContainersReady
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: PodScheduled
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  started: false
  restartCount: 5
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      finishedAt: {{ $now | Quote }}
      startedAt: {{ $now | Quote }}
  state:
    waiting:
      reason: CrashLoopBackOff
      message: "back-off 5m0s restarting failed container"
{{ end }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
phase: Running
startTime: {{ $now | Quote }}
`;

const podCompleteTemplate = `
{{ $now := Now }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
{{ end }}
phase: Succeeded
`;
