// Tests whose pods must really run use the ground's real node. Where the
// ground has none (not root, GROUND_REAL_NODE=0, or an external cluster),
// they are reported as skipped with the reason, never passed.
import { execa } from "execa";
import { tool } from "./cluster.js";

export function realNodeMissing(): string | undefined {
  if (process.env.GROUND_REAL_NODE === "1") return undefined;
  if (process.env.GROUND_EXTERNAL === "1") return "GROUND_EXTERNAL=1: the external cluster is not the ground, its nodes are unknown";
  return process.env.GROUND_REAL_NODE_UNAVAILABLE ?? "the ground reports no real node";
}

/** Call first in a test (or beforeEach): skips it, with the reason, when there is no real node. */
export function requireRealNode(ctx: { skip: (condition: boolean, note?: string) => void }): void {
  const missing = realNodeMissing();
  ctx.skip(missing !== undefined, `needs the ground's real node: ${missing}`);
}

export function groundImage(name: "POSTGRES" | "NGINX" | "PYTHON" | "ODOO" | "PAUSE" | "PGADMIN"): string {
  const value = process.env[`GROUND_IMAGE_${name}`];
  if (!value) throw new Error(`GROUND_IMAGE_${name} is not set: the ground's global setup exports it when the real node runs`);
  return value;
}

/** Runs a command in a pod's container and returns its output (stdout, then stderr). */
export async function execIn(
  namespace: string,
  target: string,
  container: string,
  command: string[],
): Promise<{ code: number; out: string }> {
  const r = await execa(tool("KUBECTL"), ["-n", namespace, "exec", target, "-c", container, "--", ...command], {
    env: { KUBECONFIG: process.env.KUBECONFIG },
    reject: false,
  });
  return { code: r.exitCode ?? -1, out: `${r.stdout}${r.stderr ? `\n${r.stderr}` : ""}` };
}

/**
 * Whether `from` can open a TCP connection to host:port within the timeout,
 * asked with Python inside the container (the ground's images have it).
 * "refused" and "timeout" are both "closed" to a NetworkPolicy test; the
 * answer says which, for the failure message.
 */
export async function tcpProbe(
  namespace: string,
  target: string,
  container: string,
  host: string,
  port: number,
  timeoutSeconds = 3,
): Promise<"open" | "refused" | "timeout" | "unresolved"> {
  const script = [
    "import socket,sys",
    "try:",
    `  socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=${timeoutSeconds}).close(); print('open')`,
    "except socket.timeout: print('timeout')",
    "except ConnectionRefusedError: print('refused')",
    "except socket.gaierror: print('unresolved')",
    "except OSError as e: print('timeout' if 'timed out' in str(e) else 'refused')",
  ].join("\n");
  const { out } = await execIn(namespace, target, container, ["python3", "-c", script, host, String(port)]);
  const answer = out.trim().split("\n")[0];
  if (answer === "open" || answer === "refused" || answer === "timeout" || answer === "unresolved") return answer;
  throw new Error(`tcp probe from ${namespace}/${target} to ${host}:${port} gave no answer: ${out}`);
}
