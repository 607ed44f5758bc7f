// The controller side of bench/controller-ingest.ts, in its own process so
// the sender's CPU and memory are not counted as the controller's: two
// replicas on loopback sharing one delivery ledger on the ground. Prints
// {"urls": [...]} once listening; on a line "done" on stdin waits until both
// queues are empty and prints what reached the processor.
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
  process.stdout.write(
    `${JSON.stringify({
      processed: Object.fromEntries(processedBy),
      superseded,
      counts,
      serverAckBuckets: [...server].sort((a, b) => a[0] - b[0]),
      serverAckCount: serverCount,
      ledgerWrites: replicas.reduce((sum, r) => sum + r.ledger.writes, 0),
      memoryMiB: { rss: memory.rss / 2 ** 20, heapUsed: memory.heapUsed / 2 ** 20 },
    })}\n`,
  );
  for (const r of replicas) await r.close();
  process.exit(0);
}
