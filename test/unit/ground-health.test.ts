// Why the ground counts as not up: every test process's global setup asks,
// and restarts the whole ground on any answer but "whole", so the answer must
// name what is missing (once, nine processes restarted it in turn without a
// word). Real processes: this one is alive, an exited child is not.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { type GroundState, whyUnhealthy } from "../ground/ground.js";
import type { RealNodeState } from "../ground/real-node.js";

/** The pid of a process that has exited (reaped by spawnSync). */
function deadPid(): number {
  const child = spawnSync("true");
  return child.pid as number;
}

const alive = process.pid;
const controlPlane = {
  etcd: alive,
  apiserver: alive,
  controllerManager: alive,
  scheduler: alive,
  kwok: alive,
  registry: alive,
  provisioner: alive,
};

function state(overrides: Partial<GroundState>): GroundState {
  return {
    dir: "/nonexistent",
    kubeconfig: "/nonexistent/kubeconfig",
    registry: "127.0.0.1:1",
    registriesConf: "/nonexistent/registries.conf",
    ports: {} as GroundState["ports"],
    pids: controlPlane,
    versions: {} as GroundState["versions"],
    startedAt: new Date().toISOString(),
    ...overrides,
  };
}

describe("whyUnhealthy", () => {
  it("says when nothing is recorded", async () => {
    expect(await whyUnhealthy(undefined)).toBe("nothing recorded as running");
  });

  it("names each control-plane process that is not running, with its pid", async () => {
    const dead = deadPid();
    const why = await whyUnhealthy(state({ pids: { ...controlPlane, apiserver: dead, kwok: undefined } }));
    expect(why).toBe(`not running: apiserver (pid ${dead}), kwok (pid none)`);
  });

  it("names the real node's component that died (kube-router exiting at once was the case)", async () => {
    const dead = deadPid();
    const node = { pids: { containerd: alive, kubelet: alive, kubeProxy: alive, kubeRouter: dead } } as unknown as RealNodeState;
    const why = await whyUnhealthy(state({ node, ingressUrl: "http://127.0.0.1:1" }));
    expect(why).toBe(`not running on the real node: kubeRouter (pid ${dead})`);
  });

  it("says when the ingress never came up", async () => {
    const node = { pids: { containerd: alive, kubelet: alive, kubeProxy: alive, kubeRouter: alive } } as unknown as RealNodeState;
    expect(await whyUnhealthy(state({ node }))).toBe("the ingress controller was never recorded as up");
  });
});
