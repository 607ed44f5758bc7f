// The controller side of bench/controller-ingest.ts, in its own process so
// the sender's CPU and memory are not counted as the controller's: two
// replicas on loopback sharing one delivery ledger on the ground. Prints
// {"urls": [...]} once listening; on a line "done" on stdin waits until both
// queues are empty and writes what reached the processor to BENCH_REPORT.
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { startController } from "../src/controller/controller.js";
import { tokenAccess } from "../src/controller/github-access.js";
import { JsonLogger } from "../src/controller/logger.js";
import type { Delivery } from "../src/controller/worker.js";

const secret = process.env.BENCH_SECRET as string;
const namespace = process.env.BENCH_NAMESPACE as string;

// Records each delivery handed to it instead of deploying (a deploy takes seconds; bench/run.ts measures those).
const processedBy = new Map<string, number>();
const recorder = async (delivery: Delivery) => {
  processedBy.set(delivery.id, (processedBy.get(delivery.id) ?? 0) + 1);
  return { result: "processed" as const, operation: "bench" };
};
// The superseded ids, from the worker's own log line about each.
const superseded: string[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    const m = /delivery ([0-9a-f-]{36}) superseded by/.exec(String(chunk));
    if (m?.[1]) superseded.push(m[1]);
    done();
  },
});
// How long the replicas' event loop was blocked: an answer waits at least that long.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const replicas = await Promise.all(
  [0, 1].map(() =>
    startController({
      port: 0,
      host: "127.0.0.1",
      webhookSecret: secret,
      access: tokenAccess({ token: "unused", baseUrl: "http://127.0.0.1:9" }),
      logger: JsonLogger.create({ destination: sink }),
      namespace,
      prefix: "bench-ctl-",
      process: recorder,
      // The ingestion alone: no leader, no reconcile against a GitHub that is not there.
      reconcileIntervalMs: 0,
      // BENCH_CLAIM_AHEAD=0 claims only what is about to run (the comparison in docs/benchmarks.md).
      claimAhead: process.env.BENCH_CLAIM_AHEAD === undefined ? undefined : Number(process.env.BENCH_CLAIM_AHEAD),
    }),
  ),
);
process.stdout.write(`${JSON.stringify({ urls: replicas.map((r) => r.url) })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== "done") continue;
  await Promise.all(replicas.map((r) => r.worker.idle()));
  const counts: Record<string, number> = {};
  const server = new Map<number, number>();
  let serverCount = 0;
  for (const r of replicas) {
    for (const v of (await r.metrics.deliveries.get()).values)
      counts[v.labels.result as string] = (counts[v.labels.result as string] ?? 0) + v.value;
    for (const v of (await r.metrics.ackSeconds.get()).values) {
      if (v.metricName?.endsWith("_bucket")) {
        const le = v.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(v.labels.le);
        server.set(le, (server.get(le) ?? 0) + v.value);
      } else if (v.metricName?.endsWith("_count")) serverCount += v.value;
    }
  }
  const memory = process.memoryUsage();
  // To a file: a pipe is written asynchronously, and an exit right after would cut a long line.
  writeFileSync(
    process.env.BENCH_REPORT as string,
    `${JSON.stringify({
      processed: Object.fromEntries(processedBy),
      superseded,
      counts,
      serverAckBuckets: [...server].sort((a, b) => a[0] - b[0]),
      serverAckCount: serverCount,
      ledgerWrites: replicas.reduce((sum, r) => sum + r.ledger.writes, 0),
      memoryMiB: { rss: memory.rss / 2 ** 20, heapUsed: memory.heapUsed / 2 ** 20 },
      eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      cpuSeconds: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    })}\n`,
  );
  process.stdout.write("reported\n");
  for (const r of replicas) await r.close();
  process.exit(0);
}
