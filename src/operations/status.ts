// status, list and logs: read-only views of sandboxes.
import { logTail, inspect } from "../adapters/kubernetes/readiness.js";
import type { SandboxRecord } from "../domain/metadata.js";
import type { Engine } from "./engine.js";
import { ownRecord, ownSandboxes } from "./namespace.js";

export interface StatusOutcome {
  result: "status";
  key: string;
  exists: boolean;
  record?: SandboxRecord;
  ready?: boolean;
  pending?: string[];
}

export async function status(engine: Engine, key: string): Promise<StatusOutcome> {
  const namespace = engine.settings.prefix + key;
  const record = await ownRecord(engine, namespace, key);
  if (!record) return { result: "status", key, exists: false };
  const report = await inspect(engine.kube, namespace);
  return { result: "status", key, exists: true, record, ready: report.pending.length === 0, pending: report.pending };
}

export async function list(engine: Engine): Promise<SandboxRecord[]> {
  return (await ownSandboxes(engine)).sort((a, b) => a.key.localeCompare(b.key));
}

export async function logs(
  engine: Engine,
  key: string,
  options: { tail?: number; component?: string } = {},
): Promise<{ pod: string; container: string; text: string }[]> {
  const namespace = engine.settings.prefix + key;
  const pods = await engine.kube.core.listNamespacedPod({ namespace });
  const out: { pod: string; container: string; text: string }[] = [];
  for (const pod of pods.items) {
    const name = pod.metadata?.name ?? "";
    const component = pod.metadata?.labels?.["app.kubernetes.io/component"];
    if (options.component && component !== options.component) continue;
    for (const container of pod.spec?.containers ?? []) {
      const text = await logTail(engine.kube, namespace, name, container.name, false, options.tail ?? 100);
      out.push({ pod: name, container: container.name, text: text ?? "" });
    }
  }
  return out;
}
