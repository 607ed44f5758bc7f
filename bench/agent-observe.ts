// Observe latency of the workspace agent (GET /api/v1/workspaces) at 100 and
// 1,000 workspaces on the ground's kwok node, two agents side by side on the
// same objects: one lists Deployments, Pods, PVCs and Jobs per request
// (AGENT_KUBERNETES_OBSERVE_CACHE=list), one reads its informers' cache
// (informer); both list the store per request. Requests alternate between
// them. Reports p50/p99; asserts nothing. Needs the ground and its S3
// server (AGENT_S3_*):
//   eval "$(npm run -s ground -- env)"; node --import tsx bench/agent-observe.ts
// kwok's node takes at most 110 pods: beyond that, Deployments exist with
// pending pods, which observe reads all the same.
import { randomBytes } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { execa } from "execa";
import { MemoryLogger } from "../src/adapters/logger.js";
import { loadConfig } from "../src/agent/config.js";
import { startAgent } from "../src/agent/start.js";

const SIZES = (process.env.BENCH_AGENT_SIZES ?? "100,1000").split(",").map(Number);
const REQUESTS = Number(process.env.BENCH_AGENT_REQUESTS ?? 40);
const run = randomBytes(3).toString("hex");
const namespace = `bench-agent-${run}`;
const bucket = `bench-agent-${run}`;
const prefix = `ba${run}-`;
const kubectl = (args: string[]) => execa(process.env.KUBECTL ?? "kubectl", args, { env: { KUBECONFIG: process.env.KUBECONFIG } });

await kubectl(["create", "namespace", namespace]);
const key = randomBytes(16).toString("hex");
const configFor = (mode: string) =>
  loadConfig(
    {
      ...process.env,
      AGENT_SERVER_API_KEY: key,
      AGENT_S3_BUCKET: bucket,
      AGENT_KUBERNETES_NAMESPACE: namespace,
      AGENT_RUNTIME_RESOURCE_PREFIX: prefix,
      AGENT_KUBERNETES_VOLUME_SIZE: "16Mi",
      AGENT_KUBERNETES_OBSERVE_CACHE: mode,
    },
    { host: "127.0.0.1", port: 0 },
  );
const config = configFor("list");
const agent = await startAgent(config, new MemoryLogger(), { logLevel: "silent" });
const cached = await startAgent(configFor("informer"), new MemoryLogger(), { logLevel: "silent" });
const s3 = new S3Client({
  endpoint: config.s3.endpoint,
  region: config.s3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: config.s3.accessKey, secretAccessKey: config.s3.secretKey },
});
const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
const post = async (path: string, body?: unknown) => {
  const res = await fetch(`${agent.url}${path}`, { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
};
const pool = async (items: number[], size: number, fn: (i: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await fn(items[next++] as number);
    }),
  );
};
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

let made = 0;
try {
  for (const size of SIZES) {
    const fresh = Array.from({ length: size - made }, (_, i) => made + i);
    const t0 = Date.now();
    await pool(fresh, 10, async (i) => {
      const ws = `bench-${String(i).padStart(5, "0")}`;
      await post(`/api/v1/workspaces/${ws}/provision`);
      await post(`/api/v1/workspaces/${ws}/start`, { image: null });
      // One complete archive each, and a restore marker for every other one: observe reads those too.
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${ws}/a1/home.tar.zst`, Body: "x" }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${ws}/a1/home.tar.zst.meta`, Body: "sha256:0" }));
      if (i % 2 === 0)
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${prefix}${ws}/.restore_marker`,
            Body: JSON.stringify({ restore_op_id: "r", archive_key: `${prefix}${ws}/a1/home.tar.zst` }),
          }),
        );
    });
    made = size;
    const setup = (Date.now() - t0) / 1000;
    const times: Record<string, number[]> = { list: [], informer: [] };
    const listed: Record<string, number> = {};
    for (let r = 0; r < REQUESTS; r++) {
      for (const [mode, url] of [
        ["list", agent.url],
        ["informer", cached.url],
      ] as const) {
        const start = performance.now();
        const res = await fetch(`${url}/api/v1/workspaces`, { headers });
        const body = (await res.json()) as { workspaces: unknown[] };
        times[mode]?.push(performance.now() - start);
        listed[mode] = body.workspaces.length;
      }
    }
    for (const mode of ["list", "informer"]) {
      const xs = times[mode] ?? [];
      console.log(
        `observe at ${size} workspaces, ${mode} (${listed[mode]} listed; setup ${setup.toFixed(0)} s): p50 ${percentile(xs, 50).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms over ${REQUESTS} requests`,
      );
    }
  }
} finally {
  await agent.close();
  await cached.close();
  await kubectl(["delete", "namespace", namespace, "--wait=false"]);
  const { ListObjectsV2Command, DeleteObjectsCommand, DeleteBucketCommand } = await import("@aws-sdk/client-s3");
  for (;;) {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key }));
    if (keys.length === 0) break;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  s3.destroy();
}
