// npm run bench:controller: the controller's ingestion under load. Two
// controller replicas (bench/controller-replicas.ts, one process of their
// own, on loopback) behind a round-robin sender receive 10,000 signed
// deliveries at 200/s: a mix of events from
// @octokit/webhooks-examples, 5% redeliveries of earlier ids (half of them
// reach the other replica, where only the Kubernetes ledger can tell), 1%
// bad signatures. What runs for real: HTTP, signature checks, parsing,
// planning, the queue (supersede, per-sandbox serialization, limit 2), and
// the delivery ledger on the ground's API server. What does not: the
// operations themselves. The processor records each delivery it is given
// instead of deploying (a deploy takes seconds; see bench/run.ts), so
// "processed" counts deliveries that reached the shared handler's door.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request as httpRequest } from "node:http";
import { createInterface } from "node:readline";
import { execa } from "execa";
import {
  loadWebhookExample,
  webhookHeaders,
  withBranch,
  withComment,
  withPullRequest,
  withRepository,
} from "../test/support/github/examples.js";
import { envAssignments, up } from "../test/ground/ground.js";

const TOTAL = Number(process.env.BENCH_DELIVERIES ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const REPO = "acme/shop";
const SECRET = randomBytes(24).toString("hex");
const NS = `bench-ctl-${randomBytes(3).toString("hex")}`;
const REPORT = join(tmpdir(), `${NS}-report.json`);

const loadAtStart = (await import("node:os")).loadavg()[0];
const state = await up();
Object.assign(process.env, envAssignments(state));
const kubectl = process.env.KUBECTL as string;
const env = { KUBECONFIG: state.kubeconfig };
await execa(kubectl, ["create", "namespace", NS], { env });
await execa(
  kubectl,
  [
    "create",
    "configmap",
    "k8s-sandbox-repositories",
    "-n",
    NS,
    `--from-literal=repositories.yaml=${REPO}:\n  baseDomain: bench.example.test\n`,
  ],
  { env },
);

// BENCH_CPU_PROF=DIR writes a CPU profile of the controller side there (node --cpu-prof).
const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROF] : [];
const child = execa("node", [...profile, "--import", "tsx", "bench/controller-replicas.ts"], {
  env: { ...process.env, BENCH_SECRET: SECRET, BENCH_NAMESPACE: NS, BENCH_REPORT: REPORT },
  stdin: "pipe",
  buffer: false,
  reject: false,
});
const childLines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
const nextLine = async () => JSON.parse(((await childLines.next()).value as string) ?? "null");
child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
const { urls } = (await nextLine()) as { urls: string[] };

// Which delivery is sent when; each is signed as it is sent.
type Planned = { id: string; n: number; kind: "new" | "redelivery" | "forged" };
const examples = {
  push: loadWebhookExample("push"),
  sync: loadWebhookExample("pull_request.synchronize"),
  closed: loadWebhookExample("pull_request.closed"),
  comment: loadWebhookExample("issue_comment.created"),
  checkRun: loadWebhookExample("check_run"),
  star: loadWebhookExample("star"),
  remove: loadWebhookExample("delete"),
};
function payloadFor(n: number): [string, unknown] {
  const slot = n % 20;
  const branch = `feature/b${n % 30}`;
  const sha = randomBytes(20).toString("hex");
  if (slot < 5) return ["push", Object.assign(withRepository(withBranch(structuredClone(examples.push), branch), REPO), { after: sha })];
  if (slot < 8)
    return [
      "pull_request",
      withRepository(
        withPullRequest(structuredClone(examples.sync), { number: 100 + (n % 30), headRef: branch, headSha: sha, fork: false }),
        REPO,
      ),
    ];
  if (slot < 9)
    return [
      "pull_request",
      withRepository(
        withPullRequest(structuredClone(examples.closed), { number: 100 + (n % 30), headRef: branch, fork: false, state: "closed" }),
        REPO,
      ),
    ];
  if (slot < 11)
    return [
      "issue_comment",
      withRepository(
        withComment(withPullRequest(structuredClone(examples.comment), { number: 100 + (n % 30) }), { body: "/sandbox status" }),
        REPO,
      ),
    ];
  if (slot < 15)
    return [
      "issue_comment",
      withRepository(
        withComment(withPullRequest(structuredClone(examples.comment), { number: 100 + (n % 30) }), { body: "looks good" }),
        REPO,
      ),
    ];
  if (slot < 17) return ["check_run", withRepository(structuredClone(examples.checkRun), REPO)];
  if (slot < 19) return ["star", withRepository(structuredClone(examples.star), REPO)];
  return ["delete", withRepository(withBranch(structuredClone(examples.remove), branch), REPO)];
}
const planned: Planned[] = [];
const originals: Planned[] = [];
for (let n = 0; n < TOTAL; n++) {
  if (n % 100 === 37) planned.push({ id: randomUUID(), n, kind: "forged" });
  else if (n % 20 === 11 && originals.length > 10) {
    // A redelivery of a recent delivery: GitHub redelivers with the same id and the same body.
    planned.push({ ...(originals[originals.length - 1 - (n % 10)] as Planned), kind: "redelivery" });
  } else {
    const delivery: Planned = { id: randomUUID(), n, kind: "new" };
    planned.push(delivery);
    originals.push(delivery);
  }
}
/**
 * Bodies come from a pool built before the clock starts (600 payloads: 30
 * branches and PRs per kind of event), so the sender spends its CPU on
 * sending; a redelivery is byte for byte its original (same n, same body).
 */
const POOL = 600;
const pool = Array.from({ length: POOL }, (_, n) => {
  const [event, payload] = payloadFor(n);
  return { event, body: JSON.stringify(payload) };
});
function request(delivery: Planned): { headers: Record<string, string>; body: string } {
  const built = pool[delivery.n % POOL] as { event: string; body: string };
  const headers = webhookHeaders(built.event, built.body, delivery.kind === "forged" ? "not-the-secret-0123456789abcdef" : SECRET);
  headers["x-github-delivery"] = delivery.id;
  return { headers, body: built.body };
}

// node:http with keep-alive: a sender lighter than fetch, so the numbers are the controller's more than the sender's.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
function postOnce(url: string, sent: { headers: Record<string, string>; body: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers: sent.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(sent.body);
  });
}

// Send at RATE per second, round robin over the replicas; every answer timed.
const latencies: number[] = [];
const answers = new Map<string, string[]>();
let refused = 0;
let accepted = 0;
let errors = 0;
const started = performance.now();
const inflight: Promise<void>[] = [];
for (let i = 0; i < planned.length; i++) {
  const due = started + (i * 1000) / RATE;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
  const delivery = planned[i] as Planned;
  const target = urls[i % urls.length] as string;
  const sent = request(delivery);
  inflight.push(
    (async () => {
      const t = performance.now();
      try {
        const response = await postOnce(`${target}/api/github/webhooks`, sent);
        const json = JSON.parse(response.body) as { result?: string };
        latencies.push(performance.now() - t);
        if (response.status === 202) {
          accepted++;
          const seen = answers.get(delivery.id) ?? [];
          seen.push(json.result ?? "?");
          answers.set(delivery.id, seen);
        } else refused++;
      } catch {
        errors++;
      }
    })(),
  );
}
await Promise.all(inflight);
const sendSeconds = (performance.now() - started) / 1000;
child.stdin?.write("done\n");
await childLines.next();
const report = JSON.parse(readFileSync(REPORT, "utf8")) as {
  processed: Record<string, number>;
  superseded: string[];
  counts: Record<string, number>;
  serverAckBuckets: [number, number][];
  serverAckCount: number;
  ledgerWrites: number;
  memoryMiB: { rss: number; heapUsed: number };
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  cpuSeconds: number;
};
await child;
const drainSeconds = (performance.now() - started) / 1000;

// Accounting: every delivery acknowledged as queued must have reached the processor once, or been superseded.
const superseded = new Set(report.superseded);
let lost = 0;
let doubled = 0;
for (const [id, seen] of answers) {
  const runs = report.processed[id] ?? 0;
  if (runs > 1) doubled++;
  if (seen.includes("queued") && runs === 0 && !superseded.has(id)) lost++;
}
const serverBound = (p: number) => {
  for (const [le, count] of report.serverAckBuckets) if (count >= (p / 100) * report.serverAckCount) return le * 1000;
  return Number.POSITIVE_INFINITY;
};
const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const results = {
  date: new Date().toISOString(),
  deliveries: TOTAL,
  ratePerSecond: RATE,
  replicas: urls.length,
  sent: {
    new: planned.filter((p) => p.kind === "new").length,
    redeliveries: planned.filter((p) => p.kind === "redelivery").length,
    forged: planned.filter((p) => p.kind === "forged").length,
  },
  ackMs: { p50: pct(50), p99: pct(99), max: sorted.at(-1) },
  serverAckMsAtMost: {
    p50: serverBound(50),
    p99: serverBound(99),
    under20ms: (report.serverAckBuckets.find(([le]) => le === 0.02)?.[1] ?? 0) / report.serverAckCount,
  },
  loadAverageAtStart: loadAtStart,
  accepted,
  refused,
  transportErrors: errors,
  processed: Object.keys(report.processed).length,
  deduplicated: report.counts.duplicate ?? 0,
  ignored: report.counts.ignored ?? 0,
  supersededDeliveries: superseded.size,
  lost,
  doubled,
  ledgerWrites: report.ledgerWrites,
  sendSeconds,
  drainSeconds,
  controllerMemoryAtEndMiB: report.memoryMiB,
  controllerEventLoopDelayMs: report.eventLoopDelayMs,
  controllerCpuSeconds: report.cpuSeconds,
};
await execa(kubectl, ["delete", "namespace", NS, "--wait=false"], { env });
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/controller-ingest.json", `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
