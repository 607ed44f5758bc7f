import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { V1Service } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkspaceRecord } from "../../src/domain/workspace/observe.js";
import { REAL_NODE_SCHEDULING } from "../ground/node-config.js";
import {
  createRestrictedNamespace,
  homeSurvivesArchiveAndRestore,
  s3Missing,
  spawnCliAgent,
  startTestAgent,
  type TestAgent,
  uniqueSuffix,
} from "../support/agent.js";
import { eventually, kubectl, kubectlJson } from "../support/cluster.js";
import { execIn, realNodeMissing } from "../support/real-node.js";

const missing =
  realNodeMissing() ??
  s3Missing() ??
  (process.env.AGENT_RUNTIME_DEFAULT_IMAGE && process.env.AGENT_RUNTIME_STORAGE_JOB_IMAGE && process.env.AGENT_S3_INTERNAL_ENDPOINT
    ? undefined
    : "AGENT_RUNTIME_DEFAULT_IMAGE, AGENT_RUNTIME_STORAGE_JOB_IMAGE or AGENT_S3_INTERNAL_ENDPOINT unset: the ground builds these images and exports them");

const run = uniqueSuffix();
const NS = `agent-real-${run}`;
const BUCKET = `agent-real-${run}`;
const PREFIX = `ar${run}-`;
const WS = "7e57a11e-0000-4000-8000-00000000a001";
const BROKEN = "7e57a11e-0000-4000-8000-00000000b002";
const KILLED = "7e57a11e-0000-4000-8000-00000000c003";
const UNREADABLE = "7e57a11e-0000-4000-8000-00000000d004";
const CONTENT = `written before the archive ${run}\n`;

let a: TestAgent;
let s3: S3Client;

async function record(ws: string) {
  const res = await a.call("GET", "/api/v1/workspaces");
  return (res.body.workspaces as Array<WorkspaceRecord>).find((w) => w.workspace_id === ws);
}
async function waitFor<T>(
  what: string,
  fn: (w: WorkspaceRecord | undefined) => T | undefined | false,
  ws = WS,
  timeoutMs = 180_000,
): Promise<T> {
  return eventually(what, async () => fn(await record(ws)), timeoutMs, 1_000);
}
async function workspacePod(ws: string): Promise<string> {
  const pods = await kubectlJson<{ items: Array<{ metadata: { name: string; deletionTimestamp?: string } }> }>([
    "-n",
    NS,
    "get",
    "pods",
    "-l",
    `codehub.workspace_id=${ws},app.kubernetes.io/component=workspace`,
  ]);
  const live = pods.items.find((p) => !p.metadata.deletionTimestamp);
  if (!live) throw new Error(`no live pod for ${ws}`);
  return live.metadata.name;
}
async function objectText(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await (got.Body?.transformToByteArray() ?? new Uint8Array()));
}

describe.skipIf(missing !== undefined)(`workspace agent on the real node${missing ? ` (skipped: ${missing})` : ""}`, () => {
  beforeAll(async () => {
    await createRestrictedNamespace(NS);
    a = await startTestAgent({
      namespace: NS,
      prefix: PREFIX,
      bucket: BUCKET,
      env: {
        AGENT_KUBERNETES_NODE_SELECTOR: JSON.stringify(REAL_NODE_SCHEDULING.nodeSelector),
        AGENT_KUBERNETES_TOLERATIONS: JSON.stringify(REAL_NODE_SCHEDULING.tolerations),
        AGENT_DOCKER_JOB_TIMEOUT: "300",
      },
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
    await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=false"], { reject: false });
    if (s3) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET })).catch(() => undefined);
      for (const o of listed?.Contents ?? [])
        await s3.send(new (await import("@aws-sdk/client-s3")).DeleteObjectCommand({ Bucket: BUCKET, Key: o.Key }));
      await s3.send(new (await import("@aws-sdk/client-s3")).DeleteBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
      s3.destroy();
    }
  });

  it("provision -> start: the pod runs as 1000 and becomes ready; the upstream Service answers", async () => {
    expect((await a.call("POST", `/api/v1/workspaces/${WS}/provision`)).status).toBe(201);
    const started = Date.now();
    expect((await a.call("POST", `/api/v1/workspaces/${WS}/start`, { image: null })).status).toBe(200);
    await waitFor("the workspace to be healthy", (w) => w?.container?.healthy);
    console.log(`start -> healthy (observe): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const up = await a.call("GET", `/api/v1/workspaces/${WS}/upstream`);
    expect(up.body.hostname).toBe(`${PREFIX}${WS}.${NS}.svc.cluster.local`);
    // From the host, through the Service (kube-proxy), as a proxy in the cluster would reach it.
    const svc = await kubectlJson<V1Service>(["-n", NS, "get", "service", `${PREFIX}${WS}`]);
    const health = await eventually("the Service to answer", async () => {
      // A short timeout per attempt: a first SYN sent before kube-proxy wrote
      // the Service's rules leaves a conntrack entry that its retransmissions
      // keep matching un-NATed, so that one connection hangs until the kernel
      // gives up (~2 min, past this wait); a new connection is NATed.
      const res = await fetch(`http://${svc.spec?.clusterIP}:${up.body.port}/healthz`, { signal: AbortSignal.timeout(3_000) }).catch(
        () => undefined,
      );
      return res?.status === 200 ? res : undefined;
    });
    expect(health.status).toBe(200);
    const id = await execIn(NS, await workspacePod(WS), "workspace", ["id", "-u"]);
    expect(id.out.trim()).toBe("1000");
  });

  it("a file written in the home volume survives stop -> archive -> delete -> restore -> start", async () => {
    await homeSurvivesArchiveAndRestore(
      {
        agent: a,
        workspace: WS,
        prefix: PREFIX,
        exec: async (cmd) => execIn(NS, await workspacePod(WS), "workspace", cmd),
        object: objectText,
        waitFor: (what, fn) => waitFor(what, fn),
      },
      CONTENT,
    );
  });

  it("a repeat of the finished restore with the same op starts nothing: same Job, same marker", async () => {
    expect((await a.call("POST", `/api/v1/workspaces/${WS}/stop`)).status).toBe(200);
    await waitFor("the container to be gone", (w) => w && w.container === null);
    const key = `${PREFIX}${WS}/arch-1/home.tar.zst`;
    const jobUids = async () =>
      (
        await kubectlJson<{ items: Array<{ metadata: { uid: string } }> }>([
          "-n",
          NS,
          "get",
          "jobs",
          "-l",
          `codehub.workspace_id=${WS},codehub.job_type=restore`,
        ])
      ).items
        .map((j) => j.metadata.uid)
        .sort();
    const jobsBefore = await jobUids();
    const markerBefore = (await objectText(`${PREFIX}${WS}/.restore_marker`)).toString();
    expect((await a.call("POST", `/api/v1/workspaces/${WS}/restore`, { archive_key: key, restore_op_id: "rest-1" })).status).toBe(200);
    expect(jobsBefore).toHaveLength(1);
    expect(await jobUids()).toEqual(jobsBefore);
    expect((await objectText(`${PREFIX}${WS}/.restore_marker`)).toString()).toBe(markerBefore);
  });

  it("a corrupt archive (bad checksum) is refused by the restore Job: .restore_error in the store, error in observe", async () => {
    const key = `${PREFIX}${BROKEN}/bad/home.tar.zst`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: "not what the checksum says" }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${key}.meta`, Body: `sha256:${"0".repeat(64)}\n` }));
    expect((await a.call("POST", `/api/v1/workspaces/${BROKEN}/restore`, { archive_key: key, restore_op_id: "rb-1" })).status).toBe(200);
    const error = await waitFor("the restore to fail", (w) => w?.error ?? undefined, BROKEN);
    expect(error).toMatchObject({ operation: "restore", restore_op_id: "rb-1", archive_op_id: null });
    expect(error.error_code).not.toBe(0);
    const marker = JSON.parse((await objectText(`${PREFIX}${BROKEN}/.restore_error`)).toString());
    expect(marker).toMatchObject({ status: "Failed", operation: "restore", restore_op_id: "rb-1", archive_key: key });
    // Nothing was restored: no marker.
    expect((await record(BROKEN))?.restore).toBeNull();
  });

  it("agent killed (SIGKILL) right after accepting an archive: a new agent observes the Job's real outcome and runs nothing twice", async () => {
    expect((await a.call("POST", `/api/v1/workspaces/${KILLED}/provision`)).status).toBe(201);
    expect((await a.call("POST", `/api/v1/workspaces/${KILLED}/start`, { image: null })).status).toBe(200);
    await waitFor("the workspace to be healthy", (w) => w?.container?.healthy, KILLED);
    expect((await execIn(NS, await workspacePod(KILLED), "workspace", ["sh", "-c", "echo kept > /home/coder/kept.txt"])).code).toBe(0);
    expect((await a.call("POST", `/api/v1/workspaces/${KILLED}/stop`)).status).toBe(200);
    await waitFor("the container to be gone", (w) => w && w.container === null, KILLED);

    const env = {
      AGENT_SERVER_API_KEY: a.key,
      AGENT_S3_BUCKET: BUCKET,
      AGENT_KUBERNETES_NAMESPACE: NS,
      AGENT_RUNTIME_RESOURCE_PREFIX: PREFIX,
      AGENT_KUBERNETES_NODE_SELECTOR: JSON.stringify(REAL_NODE_SCHEDULING.nodeSelector),
      AGENT_KUBERNETES_TOLERATIONS: JSON.stringify(REAL_NODE_SCHEDULING.tolerations),
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
    const jobs = async () =>
      (
        await kubectlJson<{ items: Array<{ metadata: { uid: string } }> }>([
          "-n",
          NS,
          "get",
          "jobs",
          "-l",
          `codehub.workspace_id=${KILLED},codehub.job_type=archive`,
        ])
      ).items.map((j) => j.metadata.uid);
    const before = await jobs();
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
      expect(await jobs()).toEqual(before);
    } finally {
      second.kill();
    }
  });

  it("an archive Job that fails (a directory it may not read) leaves its .error marker, observe shows it, and no archive counts", async () => {
    expect((await a.call("POST", `/api/v1/workspaces/${UNREADABLE}/provision`)).status).toBe(201);
    expect((await a.call("POST", `/api/v1/workspaces/${UNREADABLE}/start`, { image: null })).status).toBe(200);
    await waitFor("the workspace to be healthy", (w) => w?.container?.healthy, UNREADABLE);
    const lock = await execIn(NS, await workspacePod(UNREADABLE), "workspace", [
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
    const marker = JSON.parse((await objectText(`${PREFIX}${UNREADABLE}/fails/.error`)).toString());
    expect(marker).toMatchObject({ status: "Failed", operation: "archive", archive_op_id: "fails" });
    expect((await record(UNREADABLE))?.archive).toBeNull();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}${UNREADABLE}/fails/` }));
    expect((listed.Contents ?? []).map((o) => o.Key)).not.toContain(`${PREFIX}${UNREADABLE}/fails/home.tar.zst.meta`);
  });
});
