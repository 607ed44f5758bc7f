// The Agent API contract (notes/agent-api.md) against the real thing, one
// suite for every runtime behind the agent (test/support/agent-runtimes.ts):
// the agent on loopback, a real S3 server, and either the ground's API server
// (kwok's node: Deployments get ready pods, PVCs bind, Job pods "complete"
// without running anything) or the ground's Docker Engine API (podman:
// containers really run; storage helpers run an image that exits at once).
// The assertions are the same for both; a leg answers what its runtime made
// in one shape. Every answer is checked against the agent's own
// /openapi.json by the client in test/support/agent.ts. What only real
// storage work shows (the archive's bytes, the file back after restore) is in
// agent-real-node.test.ts and agent-docker.test.ts.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkspaceRecord } from "../../src/domain/workspace/observe.js";
import { servedRoutes } from "../../src/agent/server.js";
import { s3Missing, startTestAgent, type TestAgent, uniqueSuffix } from "../support/agent.js";
import type { RuntimeLeg } from "../support/agent-runtimes.js";
import { eventually as waitUntil } from "../support/cluster.js";

/** Kubernetes' own controllers do the waiting here; on a loaded shared ground they take minutes, not seconds. */
const eventually = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 180_000, intervalMs = 500) =>
  waitUntil(what, fn, timeoutMs, intervalMs);

export function agentContractSuite(leg: RuntimeLeg): void {
  const skipReason = s3Missing() ?? leg.skipReason;
  const run = uniqueSuffix();
  const BUCKET = `agent-test-${run}`;
  const PREFIX = `at${run}-`;
  const WS = "0b0f4d7e-2a6c-4d1b-9a53-6f1c2e7d8a90";
  const WS2 = "5d2c8a1e-7f3b-4c6d-8e9f-0a1b2c3d4e5f";
  const FRESH = "c0ffee00-0000-4000-8000-000000000001";

  let s3: S3Client;
  let a: TestAgent;
  /** The agent of this leg, on the runtime's objects and this run's bucket and prefix. */
  const agentOf = (options: { key?: string; env?: Record<string, string> } = {}) =>
    startTestAgent({ namespace: "unused", prefix: PREFIX, bucket: BUCKET, key: options.key, env: { ...leg.agentEnv(), ...options.env } });

  async function put(key: string, body: string) {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  }
  async function keys(prefix = PREFIX): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
  }
  async function observe(agent = a) {
    const res = await agent.call("GET", "/api/v1/workspaces");
    expect(res.status).toBe(200);
    return res.body.workspaces as Array<WorkspaceRecord>;
  }
  async function record(ws: string, agent = a) {
    return (await observe(agent)).find((w) => w.workspace_id === ws);
  }

  // One client for the test's own looks into the store; the bucket (made by the agent) goes at the end of the file.
  beforeAll(() => {
    if (skipReason) return;
    s3 = new S3Client({
      endpoint: process.env.AGENT_S3_ENDPOINT,
      region: process.env.AGENT_S3_REGION ?? "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: process.env.AGENT_S3_ACCESS_KEY ?? "", secretAccessKey: process.env.AGENT_S3_SECRET_KEY ?? "" },
    });
  });
  afterAll(async () => {
    if (!s3 || process.env.AGENT_TEST_KEEP === "1") return;
    const all = await keys("").catch(() => []);
    if (all.length) await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: all.map((Key) => ({ Key })) } }));
    await s3.send(new DeleteBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
    s3.destroy();
  });

  describe.skipIf(skipReason !== undefined)(
    `agent contract on the ground, ${leg.name} runtime${skipReason ? ` (skipped: ${skipReason})` : ""}`,
    () => {
      beforeAll(async () => {
        await leg.setup(run, PREFIX);
        // The agent creates its bucket at startup when it is missing, as the Docker agent does.
        a = await agentOf();
      });

      afterAll(async () => {
        await a?.close();
        await leg.teardown(); // AGENT_TEST_KEEP=1 keeps it, for looking around after a failure
      });

      it("created its bucket at startup; observe of an empty namespace and store is an empty list", async () => {
        await expect(s3.send(new CreateBucketCommand({ Bucket: BUCKET }))).rejects.toMatchObject({
          name: expect.stringMatching(/BucketAlready/),
        });
        expect(await observe()).toEqual([]);
      });

      it("auth: 401 without or with a wrong key on every route family; /health and /metrics open", async () => {
        for (const path of ["/api/v1/workspaces", "/api/v1/instances", "/api/v1/volumes", "/openapi.json"]) {
          expect((await a.call("GET", path, undefined, { authorization: "" })).status).toBe(401);
          const wrong = await a.call("GET", path, undefined, { authorization: `Bearer ${a.key}-not` });
          expect(wrong).toEqual({ status: 401, body: { detail: "Invalid API key" } });
        }
        expect((await a.call("POST", `/api/v1/workspaces/${WS}/provision`, undefined, { authorization: "Bearer x" })).status).toBe(401);
        expect(await leg.volumeCount()).toBe(0);
        expect((await a.call("GET", "/health", undefined, { authorization: "" })).status).toBe(200);
        expect((await a.call("GET", "/metrics", undefined, { authorization: "" })).status).toBe(200);
      });

      it("provision creates the volume before answering 201 completed; a repeat is 201 already_exists", async () => {
        const first = await a.call("POST", `/api/v1/workspaces/${WS}/provision`);
        expect(first).toEqual({ status: 201, body: { status: "completed", workspace_id: WS } });
        expect(await leg.volumeLabels(WS)).toMatchObject({
          "codehub.workspace_id": WS,
          "app.kubernetes.io/managed-by": "k8s-sandbox-agent",
        });
        const again = await a.call("POST", `/api/v1/workspaces/${WS}/provision`);
        expect(again).toEqual({ status: 201, body: { status: "already_exists", workspace_id: WS } });
        expect(await record(WS)).toEqual({
          workspace_id: WS,
          container: null,
          volume: { exists: true },
          archive: null,
          restore: null,
          error: null,
        });
      });

      it("start without a volume: 404 VOLUME_NOT_FOUND; nothing is created", async () => {
        const res = await a.call("POST", `/api/v1/workspaces/${WS2}/start`, { image: null });
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe("VOLUME_NOT_FOUND");
        expect(res.body.error.message).toContain(WS2);
        expect(await leg.workloadCount()).toBe(0);
      });

      it("start (image null = the default image) makes a hardened workload as 1000:1000; observe shows running and healthy from a check, not a copy of running", async () => {
        const res = await a.call("POST", `/api/v1/workspaces/${WS}/start`, { image: null });
        expect(res).toEqual({ status: 200, body: { status: "in_progress", workspace_id: WS } });
        const expectedImage = process.env.AGENT_RUNTIME_DEFAULT_IMAGE ?? "ground/workspace-default:test";
        expect(await leg.workload(WS)).toMatchObject({ started: true, image: expectedImage, user: "1000:1000" });
        const seen = await eventually("the workspace to be running and healthy", async () => {
          const r = await record(WS);
          return r?.container?.healthy ? r : undefined;
        });
        expect(seen.container).toEqual({ running: true, healthy: true });
        expect(await leg.liveProcesses(WS)).toBe(1);
      });

      it("start again while running changes nothing (no new rollout or container, even with another image)", async () => {
        const before = await leg.workload(WS);
        const res = await a.call("POST", `/api/v1/workspaces/${WS}/start`, { image: "other/image:2" });
        expect(res.status).toBe(200);
        const after = await leg.workload(WS);
        expect(after?.revision).toBe(before?.revision);
        expect(after?.image).toBe(before?.image);
      });

      it("upstream: where the runtime routes to (Kubernetes: the Service's DNS name; Docker: the port published on loopback); 404 when not routable", async () => {
        const res = await a.call("GET", `/api/v1/workspaces/${WS}/upstream`);
        const { hostname, port } = await leg.expectedUpstream(WS);
        expect(res).toEqual({ status: 200, body: { hostname, port, url: `http://${hostname}:${port}` } });
        expect((await a.call("GET", `/api/v1/workspaces/${WS2}/upstream`)).status).toBe(404);
        // The earlier family answers the same from the same operation.
        expect((await a.call("GET", `/api/v1/instances/${WS}/upstream`)).body).toEqual(res.body);
      });

      it("archive and restore while running: 409 CONTAINER_RUNNING, checked before anything else", async () => {
        const archive = await a.call("POST", `/api/v1/workspaces/${WS}/archive`, { archive_op_id: "a1" });
        expect(archive.status).toBe(409);
        expect(archive.body.error.code).toBe("CONTAINER_RUNNING");
        // The key does not exist: 409 still comes first.
        const restore = await a.call("POST", `/api/v1/workspaces/${WS}/restore`, {
          archive_key: `${PREFIX}${WS}/nope/home.tar.zst`,
          restore_op_id: "r0",
        });
        expect(restore.status).toBe(409);
        expect(restore.body.error.code).toBe("CONTAINER_RUNNING");
        expect(await leg.jobs(WS, "archive")).toEqual([]);
      });

      it("stop stops the workload (Kubernetes: scale to zero; Docker: container removed) and keeps the volume; observe: container null once it is gone; repeats and unknown ids are 200", async () => {
        for (const ws of [WS, WS, WS2]) {
          expect(await a.call("POST", `/api/v1/workspaces/${ws}/stop`)).toEqual({
            status: 200,
            body: { status: "in_progress", workspace_id: ws },
          });
        }
        expect((await leg.workload(WS))?.started ?? false).toBe(false);
        const r = await eventually("the container to be gone", async () => {
          const w = await record(WS);
          return w && w.container === null ? w : undefined;
        });
        expect(r.volume).toEqual({ exists: true });
        expect((await a.call("GET", `/api/v1/workspaces/${WS}/upstream`)).status).toBe(404);
      });

      it("archive: one job per (workspace, op) with the contract's command and env; a repeat gives the same key and no second job", async () => {
        const first = await a.call("POST", `/api/v1/workspaces/${WS}/archive`, { archive_op_id: "a1" });
        const key = `${PREFIX}${WS}/a1/home.tar.zst`;
        expect(first).toEqual({ status: 200, body: { status: "in_progress", workspace_id: WS, archive_key: key } });
        const again = await a.call("POST", `/api/v1/workspaces/${WS}/archive`, { archive_op_id: "a1" });
        expect(again.body).toEqual(first.body);
        const jobs = await leg.jobs(WS, "archive");
        expect(jobs).toHaveLength(1);
        const job = jobs[0];
        expect(job?.labels).toMatchObject({
          "codehub.workspace_id": WS,
          "codehub.job_type": "archive",
          "codehub.archive_op_id": "a1",
        });
        expect(job?.command).toEqual(["/bin/sh", "-c", "/usr/local/bin/archive"]);
        expect(job?.env).toMatchObject({
          ARCHIVE_URL: `s3://${BUCKET}/${key}`,
          AWS_ENDPOINT_URL: process.env.AGENT_S3_INTERNAL_ENDPOINT ?? process.env.AGENT_S3_ENDPOINT,
          WORKSPACE_ID: WS,
          S3_PREFIX: PREFIX,
          S3_BUCKET: BUCKET,
          ARCHIVE_OP_ID: "a1",
        });
        expect(job).toMatchObject({ mountPath: "/data", readOnly: true, volume: `${PREFIX}${WS}-home` });
        // Kubernetes: the keys from a Secret, deadline, TTL, backoff; Docker: the keys in the helper's env, never its command.
        await leg.checkJobCredentialsAndLimits(WS, "archive");
        // Another op is another job.
        await a.call("POST", `/api/v1/workspaces/${WS}/archive`, { archive_op_id: "a2" });
        expect(await leg.jobs(WS, "archive")).toHaveLength(2);
      });

      it("archive without a volume: 404 VOLUME_NOT_FOUND", async () => {
        const res = await a.call("POST", `/api/v1/workspaces/${WS2}/archive`, { archive_op_id: "a1" });
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe("VOLUME_NOT_FOUND");
      });

      it("observe reads archives (tar AND .meta), the restore marker and error markers from the store", async () => {
        const p = `${PREFIX}${WS}`;
        // "half" first and a second older than "old" (LastModified has one-second
        // resolution): gc's retention must see "old" as the newer, whatever the load.
        await put(`${p}/half/home.tar.zst`, "only the tar: not complete");
        await new Promise((r) => setTimeout(r, 1100));
        await put(`${p}/old/home.tar.zst`, "x");
        await put(`${p}/old/home.tar.zst.meta`, "sha256:00");
        await put(
          `${p}/.restore_marker`,
          JSON.stringify({ restore_op_id: "r9", archive_key: `${p}/old/home.tar.zst`, restored_at: "2020-01-01T00:00:00Z" }),
        );
        await put(
          `${p}/bad/.error`,
          JSON.stringify({
            status: "Failed",
            operation: "archive",
            archive_op_id: "bad",
            error_code: 3,
            error_at: new Date(Date.now() + 60_000).toISOString(),
          }),
        );
        const r = await record(WS);
        expect(r?.archive).toEqual({ exists: true, archive_key: `${p}/old/home.tar.zst` });
        expect(r?.restore).toEqual({ restore_op_id: "r9", archive_key: `${p}/old/home.tar.zst` });
        expect(r?.error).toMatchObject({ operation: "archive", error_code: 3, archive_op_id: "bad", restore_op_id: null });
        // A workspace that exists only in the store is listed.
        await put(`${PREFIX}${WS2}/.volume_origin`, "{}");
        expect((await record(WS2))?.volume).toBeNull();
      });

      it("restore: 404 ARCHIVE_NOT_FOUND for a key the store lacks; otherwise it creates the volume before answering and starts one job", async () => {
        const missing = await a.call("POST", `/api/v1/workspaces/${FRESH}/restore`, {
          archive_key: `${PREFIX}${WS}/nope/home.tar.zst`,
          restore_op_id: "r1",
        });
        expect(missing.status).toBe(404);
        expect(missing.body.error.code).toBe("ARCHIVE_NOT_FOUND");
        expect(await leg.volumeLabels(FRESH)).toBeUndefined();
        const key = `${PREFIX}${WS}/old/home.tar.zst`;
        const res = await a.call("POST", `/api/v1/workspaces/${FRESH}/restore`, { archive_key: key, restore_op_id: "r1" });
        expect(res).toEqual({ status: 200, body: { status: "in_progress", workspace_id: FRESH, restore_marker: "r1" } });
        expect(await leg.volumeLabels(FRESH)).toMatchObject({ "codehub.workspace_id": FRESH });
        const jobs = await leg.jobs(FRESH, "restore");
        expect(jobs).toHaveLength(1);
        expect(jobs[0]?.command).toEqual(["/bin/sh", "-c", "/usr/local/bin/restore"]);
        expect(jobs[0]?.env).toMatchObject({ RESTORE_OP_ID: "r1", RESTORE_ARCHIVE_KEY: key, ARCHIVE_URL: `s3://${BUCKET}/${key}` });
        expect(jobs[0]).toMatchObject({ mountPath: "/data", readOnly: false });
        // The same op again (its job finished or runs): no second job.
        expect(
          (await a.call("POST", `/api/v1/workspaces/${FRESH}/restore`, { archive_key: key, restore_op_id: "r1" })).body.restore_marker,
        ).toBe("r1");
        expect(await leg.jobs(FRESH, "restore")).toHaveLength(1);
      });

      it("gc keeps the newest N per workspace and the protected directories; repeated, it deletes nothing more", async () => {
        const g = `${PREFIX}${WS2}`;
        for (const op of ["g1", "g2", "g3", "g4", "g5"]) {
          await put(`${g}/${op}/home.tar.zst`, op);
          await put(`${g}/${op}/home.tar.zst.meta`, "sha256:00");
          await new Promise((r) => setTimeout(r, 1100)); // LastModified has one-second resolution
        }
        await put(`${g}/.restore_marker`, JSON.stringify({ restore_op_id: "x", archive_key: `${g}/g1/home.tar.zst` }));
        const res = await a.call("POST", "/api/v1/workspaces/gc", { archive_keys: [`${g}/g1/home.tar.zst`], protected_workspaces: [] });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ deleted_count: 2, deleted_keys: [`${g}/g2/home.tar.zst`, `${g}/g2/home.tar.zst.meta`].sort() });
        const left = await keys(g);
        expect(left).toContain(`${g}/g1/home.tar.zst`);
        expect(left).toContain(`${g}/.restore_marker`);
        expect(left.filter((k) => k.endsWith("home.tar.zst"))).toHaveLength(4);
        expect(
          (await a.call("POST", "/api/v1/workspaces/gc", { archive_keys: [`${g}/g1/home.tar.zst`], protected_workspaces: [] })).body,
        ).toEqual({
          deleted_count: 0,
          deleted_keys: [],
        });
        // retention_count 1 with a protected pair
        const two = await a.call("POST", "/api/v1/workspaces/gc", {
          archive_keys: [],
          protected_workspaces: [[WS2, "g3"]],
          retention_count: 1,
        });
        // WS has two archives too ("old" complete and newer, "half" without .meta and a second older).
        expect(two.body.deleted_keys).toEqual([
          `${PREFIX}${WS}/half/home.tar.zst`,
          `${g}/g1/home.tar.zst`,
          `${g}/g1/home.tar.zst.meta`,
          `${g}/g4/home.tar.zst`,
          `${g}/g4/home.tar.zst.meta`,
        ]);
      });

      it("delete-archive deletes exactly that object: deleted true, then false", async () => {
        const k = `${PREFIX}${WS2}/g5/home.tar.zst`;
        const path = `/api/v1/workspaces/archives?archive_key=${encodeURIComponent(k)}`;
        expect(await a.call("DELETE", path)).toEqual({ status: 200, body: { deleted: true, archive_key: k } });
        expect(await a.call("DELETE", path)).toEqual({ status: 200, body: { deleted: false, archive_key: k } });
        expect(await keys(`${PREFIX}${WS2}/g5/`)).toEqual([`${k}.meta`]);
      });

      it("a restarted agent answers observe the same and does nothing twice", async () => {
        const before = await observe();
        await a.close();
        a = await agentOf({ key: a.key });
        expect(await observe()).toEqual(before);
        const again = await a.call("POST", `/api/v1/workspaces/${WS}/archive`, { archive_op_id: "a1" });
        expect(again.body.archive_key).toBe(`${PREFIX}${WS}/a1/home.tar.zst`);
        expect(await leg.jobs(WS, "archive")).toHaveLength(2);
      });

      it("the earlier route family is served by the same operations", async () => {
        const ws = "e0e0e0e0-1111-4222-8333-444455556666";
        expect(await a.call("GET", `/api/v1/volumes/${ws}/exists`)).toEqual({ status: 200, body: { exists: false } });
        expect(await a.call("POST", `/api/v1/volumes/${ws}`)).toEqual({ status: 201, body: { status: "created", workspace_id: ws } });
        expect(await a.call("POST", `/api/v1/volumes/${ws}`)).toEqual({
          status: 201,
          body: { status: "already_exists", workspace_id: ws },
        });
        expect((await a.call("GET", `/api/v1/volumes/${ws}/exists`)).body).toEqual({ exists: true });
        expect((await a.call("GET", "/api/v1/volumes")).body.volumes).toContainEqual({ workspace_id: ws, exists: true });
        expect(await a.call("POST", `/api/v1/instances/${ws}/start`, { image_ref: null })).toEqual({
          status: 200,
          body: { status: "started", workspace_id: ws },
        });
        const status = await eventually("the instance to be healthy", async () => {
          const s = await a.call("GET", `/api/v1/instances/${ws}/status`);
          return s.body.healthy ? s.body : undefined;
        });
        expect(status).toEqual({ exists: true, running: true, healthy: true, reason: "Healthy", message: "" });
        expect((await a.call("GET", "/api/v1/instances")).body.instances).toContainEqual({
          workspace_id: ws,
          running: true,
          healthy: true,
        });
        expect(await a.call("DELETE", `/api/v1/instances/${ws}`)).toEqual({ status: 200, body: { status: "deleted", workspace_id: ws } });
        expect((await leg.workload(ws))?.started ?? false).toBe(false);
        await eventually(
          "the instance to be gone",
          async () => (await a.call("GET", `/api/v1/instances/${ws}/status`)).body.exists === false,
        );
        // The blocking job call of the earlier API: waits for the job (kwok completes it; Docker's helper exits 0) and answers its exit code.
        const job = await a.call("POST", "/api/v1/jobs/archive", { workspace_id: ws, op_id: "old1" });
        expect(job.status).toBe(200);
        expect(job.body.exit_code).toBe(0);
        expect(await leg.jobs(ws, "archive")).toHaveLength(1);
        const gc = await a.call("POST", "/api/v1/storage/gc", { protected: [{ workspace_id: WS2, op_id: "g3" }] });
        expect(gc).toEqual({ status: 200, body: { deleted_count: 0, deleted_keys: [] } });
        expect(await a.call("DELETE", `/api/v1/volumes/${ws}`)).toEqual({ status: 200, body: { status: "deleted", workspace_id: ws } });
        await eventually("the volume to be gone", async () => (await a.call("GET", `/api/v1/volumes/${ws}/exists`)).body.exists === false);
      });

      it("delete removes the workload and the volume (Kubernetes: Deployment, Service, PVC); repeats and unknown ids are 200; observe then shows only what the store holds", async () => {
        for (const ws of [WS, WS, "ffffffff-0000-4000-8000-000000000000"]) {
          expect(await a.call("DELETE", `/api/v1/workspaces/${ws}`)).toEqual({
            status: 200,
            body: { status: "in_progress", workspace_id: ws },
          });
        }
        await eventually("the workspace's objects to be gone", async () => (await leg.leftovers(WS)).length === 0);
        const r = await eventually("observe to show no volume", async () => {
          const w = await record(WS);
          return w && w.volume === null ? w : undefined;
        });
        expect(r.container).toBeNull();
        expect(r.archive).toEqual({ exists: true, archive_key: `${PREFIX}${WS}/old/home.tar.zst` });
        expect(await leg.jobs(WS, "archive")).toEqual([]);
        // After the volume is gone, archive repeats get 404 (the control plane's archive-then-delete).
        expect((await a.call("POST", `/api/v1/workspaces/${WS}/archive`, { archive_op_id: "a1" })).status).toBe(404);
        // ... and the restore that follows makes a fresh volume.
        const restored = await a.call("POST", `/api/v1/workspaces/${WS}/restore`, {
          archive_key: `${PREFIX}${WS}/old/home.tar.zst`,
          restore_op_id: "back",
        });
        expect(restored.status).toBe(200);
        // A fresh volume, not one being deleted.
        expect(await leg.volumeLabels(WS)).toMatchObject({ "codehub.workspace_id": WS });
      });

      it("metrics count requests by route and code, workspaces by state and jobs by type and result", async () => {
        const text = (await a.call("GET", "/metrics")).body as string;
        expect(text).toMatch(
          /agent_http_requests_total\{method="POST",route="\/api\/v1\/workspaces\/:workspace_id\/archive",code="404"\} [1-9]/,
        );
        expect(text).toMatch(/agent_workspaces\{state="archived"\} [1-9]/);
        expect(text).toMatch(/agent_jobs\{type="restore",result="(succeeded|running)"\} [1-9]/);
        // An archive job that finished is counted as succeeded (Docker removed the earlier ones with their volumes).
        expect((await a.call("POST", `/api/v1/workspaces/${FRESH}/archive`, { archive_op_id: "m1" })).status).toBe(200);
        await eventually("the finished archive job to be counted", async () =>
          /agent_jobs\{type="archive",result="succeeded"\} [1-9]/.test((await a.call("GET", "/metrics")).body as string),
        );
      });

      it("a store that cannot be reached: the agent starts and says so; observe, restore and gc answer 500 and change nothing", async () => {
        const dead = await agentOf({ env: { AGENT_S3_ENDPOINT: "http://127.0.0.1:1" } });
        try {
          expect(dead.logger.lines.join("\n")).toMatch(
            /startup: S3 store http:\/\/127\.0\.0\.1:1, bucket agent-test-\w+: could not check the bucket/,
          );
          const before = await keys();
          expect(await dead.call("GET", "/api/v1/workspaces")).toEqual({ status: 500, body: { detail: "Internal server error" } });
          expect(dead.logger.lines.join("\n")).toMatch(/could not list at\w+-.*check AGENT_S3_ENDPOINT/);
          const ws = "deadbeef-0000-4000-8000-000000000001";
          const restore = await dead.call("POST", `/api/v1/workspaces/${ws}/restore`, {
            archive_key: `${PREFIX}${WS}/old/home.tar.zst`,
            restore_op_id: "r",
          });
          expect(restore.status).toBe(500);
          expect(await leg.volumeLabels(ws)).toBeUndefined();
          expect(
            (await dead.call("POST", "/api/v1/workspaces/gc", { archive_keys: [], protected_workspaces: [], retention_count: 0 })).status,
          ).toBe(500);
          expect(await keys()).toEqual(before);
          // Routes that need only the runtime still work.
          expect((await dead.call("GET", `/api/v1/volumes/${ws}/exists`)).body).toEqual({ exists: false });
        } finally {
          await dead.close();
        }
      });

      it("/openapi.json documents every served route and serves every documented one", async () => {
        const doc = (await a.call("GET", "/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
        const documented = Object.entries(doc.paths)
          .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
          .sort();
        const served = servedRoutes(a.agent.app)
          .map((r) => `${r.method} ${r.url.replace(/:([a-z_]+)/g, "{$1}")}`)
          .sort();
        expect(served).toEqual(documented);
        expect(served).toHaveLength(25);
      });
    },
  );

  describe.skipIf(skipReason !== undefined)(
    `agent jobs that keep running (Kubernetes: pods stay Pending; Docker: the helper sleeps), ${leg.name} runtime`,
    () => {
      let p: TestAgent;
      let SLOW_PREFIX = PREFIX;
      beforeAll(async () => {
        await leg.setupSlow(run);
        SLOW_PREFIX = leg.slowPrefix();
        p = await startTestAgent({
          namespace: "unused",
          prefix: SLOW_PREFIX,
          bucket: BUCKET,
          env: { ...leg.slowAgentEnv(), ...(await leg.slowJobsEnv()) },
        });
      });
      afterAll(async () => {
        await p?.close();
        await leg.teardownSlow();
      });

      it("one restore job per workspace: a second op while one runs starts nothing and echoes its own op id", async () => {
        const ws = "abcabcab-0000-4000-8000-000000000001";
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${SLOW_PREFIX}${ws}/src/home.tar.zst`, Body: "x" }));
        const key = `${SLOW_PREFIX}${ws}/src/home.tar.zst`;
        expect(
          (await p.call("POST", `/api/v1/workspaces/${ws}/restore`, { archive_key: key, restore_op_id: "r1" })).body.restore_marker,
        ).toBe("r1");
        const second = await p.call("POST", `/api/v1/workspaces/${ws}/restore`, { archive_key: key, restore_op_id: "r2" });
        expect(second).toEqual({ status: 200, body: { status: "in_progress", workspace_id: ws, restore_marker: "r2" } });
        const jobs = await leg.jobs(ws, "restore", true);
        expect(jobs.map((j) => j.labels["codehub.restore_op_id"])).toEqual(["r1"]);
      });

      it("a job that fails without writing a marker (deadline) shows in observe's error; a repeat of its op replaces it", async () => {
        const ws = "abcabcab-0000-4000-8000-000000000002";
        expect((await p.call("POST", `/api/v1/workspaces/${ws}/provision`)).status).toBe(201);
        expect((await p.call("POST", `/api/v1/workspaces/${ws}/archive`, { archive_op_id: "slow" })).status).toBe(200);
        const [first] = await leg.jobs(ws, "archive", true);
        const error = await eventually(
          "the archive job to fail on its deadline",
          async () => (await record(ws, p))?.error ?? undefined,
          120_000,
          1_000,
        );
        expect(error).toMatchObject({ operation: "archive", archive_op_id: "slow", restore_op_id: null, error_code: 1 });
        expect((await p.call("POST", `/api/v1/workspaces/${ws}/archive`, { archive_op_id: "slow" })).status).toBe(200);
        const [second] = await leg.jobs(ws, "archive", true);
        expect(second?.id).not.toBe(first?.id);
        expect(second?.failed).toBe(false);
      });
    },
  );
}
