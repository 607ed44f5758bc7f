// Where the test ground keeps its binaries and its running state, and which
// versions it runs. Everything lives outside the repository so a clean clone
// stays clean and a warm machine reuses what it built.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const groundSourceDir = dirname(fileURLToPath(import.meta.url));

export interface Versions {
  kubernetes: string;
  etcd: string;
  kwok: string;
  helm: string;
  helm3: string;
  coredns: string;
  kubeRouter: string;
  traefik: string;
  seaweedfs: string;
}

/** Reads versions.env, the one place the pinned versions are written. */
export function readVersions(): Versions {
  const text = readFileSync(join(groundSourceDir, "versions.env"), "utf8");
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(\S+)/.exec(line.trim());
    if (match?.[1] && match[2]) values.set(match[1], match[2]);
  }
  const get = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`test/ground/versions.env has no ${key}`);
    return value;
  };
  return {
    kubernetes: get("KUBERNETES_VERSION"),
    etcd: get("ETCD_VERSION"),
    kwok: get("KWOK_VERSION"),
    helm: get("HELM_VERSION"),
    helm3: get("HELM3_VERSION"),
    coredns: get("COREDNS_VERSION"),
    kubeRouter: get("KUBE_ROUTER_VERSION"),
    traefik: get("TRAEFIK_VERSION"),
    seaweedfs: get("SEAWEEDFS_VERSION"),
  };
}

export function cacheDir(): string {
  return process.env.GROUND_CACHE ?? join(homedir(), ".cache", "k8s-dev-sandbox");
}

/** One ground per state directory; two directories never share ports or pids. */
export function stateDir(): string {
  return process.env.GROUND_DIR ?? join(cacheDir(), "ground");
}

export interface BinaryPaths {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  helm: string;
  helm3: string;
  kubelet: string;
  kubeProxy: string;
  kubeRouter: string;
  coredns: string;
  traefik: string;
  weed: string;
}

export function binaryPaths(v: Versions = readVersions()): BinaryPaths {
  const bin = join(cacheDir(), "bin");
  const k8s = join(bin, `kubernetes-${v.kubernetes}`);
  return {
    etcd: join(bin, `etcd-${v.etcd}`, "etcd"),
    kubeApiserver: join(k8s, "kube-apiserver"),
    kubeControllerManager: join(k8s, "kube-controller-manager"),
    kubeScheduler: join(k8s, "kube-scheduler"),
    kubectl: join(k8s, "kubectl"),
    kwok: join(bin, `kwok-${v.kwok}`, "kwok"),
    helm: join(bin, `helm-${v.helm}`, "helm"),
    helm3: join(bin, `helm-${v.helm3}`, "helm"),
    kubelet: join(k8s, "kubelet"),
    kubeProxy: join(k8s, "kube-proxy"),
    kubeRouter: join(bin, `kube-router-${v.kubeRouter}`, "kube-router"),
    coredns: join(bin, `coredns-${v.coredns}`, "coredns"),
    traefik: join(bin, `traefik-${v.traefik}`, "traefik"),
    weed: join(bin, `seaweedfs-${v.seaweedfs}`, "weed"),
  };
}
