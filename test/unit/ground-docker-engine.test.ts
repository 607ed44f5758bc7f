// The ground's podman service configuration (test/ground/docker-engine.ts):
// nothing of it may reach the real node's bridge or /etc/containers.
import { describe, expect, it } from "vitest";
import { DOCKER_BRIDGE, DOCKER_SUBNET, enginePaths, engineFiles } from "../ground/docker-engine.js";

const paths = enginePaths("/g/ground", "/g/ground/registries.conf");
const files = engineFiles(paths, { nofile: 20000, nproc: 8192 });

describe("the ground's Docker Engine API configuration", () => {
  it("is read from the ground's directory only, through CONTAINERS_* variables", () => {
    expect(paths.env).toEqual({
      CONTAINERS_CONF: "/g/ground/docker-engine/containers.conf",
      CONTAINERS_STORAGE_CONF: "/g/ground/docker-engine/storage.conf",
      CONTAINERS_REGISTRIES_CONF: "/g/ground/registries.conf",
    });
    expect(paths.socket).toMatch(/^\/run\/k8s-dev-sandbox-podman-[0-9a-f]{8}\/docker\.sock$/);
    expect(Object.keys(files).sort()).toEqual([
      "/g/ground/docker-engine/containers.conf",
      "/g/ground/docker-engine/networks/ksb-docker.json",
      "/g/ground/docker-engine/storage.conf",
    ]);
    expect(Object.values(files).join("\n")).not.toMatch(/\/etc\/|\/var\/lib\/containers/);
  });

  it("one network on 10.89.0.0/24 with its own bridge, never the real node's 10.88.0.0/24", () => {
    expect(DOCKER_SUBNET).toBe("10.89.0.0/24");
    const conf = files["/g/ground/docker-engine/containers.conf"] ?? "";
    expect(conf).toContain('network_backend = "netavark"');
    expect(conf).toContain('default_network = "ksb-docker"');
    expect(conf).toContain('default_subnet = "10.89.0.0/24"');
    expect(conf).not.toContain("10.88.");
    const network = JSON.parse(files["/g/ground/docker-engine/networks/ksb-docker.json"] ?? "{}");
    expect(network).toMatchObject({
      name: "ksb-docker",
      driver: "bridge",
      network_interface: DOCKER_BRIDGE,
      subnets: [{ subnet: "10.89.0.0/24", gateway: "10.89.0.1" }],
      dns_enabled: false,
    });
    expect(DOCKER_BRIDGE).not.toBe("ksb0");
  });

  it("limits within the service's own hard limits (runc cannot raise them), cgroupfs, runc, its own storage", () => {
    const conf = files["/g/ground/docker-engine/containers.conf"] ?? "";
    expect(conf).toContain('default_ulimits = ["nofile=20000:20000", "nproc=8192:8192"]');
    expect(conf).toContain('cgroup_manager = "cgroupfs"');
    expect(conf).toContain('runtime = "runc"');
    expect(files["/g/ground/docker-engine/storage.conf"]).toContain('graphroot = "/g/ground/docker-engine/storage"');
  });
});
