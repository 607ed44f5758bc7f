// The ground's dynamic volume provisioner, doing what K3s's local-path
// provisioner does: a claim of the default StorageClass gets a hostPath
// volume in a fresh directory that any uid may write (PostgreSQL runs as 999,
// Odoo as 100; hostPath volumes ignore fsGroup), and a released volume's
// directory is removed with it. Run by the ground as a daemon:
//   node --import tsx test/ground/local-path-provisioner.ts <kubeconfig> <root>
// It polls once a second: simple, and fast enough for tests (a watch would
// save a second per claim at the cost of reconnect handling).
import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, KubeConfig, type V1PersistentVolume, type V1PersistentVolumeClaim } from "@kubernetes/client-node";

export const PROVISIONER = "ground.k8s-dev-sandbox/local-path";
const PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";

/** The volume for a pending claim of our class, or undefined when the claim is not ours to serve. */
export function volumeFor(claim: V1PersistentVolumeClaim, storageClass: string, root: string): V1PersistentVolume | undefined {
  const { metadata, spec, status } = claim;
  if (!metadata?.uid || !metadata.name || !metadata.namespace || !spec) return undefined;
  if (status?.phase !== "Pending" || spec.volumeName) return undefined;
  if ((spec.storageClassName ?? storageClass) !== storageClass) return undefined;
  // Only claims the PV controller handed to us (it sets this once the class names our provisioner).
  const wanted = metadata.annotations?.["volume.kubernetes.io/storage-provisioner"];
  if (wanted !== PROVISIONER) return undefined;
  if (spec.selector || spec.dataSource) return undefined;
  const name = `pvc-${metadata.uid}`;
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name, annotations: { [PROVISIONED_BY]: PROVISIONER }, labels: { "ground.k8s-dev-sandbox/local-path": "true" } },
    spec: {
      capacity: { storage: spec.resources?.requests?.storage ?? "1Gi" },
      accessModes: spec.accessModes ?? ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Delete",
      storageClassName: storageClass,
      volumeMode: spec.volumeMode ?? "Filesystem",
      hostPath: { path: join(root, `${metadata.namespace}_${metadata.name}_${name}`), type: "Directory" },
      claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: metadata.namespace, name: metadata.name, uid: metadata.uid },
    },
  };
}

/** Whether a volume is ours and done with: released (or failed) with reclaim Delete. */
export function isReclaimable(volume: V1PersistentVolume, root: string): boolean {
  if (volume.metadata?.annotations?.[PROVISIONED_BY] !== PROVISIONER) return false;
  if (volume.spec?.persistentVolumeReclaimPolicy !== "Delete") return false;
  const path = volume.spec?.hostPath?.path;
  // Never outside our root, whatever a (hostile) object says.
  if (!path || !resolve(path).startsWith(`${resolve(root)}/`)) return false;
  return volume.status?.phase === "Released" || volume.status?.phase === "Failed";
}

async function reconcile(core: CoreV1Api, storageClass: string, root: string): Promise<void> {
  const claims = await core.listPersistentVolumeClaimForAllNamespaces();
  for (const claim of claims.items) {
    const volume = volumeFor(claim, storageClass, root);
    if (!volume?.spec?.hostPath) continue;
    const dir = volume.spec.hostPath.path;
    mkdirSync(dir, { recursive: true });
    // 0777 like K3s's local-path: the pod's uid owns nothing here, hostPath ignores fsGroup.
    chmodSync(dir, 0o777);
    try {
      await core.createPersistentVolume({ body: volume });
      log(`provisioned ${volume.metadata?.name} for ${claim.metadata?.namespace}/${claim.metadata?.name}`);
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
  const volumes = await core.listPersistentVolume();
  for (const volume of volumes.items) {
    if (!isReclaimable(volume, root)) continue;
    const path = volume.spec?.hostPath?.path as string;
    if (existsSync(path)) rmSync(path, { recursive: true, force: true });
    try {
      await core.deletePersistentVolume({ name: volume.metadata?.name as string });
      log(`deleted ${volume.metadata?.name} and ${path}`);
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
    }
  }
}

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

async function main(kubeconfig: string, root: string, storageClass: string): Promise<void> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const core = config.makeApiClient(CoreV1Api);
  mkdirSync(root, { recursive: true });
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => (stopping = true));
  log(`serving class ${storageClass} under ${root}`);
  while (!stopping) {
    try {
      await reconcile(core, storageClass, root);
    } catch (error) {
      log(`reconcile failed (retrying): ${error instanceof Error ? error.message : String(error)}`);
    }
    await sleep(1_000);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const [kubeconfig, root, storageClass = "standard"] = process.argv.slice(2);
  if (!kubeconfig || !root) {
    process.stderr.write("usage: local-path-provisioner.ts <kubeconfig> <root> [storage-class]\n");
    process.exit(2);
  }
  main(kubeconfig, root, storageClass).then(() => process.exit(0));
}
