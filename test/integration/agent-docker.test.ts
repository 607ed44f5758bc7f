import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../../src/adapters/docker/engine.js";
import { matchesFilter } from "../../src/domain/workspace/containers.js";
import type { WorkspaceRecord } from "../../src/domain/workspace/observe.js";
import { homeSurvivesArchiveAndRestore, s3Missing, spawnCliAgent, startTestAgent, type TestAgent, uniqueSuffix } from "../support/agent.js";
import { dockerEngineMissing, engineOfGround, execInContainer } from "../support/agent-runtimes.js";
import { eventually } from "../support/cluster.js";

const missing =
  dockerEngineMissing() ??
  s3Missing() ??
  (process.env.AGENT_RUNTIME_DEFAULT_IMAGE && process.env.AGENT_RUNTIME_STORAGE_JOB_IMAGE && process.env.AGENT_S3_INTERNAL_ENDPOINT
    ? undefined
    : "AGENT_RUNTIME_DEFAULT_IMAGE, AGENT_RUNTIME_STORAGE_JOB_IMAGE or AGENT_S3_INTERNAL_ENDPOINT unset: the ground builds these images and exports them");

const run = uniqueSuffix();
const BUCKET = `hdk-agent-docker-${run}`;
const PREFIX = `hdk${run}-`;
const WS = "d0c4e700-0000-4000-8000-00000000a001";
const BROKEN = "d0c4e700-0000-4000-8000-00000000b002";
const KILLED = "d0c4e700-0000-4000-8000-00000000c003";
const UNREADABLE = "d0c4e700-0000-4000-8000-00000000d004";
const MUTE = "d0c4e700-0000-4000-8000-00000000e005";
const OWNED = "d0c4e700-0000-4000-8000-00000000f006";
const CONTENT = `written before the archive ${run}\n`;

let a: TestAgent;
let s3: S3Client;

async function record(ws: string) {
  const res = await a.call("GET", "/api/v1/workspaces");
  return (res.body.workspaces as Array<WorkspaceRecord>).find((w) => w.workspace_id === ws);
}
/** The helper containers of one workspace and job type under this run's prefix. */
async function helpers(ws: string, type: string): Promise<string[]> {
  const engine = engineOfGround();
  const labels = [`k8s-sandbox.agent/resource-prefix=${PREFIX}`, `codehub.workspace_id=${ws}`, `codehub.job_type=${type}`];
  const listed = await engine.expect("GET", `/containers/json${query({ all: true, filters: { label: labels } })}`);
  return (listed.body as Array<{ Id: string; Labels: Record<string, string> }>)
    .filter((c) => matchesFilter(c.Labels, labels))
    .map((c) => c.Id);
}
async function waitFor<T>(what: string, fn: (w: WorkspaceRecord | undefined) => T | undefined | false, ws = WS): Promise<T> {
  return eventually(what, async () => fn(await record(ws)), 180_000, 500);
}
async function objectBytes(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await (got.Body?.transformToByteArray() ?? new Uint8Array()));
}

describe.skipIf(missing !== undefined)(
  `workspace agent on the Docker Engine API (podman)${missing ? ` (skipped: ${missing})` : ""}`,
  () => {
    const engine = missing ? undefined : engineOfGround();
    const exec = (ws: string, cmd: string[]) => {
      if (!engine) throw new Error(missing);
      return execInContainer(engine, `${PREFIX}${ws}`, cmd);
    };

    beforeAll(async () => {
      a = await startTestAgent({
        namespace: "unused",
        prefix: PREFIX,
        bucket: BUCKET,
        env: { AGENT_RUNTIME_BACKEND: "docker", AGENT_DOCKER_JOB_TIMEOUT: "300" },
      });
      s3 = new S3Client({
        endpoint: process.env.AGENT_S3_ENDPOINT,
        region: process.env.AGENT_S3_REGION ?? "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: process.env.AGENT_S3_ACCESS_KEY ?? "", secretAccessKey: process.env.AGENT_S3_SECRET_KEY ?? "" },
      });
    });

    afterAll(async () => {
      await a?.close();
      if (process.env.AGENT_TEST_KEEP === "1") return;
      if (engine) {
        const labels = [`k8s-sandbox.agent/resource-prefix=${PREFIX}`];
        const containers = await engine.expect("GET", `/containers/json${query({ all: true, filters: { label: labels } })}`);
        for (const c of containers.body as Array<{ Id: string }>)
          await engine.call("DELETE", `/containers/${c.Id}${query({ force: true })}`);
        const volumes = await engine.expect("GET", `/volumes${query({ filters: { label: labels } })}`);
        for (const v of (volumes.body as { Volumes: Array<{ Name: string }> | null }).Volumes ?? [])
          if (v.Name.startsWith(PREFIX)) await engine.call("DELETE", `/volumes/${v.Name}`);
      }
      if (s3) {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET })).catch(() => undefined);
        for (const o of listed?.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: o.Key }));
        await s3.send(new DeleteBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
        s3.destroy();
      }
    });

    it("provision -> start: the container runs as 1000 and becomes healthy; the upstream answers", async () => {
      expect((await a.call("POST", `/api/v1/workspaces/${WS}/provision`)).status).toBe(201);
      const started = Date.now();
      expect((await a.call("POST", `/api/v1/workspaces/${WS}/start`, { image: null })).status).toBe(200);
      await waitFor("the workspace to be healthy", (w) => w?.container?.healthy);
      console.log(`docker runtime: start -> healthy (observe): ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const up = await a.call("GET", `/api/v1/workspaces/${WS}/upstream`);
      expect(up.body.hostname).toBe("127.0.0.1");
      const health = await fetch(`${up.body.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "alive" });
      const id = await exec(WS, ["id", "-u"]);
      expect(id).toEqual({ code: 0, out: "1000\n" });
    });

    it("healthy is a check, not a copy of running: a container that runs but does not listen is running and not healthy", async () => {
      if (!engine) throw new Error(missing);
      // The ground's Python image made to sleep whatever its arguments: it runs and never listens.
      const base = process.env.GROUND_IMAGE_PYTHON ?? "";
      const present = await engine.call("GET", `/images/${base}/json`);
      if (present.status === 404) await engine.expect("POST", `/images/create${query({ fromImage: base })}`, undefined, [], 300_000);
      const source = `hdk-mute-${run}`;
      await engine.expect("POST", `/containers/create${query({ name: source })}`, { Image: base, Cmd: ["true"] });
      const image = `localhost/agent-test-mute:${run}`;
      try {
        await engine.expect(
          "POST",
          `/commit${query({ container: source, repo: "localhost/agent-test-mute", tag: run, changes: 'ENTRYPOINT ["/bin/sh", "-c", "exec sleep 3600"]' })}`,
          {},
        );
      } finally {
        await engine.call("DELETE", `/containers/${source}${query({ force: true })}`);
      }
      try {
        expect((await a.call("POST", `/api/v1/workspaces/${MUTE}/provision`)).status).toBe(201);
        expect((await a.call("POST", `/api/v1/workspaces/${MUTE}/start`, { image })).status).toBe(200);
        await waitFor("the container to run", (w) => w?.container?.running, MUTE);
        for (let i = 0; i < 3; i++) {
          expect((await record(MUTE))?.container).toEqual({ running: true, healthy: false });
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
        const up = await a.call("GET", `/api/v1/workspaces/${MUTE}/upstream`);
        expect(up.status).toBe(200);
        await expect(fetch(`${up.body.url}/healthz`, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
      } finally {
        await a.call("DELETE", `/api/v1/workspaces/${MUTE}`);
        await engine.call("DELETE", `/images/${image}${query({ force: true })}`);
      }
    });

    it("a file written in the home volume survives stop -> archive -> delete -> restore -> start", async () => {
      await homeSurvivesArchiveAndRestore(
        {
          agent: a,
          workspace: WS,
          prefix: PREFIX,
          exec: (cmd) => exec(WS, cmd),
          object: objectBytes,
          waitFor: (what, fn) => waitFor(what, fn),
        },
        CONTENT,
      );
    });

    it("where the engine cannot give a volume an owner (Docker's local driver; forced here with AGENT_DOCKER_VOLUME_OWNERSHIP=helper): a chown helper does, and a restore into it works", async () => {
      const helperAgent = await startTestAgent({
        namespace: "unused",
        prefix: PREFIX,
        bucket: BUCKET,
        key: a.key,
        env: { AGENT_RUNTIME_BACKEND: "docker", AGENT_DOCKER_VOLUME_OWNERSHIP: "helper", AGENT_DOCKER_JOB_TIMEOUT: "300" },
      });
      try {
        const key = `${PREFIX}${WS}/arch-1/home.tar.zst`;
        const restored = await helperAgent.call("POST", `/api/v1/workspaces/${OWNED}/restore`, {
          archive_key: key,
          restore_op_id: "own-1",
        });
        expect(restored.status).toBe(200);
        const volume = await engineOfGround().expect("GET", `/volumes/${PREFIX}${OWNED}-home`);
        // Made without a driver option: the helper, not the engine, gave it its owner.
        expect((volume.body as { Options?: Record<string, string> | null }).Options ?? {}).not.toHaveProperty("o");
        await waitFor("the restore to be done", (w) => w?.restore?.archive_key === key && w?.volume?.exists, OWNED);
        expect((await helperAgent.call("POST", `/api/v1/workspaces/${OWNED}/start`, { image: null })).status).toBe(200);
        await waitFor("the restored workspace to be healthy", (w) => w?.container?.healthy, OWNED);
        const back = await exec(OWNED, ["sh", "-c", "cat /home/coder/project/note.txt; stat -c %u:%g /home/coder"]);
        expect(back).toEqual({ code: 0, out: `${CONTENT}1000:1000\n` });
      } finally {
        await helperAgent.call("DELETE", `/api/v1/workspaces/${OWNED}`);
        await helperAgent.close();
      }
    });

    it("a corrupt archive (bad checksum) is refused by the restore helper: .restore_error in the store, error in observe", async () => {
      const key = `${PREFIX}${BROKEN}/bad/home.tar.zst`;
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: "not what the checksum says" }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${key}.meta`, Body: `sha256:${"0".repeat(64)}\n` }));
      expect((await a.call("POST", `/api/v1/workspaces/${BROKEN}/restore`, { archive_key: key, restore_op_id: "rb-1" })).status).toBe(200);
      const error = await waitFor("the restore to fail", (w) => w?.error ?? undefined, BROKEN);
      expect(error).toMatchObject({ operation: "restore", restore_op_id: "rb-1", archive_op_id: null });
      expect(error.error_code).not.toBe(0);
      const marker = JSON.parse((await objectBytes(`${PREFIX}${BROKEN}/.restore_error`)).toString());
      expect(marker).toMatchObject({ status: "Failed", operation: "restore", restore_op_id: "rb-1", archive_key: key });
      expect((await record(BROKEN))?.restore).toBeNull();
    });

    it("agent killed (SIGKILL) right after accepting an archive: a new agent observes the helper's real outcome and runs nothing twice", async () => {
      expect((await a.call("POST", `/api/v1/workspaces/${KILLED}/provision`)).status).toBe(201);
      expect((await a.call("POST", `/api/v1/workspaces/${KILLED}/start`, { image: null })).status).toBe(200);
      await waitFor("the workspace to be healthy", (w) => w?.container?.healthy, KILLED);
      expect((await exec(KILLED, ["sh", "-c", "echo kept > /home/coder/kept.txt"])).code).toBe(0);
      expect((await a.call("POST", `/api/v1/workspaces/${KILLED}/stop`)).status).toBe(200);
      await waitFor("the container to be gone", (w) => w && w.container === null, KILLED);

      const env = {
        AGENT_SERVER_API_KEY: a.key,
        AGENT_S3_BUCKET: BUCKET,
        AGENT_RUNTIME_RESOURCE_PREFIX: PREFIX,
        AGENT_RUNTIME_BACKEND: "docker",
      };
      const headers = { authorization: `Bearer ${a.key}`, "content-type": "application/json" };
      const first = await spawnCliAgent(env);
      const accepted = await fetch(`${first.url}/api/v1/workspaces/${KILLED}/archive`, {
        method: "POST",
        headers,
        body: JSON.stringify({ archive_op_id: "k1" }),
      });
      expect(accepted.status).toBe(200);
      first.kill();
      const before = await helpers(KILLED, "archive");
      expect(before).toHaveLength(1);

      const second = await spawnCliAgent(env);
      try {
        const observed = await eventually(
          "the new agent to observe the archive",
          async () => {
            const res = await fetch(`${second.url}/api/v1/workspaces`, { headers });
            const body = (await res.json()) as { workspaces: Array<WorkspaceRecord> };
            return body.workspaces.find((w) => w.workspace_id === KILLED && w.archive?.archive_key?.includes("/k1/"));
          },
          180_000,
          1_000,
        );
        expect(observed.archive?.archive_key).toBe(`${PREFIX}${KILLED}/k1/home.tar.zst`);
        const again = await fetch(`${second.url}/api/v1/workspaces/${KILLED}/archive`, {
          method: "POST",
          headers,
          body: JSON.stringify({ archive_op_id: "k1" }),
        });
        expect(((await again.json()) as { archive_key: string }).archive_key).toBe(`${PREFIX}${KILLED}/k1/home.tar.zst`);
        expect(await helpers(KILLED, "archive")).toEqual(before);
      } finally {
        second.kill();
      }
    });

    it("an archive helper that fails (a directory it may not read) leaves its .error marker, observe shows it, and no archive counts", async () => {
      expect((await a.call("POST", `/api/v1/workspaces/${UNREADABLE}/provision`)).status).toBe(201);
      expect((await a.call("POST", `/api/v1/workspaces/${UNREADABLE}/start`, { image: null })).status).toBe(200);
      await waitFor("the workspace to be healthy", (w) => w?.container?.healthy, UNREADABLE);
      const lock = await exec(UNREADABLE, [
        "sh",
        "-c",
        "mkdir -p /home/coder/locked && echo secret > /home/coder/locked/f && chmod 000 /home/coder/locked",
      ]);
      expect(lock.code).toBe(0);
      expect((await a.call("POST", `/api/v1/workspaces/${UNREADABLE}/stop`)).status).toBe(200);
      await waitFor("the container to be gone", (w) => w && w.container === null, UNREADABLE);
      expect((await a.call("POST", `/api/v1/workspaces/${UNREADABLE}/archive`, { archive_op_id: "fails" })).status).toBe(200);
      const error = await waitFor("the archive to fail", (w) => w?.error ?? undefined, UNREADABLE);
      expect(error).toMatchObject({ operation: "archive", archive_op_id: "fails", restore_op_id: null });
      expect(error.error_code).not.toBe(0);
      const marker = JSON.parse((await objectBytes(`${PREFIX}${UNREADABLE}/fails/.error`)).toString());
      expect(marker).toMatchObject({ status: "Failed", operation: "archive", archive_op_id: "fails" });
      expect((await record(UNREADABLE))?.archive).toBeNull();
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}${UNREADABLE}/fails/` }));
      expect((listed.Contents ?? []).map((o) => o.Key)).not.toContain(`${PREFIX}${UNREADABLE}/fails/home.tar.zst.meta`);
    });
  },
);
