// npm run bench:probes: how soon a new sandbox is seen ready on the real node
// with the chart's probe pace (startup probes every 2 s, readiness every
// 10 s) against one pace for both (10 s, as the chart had it before
// 2026-11-26: then only Odoo and PostgreSQL had startup probes, PostgreSQL's
// every 5 s). Raw `helm upgrade --install --wait` with the same images and
// values on the same node, the two alternating so drift hits both alike.
// Medians and their ratio are reported, never asserted.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { sandboxIdentity } from "../src/domain/identity.js";
import { sandboxValues } from "../src/domain/values.js";
import { envAssignments, up } from "../test/ground/ground.js";
import { median } from "./stats.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHART = "charts/odoo-dev-sandbox";
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const state = await up();
Object.assign(process.env, envAssignments(state));
const realValues = process.env.GROUND_REAL_NODE_VALUES;
if (process.env.GROUND_REAL_NODE !== "1" || !realValues) {
  log("no real node on this ground: nothing to measure");
  process.exit(0);
}
const env = { KUBECONFIG: state.kubeconfig };
const helm = process.env.HELM as string;
const kubectl = process.env.KUBECTL as string;

// The ground's values for the real node (images, scheduling, the ingress
// controller) without its probe settings: the chart's own pace is measured.
const ground = parse(readFileSync(realValues, "utf8")) as { probes?: unknown; odoo?: { probes?: unknown } };
delete ground.probes;
if (ground.odoo) delete ground.odoo.probes;
const dir = join(tmpdir(), "bench-probe-pace");
mkdirSync(dir, { recursive: true });
const base = join(dir, "ground.yaml");
writeFileSync(base, stringify(ground));
const variants = {
  chart: {},
  onePace: { probes: { periodSeconds: 10, startupPeriodSeconds: 10 } },
} as const;

const times: Record<keyof typeof variants, number[]> = { chart: [], onePace: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of Object.keys(variants) as (keyof typeof variants)[]) {
    const namespace = `bench-probes-${variant.toLowerCase()}-${round}`;
    const identity = sandboxIdentity({ branch: `bench/probes-${variant}-${round}`, prefix: "bench-", baseDomain: "bench.example.test" });
    const own = join(dir, `${namespace}.yaml`);
    writeFileSync(
      own,
      stringify({ ...sandboxValues({ identity: { ...identity, namespace }, mode: "ci", ttl: 3_600_000 }), ...variants[variant] }),
    );
    const start = performance.now();
    await execa(
      helm,
      ["upgrade", "--install", "sandbox", CHART, "--namespace", namespace, "--create-namespace", "--wait", "--timeout", "5m"].concat(
        ["values-ci.yaml", base, own].flatMap((file) => ["--values", file.startsWith("/") ? file : join(CHART, file)]),
      ),
      { env },
    );
    times[variant].push(performance.now() - start);
    log(`round ${round + 1}/${ROUNDS} ${variant}: ready in ${(times[variant].at(-1) as number).toFixed(0)} ms`);
    await execa(helm, ["uninstall", "sandbox", "-n", namespace, "--wait"], { env });
    await execa(kubectl, ["delete", "namespace", namespace, "--wait=true", "--timeout=120s"], { env });
  }
}

const results = {
  date: new Date().toISOString(),
  rounds: ROUNDS,
  chartPaceMedianMs: median(times.chart),
  onePaceMedianMs: median(times.onePace),
  ratio: median(times.chart) / median(times.onePace),
  chartPace: times.chart,
  onePace: times.onePace,
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/probe-pace.json", `${JSON.stringify(results, null, 2)}\n`);
log(
  `ready after install: chart's pace ${(results.chartPaceMedianMs / 1000).toFixed(1)} s, one 10 s pace ${(results.onePaceMedianMs / 1000).toFixed(1)} s (${results.ratio.toFixed(2)}x the time)`,
);
