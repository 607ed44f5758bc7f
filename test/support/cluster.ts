// Small helpers for tests that run against the real test ground (or the
// external cluster named by KUBECONFIG). Tools come from the ground's env.
import { randomBytes } from "node:crypto";
import { execa } from "execa";

export function tool(name: "KUBECTL" | "HELM" | "HELM3" | "BUILDAH"): string {
  const fallback = { KUBECTL: "kubectl", HELM: "helm", HELM3: "helm", BUILDAH: "buildah" }[name];
  return process.env[name] ?? fallback;
}

/** A variable the ground's env provides (the integration project's global setup exports them). */
export function groundEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through the integration project (its global setup exports the ground's env)`);
  return value;
}

export async function kubectl(args: string[], options: { input?: string; reject?: boolean } = {}) {
  return execa(tool("KUBECTL"), args, {
    input: options.input,
    reject: options.reject ?? true,
    env: { KUBECONFIG: process.env.KUBECONFIG },
  });
}

export async function kubectlJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const { stdout } = await kubectl([...args, "-o", "json"]);
  return JSON.parse(stdout) as T;
}

/** A namespace name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ""}`);
}

export async function namespaceGone(name: string, timeoutMs = 90_000): Promise<void> {
  await eventually(
    `namespace ${name} to disappear`,
    async () => (await kubectl(["get", "namespace", name], { reject: false })).exitCode !== 0,
    timeoutMs,
  );
}
