// Vitest global setup for the integration project: one test ground per run.
// It reuses a ground that is up already, or uses an external cluster when
// GROUND_EXTERNAL=1 names one through KUBECONFIG (kind on GitHub), so the same
// suite runs against a second, independent Kubernetes.
import { down, envAssignments, isHealthy, readState, up } from "./ground.js";

let startedHere = false;

export async function setup(): Promise<void> {
  if (process.env.GROUND_EXTERNAL === "1") {
    if (!process.env.KUBECONFIG) throw new Error("GROUND_EXTERNAL=1 needs KUBECONFIG naming the cluster to test against");
    return;
  }
  startedHere = !(await isHealthy(readState()));
  const state = await up();
  Object.assign(process.env, envAssignments(state));
}

export async function teardown(): Promise<void> {
  // A ground this run started is stopped again, so CI leaves nothing running;
  // GROUND_KEEP=1 keeps it for the next run (a warm `up` is then instant).
  if (startedHere && process.env.GROUND_KEEP !== "1") await down();
}
