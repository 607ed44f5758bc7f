// The controller as a real process (`k8s-sandbox serve`, bundled from source) on
// loopback, for tests and the bench: started, its JSON log collected, killed.
import { type ResultPromise, execa } from "execa";
import { cliCommand } from "./cli.js";
import { groundEnv, kubectl } from "./cluster.js";
import { webhookHeaders } from "./github/examples.js";

export interface ControllerProcess {
  url: string;
  logs: string[];
  process: ResultPromise;
  /** SIGKILL, as a crashed pod: nothing is flushed or finished. */
  kill(): Promise<void>;
  /** SIGTERM: running operations finish. */
  stop(): Promise<void>;
}

export async function startControllerProcess(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<ControllerProcess> {
  const [node, cli] = await cliCommand(["serve", "--host", "127.0.0.1", "--port", "0", ...args]);
  const child = execa(node, cli, {
    env: { ...env, NODE_OPTIONS: "" },
    reject: false,
    buffer: false,
  });
  const logs: string[] = [];
  let pending = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the controller did not start in ${timeoutMs} ms:\n${logs.join("")}`)), timeoutMs);
    child.stdout?.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        logs.push(line);
        const found = /controller listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (found?.[1]) {
          clearTimeout(timer);
          resolve(found[1]);
        }
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
    child.then((result) => {
      clearTimeout(timer);
      reject(new Error(`the controller exited (${result.exitCode ?? result.signal}):\n${logs.join("\n")}`));
    });
  });
  const ended = () => child.then(() => undefined);
  return {
    url,
    logs,
    process: child,
    async kill() {
      child.kill("SIGKILL");
      await ended();
    },
    async stop() {
      child.kill("SIGTERM");
      await ended();
    },
  };
}

export interface SentDelivery {
  headers: Record<string, string>;
  body: string;
}

/** A delivery as GitHub sends it: JSON body, signed with the secret. */
export function signedDelivery(event: string, payload: unknown, secret: string): SentDelivery {
  const body = JSON.stringify(payload);
  return { headers: webhookHeaders(event, body, secret), body };
}

export async function post(url: string, delivery: SentDelivery): Promise<{ status: number; result?: string; message?: string }> {
  const response = await fetch(`${url}/api/github/webhooks`, { method: "POST", headers: delivery.headers, body: delivery.body });
  const text = await response.text();
  let json: { result?: string; message?: string } = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, ...json };
}

/** The delivery counter of a controller's /metrics, by result (summed over events). */
export async function deliveryCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^k8s_sandbox_webhook_deliveries_total\{event="[^"]*",result="([a-z]+)"\} (\d+)$/gm)) {
    counts[m[1] as string] = (counts[m[1] as string] ?? 0) + Number(m[2]);
  }
  return counts;
}

/**
 * The controller's namespace with its opt-in ConfigMap, as an operator makes
 * them: one repository, previewed at <key>.<baseDomain> from the ground's
 * Odoo stand-in image repository (tags sha-<commit>), plus `settings`.
 */
export async function createControllerNamespace(
  namespace: string,
  repository: string,
  settings: { baseDomain: string } & Record<string, string>,
): Promise<void> {
  const image = groundEnv("GROUND_IMAGE_ODOO").replace(/:[^:/]+$/, "");
  const lines = [`${repository}:`, ...Object.entries({ image, ...settings }).map(([key, value]) => `  ${key}: ${value}`)];
  await kubectl(["create", "namespace", namespace]);
  await kubectl([
    "create",
    "configmap",
    "k8s-sandbox-repositories",
    "-n",
    namespace,
    `--from-literal=repositories.yaml=${lines.join("\n")}`,
  ]);
}

/** What `serve` needs on the ground besides its flags: the tools, the ground's kubeconfig (unless given), and `settings`. */
export function serveEnv(settings: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    KUBECONFIG: groundEnv("KUBECONFIG"),
    HELM: process.env.HELM ?? "helm",
    ...settings,
  };
}
