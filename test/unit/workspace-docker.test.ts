// The Docker Engine API runtime's pure parts: the bodies it sends
// (src/domain/workspace/containers.ts), the client's parsing
// (src/adapters/docker/engine.ts) and its settings. The runtime itself runs
// against podman in agent-contract-docker.test.ts and agent-docker.test.ts.
import { describe, expect, it } from "vitest";
import { demuxLogs, parseDockerHost, query } from "../../src/adapters/docker/engine.js";
import { loadConfig } from "../../src/agent/config.js";
import {
  jobContainerBody,
  labelFilter,
  matchesFilter,
  volumeBody,
  volumeOwnerBody,
  workspaceContainerBody,
} from "../../src/domain/workspace/containers.js";

const config = loadConfig({
  AGENT_SERVER_API_KEY: "k",
  AGENT_S3_ACCESS_KEY: "AKIDEXAMPLE",
  AGENT_S3_SECRET_KEY: "s3cr3t-value",
  AGENT_S3_INTERNAL_ENDPOINT: "http://10.88.0.1:9000",
});
const settings = config.agent;
const docker = { network: "codehub-net", publishHost: "127.0.0.1" };
const WS = "0b0f4d7e-2a6c-4d1b-9a53-6f1c2e7d8a90";

describe("container bodies", () => {
  it("the workspace container: the contract's user, HOME, args and mount; every capability dropped; the port published on loopback only", () => {
    const body = workspaceContainerBody(settings, docker, WS, "img:1");
    expect(body).toMatchObject({
      Image: "img:1",
      User: "1000:1000",
      Env: ["HOME=/home/coder"],
      Cmd: ["--auth", "none", "--bind-addr", "0.0.0.0:8080"],
      Labels: {
        "codehub.workspace_id": WS,
        "app.kubernetes.io/component": "workspace",
        "k8s-sandbox.agent/resource-prefix": "codehub-ws-",
      },
    });
    expect(body.HostConfig).toMatchObject({
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      NetworkMode: "codehub-net",
      Mounts: [{ Type: "volume", Source: `codehub-ws-${WS}-home`, Target: "/home/coder", ReadOnly: false }],
      PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
    });
  });

  it("the archive helper: the contract's command and env, the volume read-only at /data; the keys in env, never in the command", () => {
    const request = { type: "archive" as const, ws: WS, op: "a1", archiveKey: `codehub-ws-${WS}/a1/home.tar.zst` };
    const body = jobContainerBody(settings, docker, request, settings.s3Keys);
    expect([...body.Entrypoint, ...body.Cmd]).toEqual(["/bin/sh", "-c", "/usr/local/bin/archive"]);
    expect(body.Env).toEqual(
      expect.arrayContaining([
        `ARCHIVE_URL=s3://codehub-archives/codehub-ws-${WS}/a1/home.tar.zst`,
        "AWS_ENDPOINT_URL=http://10.88.0.1:9000",
        "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY=s3cr3t-value",
        `WORKSPACE_ID=${WS}`,
        "S3_PREFIX=codehub-ws-",
        "S3_BUCKET=codehub-archives",
        "ARCHIVE_OP_ID=a1",
      ]),
    );
    expect(JSON.stringify([body.Entrypoint, body.Cmd, body.Labels])).not.toContain("s3cr3t-value");
    expect(body.Labels).toMatchObject({ "codehub.job_type": "archive", "codehub.archive_op_id": "a1" });
    expect(body.HostConfig.Mounts).toEqual([{ Type: "volume", Source: `codehub-ws-${WS}-home`, Target: "/data", ReadOnly: true }]);
    expect(body.User).toBe("1000:1000");
  });

  it("the restore helper writes to /data and carries its op and key", () => {
    const key = `codehub-ws-${WS}/a1/home.tar.zst`;
    const body = jobContainerBody(settings, docker, { type: "restore", ws: WS, op: "r1", archiveKey: key }, settings.s3Keys);
    expect(body.Env).toEqual(expect.arrayContaining(["RESTORE_OP_ID=r1", `RESTORE_ARCHIVE_KEY=${key}`]));
    expect(body.Env.some((e) => e.startsWith("ARCHIVE_OP_ID="))).toBe(false);
    expect(body.Labels).toMatchObject({ "codehub.restore_op_id": "r1" });
    expect(body.HostConfig.Mounts[0]?.ReadOnly).toBe(false);
  });

  it("volumes: owned by uid:gid on Podman; no driver options elsewhere", () => {
    expect(volumeBody(settings, WS, true)).toMatchObject({ Name: `codehub-ws-${WS}-home`, DriverOpts: { o: "uid=1000,gid=1000" } });
    expect(volumeBody(settings, WS, false)).not.toHaveProperty("DriverOpts");
  });

  it("where the driver cannot own a volume: a one-shot chown as root with CHOWN only, no network, only that volume", () => {
    const body = volumeOwnerBody(settings, WS);
    expect([...body.Entrypoint, ...body.Cmd]).toEqual(["/bin/chown", "1000:1000", "/data"]);
    expect(body.HostConfig).toMatchObject({ CapDrop: ["ALL"], CapAdd: ["CHOWN"], NetworkMode: "none", Privileged: false });
    expect(body.HostConfig.Mounts).toEqual([{ Type: "volume", Source: `codehub-ws-${WS}-home`, Target: "/data", ReadOnly: false }]);
    // Not a job: observe and the job look-ups never see it.
    expect(body.Labels["app.kubernetes.io/component"]).toBe("volume");
  });

  it("label filters: ours, this prefix, this component; matched label by label (Podman ORs volume filters)", () => {
    const filter = labelFilter(settings.naming, "job", { "codehub.workspace_id": WS });
    expect(filter).toEqual([
      "app.kubernetes.io/managed-by=k8s-sandbox-agent",
      "k8s-sandbox.agent/resource-prefix=codehub-ws-",
      "app.kubernetes.io/component=job",
      `codehub.workspace_id=${WS}`,
    ]);
    const labels = jobContainerBody(settings, docker, { type: "archive", ws: WS, op: "a", archiveKey: "k" }, settings.s3Keys).Labels;
    expect(matchesFilter(labels, filter)).toBe(true);
    expect(matchesFilter({ ...labels, "codehub.workspace_id": "other" }, filter)).toBe(false);
    expect(matchesFilter({ ...labels, "k8s-sandbox.agent/resource-prefix": "codehub-ws-x-" }, filter)).toBe(false);
    expect(matchesFilter(undefined, filter)).toBe(false);
  });
});

describe("engine client", () => {
  it("AGENT_DOCKER_HOST: a unix socket or tcp://host:port; anything else is refused with what to write", () => {
    expect(parseDockerHost("unix:///var/run/docker.sock")).toEqual({ socketPath: "/var/run/docker.sock" });
    expect(parseDockerHost("tcp://127.0.0.1:2375")).toEqual({ host: "127.0.0.1", port: 2375 });
    expect(() => parseDockerHost("unix://relative.sock")).toThrow(/absolute path/);
    expect(() => parseDockerHost("ssh://host")).toThrow(/expected unix:\/\/\/path\/to\/docker.sock or tcp:\/\/host:port/);
  });

  it("filters are JSON in the query string", () => {
    expect(query({ all: true, filters: { label: ["a=b"] } })).toBe(`?all=true&filters=${encodeURIComponent('{"label":["a=b"]}')}`);
    expect(query({ skip: undefined })).toBe("");
  });

  it("logs: frames of stdout and stderr are joined in order; a TTY stream is kept as it is", () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    expect(demuxLogs(Buffer.concat([frame(1, "out\n"), frame(2, "err\n"), frame(1, "more")]))).toBe("out\nerr\nmore");
    expect(demuxLogs(Buffer.from("plain tty output"))).toBe("plain tty output");
  });
});

describe("settings", () => {
  it("AGENT_RUNTIME_BACKEND chooses the runtime: kubernetes by default, docker, nothing else", () => {
    expect(config.backend).toBe("kubernetes");
    expect(config.docker).toEqual({
      host: "unix:///var/run/docker.sock",
      network: "codehub-net",
      publishHost: "127.0.0.1",
      imagePullTimeoutSeconds: 600,
      volumeOwnership: "auto",
    });
    expect(loadConfig({ AGENT_SERVER_API_KEY: "k", AGENT_RUNTIME_BACKEND: "docker" }).backend).toBe("docker");
    expect(() => loadConfig({ AGENT_SERVER_API_KEY: "k", AGENT_RUNTIME_BACKEND: "podman" })).toThrow(
      /AGENT_RUNTIME_BACKEND="podman": expected kubernetes or docker/,
    );
  });

  it.each([
    ["AGENT_DOCKER_HOST", "ssh://x"],
    ["AGENT_DOCKER_NETWORK", "bad name"],
    ["AGENT_DOCKER_PUBLISH_HOST", "localhost"],
    ["AGENT_DOCKER_IMAGE_PULL_TIMEOUT", "0"],
    ["AGENT_DOCKER_VOLUME_OWNERSHIP", "chmod"],
  ])("%s=%s is refused, naming the setting", (name, value) => {
    expect(() => loadConfig({ AGENT_SERVER_API_KEY: "k", [name]: value })).toThrow(name);
  });
});
