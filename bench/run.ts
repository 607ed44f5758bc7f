// npm run bench: the engine against the obvious alternatives, side by side in
// one run on the test ground, reporting medians and ratios (never asserted).
//   (1) deploy through the engine vs raw `helm upgrade --install --wait --create-namespace`
//   (2) sweep of 200 sandboxes, half expired, vs a shell loop over kubectl
//   (3) a no-op redeploy
//   (4) on the real node (real PostgreSQL, the Odoo stand-in's install, nginx):
//       deploy through the engine vs raw helm --wait, same values, same node
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { MemoryLogger } from "../src/adapters/logger.js";
import { sandboxIdentity } from "../src/domain/identity.js";
import { sandboxValues } from "../src/domain/values.js";
import { deploy } from "../src/operations/deploy.js";
import { destroy } from "../src/operations/destroy.js";
import type { EngineSettings } from "../src/operations/engine.js";
import { sweep } from "../src/operations/sweep.js";
import { createEngine } from "../src/wiring/create-engine.js";
import { groundSettings } from "../test/support/engine.js";
import { envAssignments, up } from "../test/ground/ground.js";
import { median } from "./stats.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SWEEP_COUNT = Number(process.env.BENCH_SWEEP ?? 200);
const PREFIX = "bench-";
const CHART = "charts/odoo-dev-sandbox";

const state = await up();
Object.assign(process.env, envAssignments(state));
const env = { KUBECONFIG: state.kubeconfig };
const helm = process.env.HELM as string;
const kubectl = process.env.KUBECTL as string;

const settings: EngineSettings = groundSettings(PREFIX, "bench.example.test", { waitTimeoutMs: 300_000 });
const engine = createEngine({ settings, logger: new MemoryLogger(), holder: "bench" });

const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function deleteNamespace(name: string) {
  await execa(kubectl, ["delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=120s"], { env });
}

// (1) deploy vs raw helm, alternating so drift hits both alike.
const engineDeploy: number[] = [];
const engineSteps: Record<string, number>[] = [];
const rawHelm: number[] = [];
const noop: number[] = [];
// Round 0 warms caches (helm's chart loading, API discovery) for both sides and is not counted.
for (let round = -1; round < ROUNDS; round++) {
  const branch = `bench/deploy-${round + 1}`;
  const identity = sandboxIdentity({ branch, prefix: PREFIX, baseDomain: settings.baseDomain });
  let steps: Record<string, number> = {};
  engineDeploy.push(await time(async () => (steps = (await deploy(engine, { branch, commit: "f".repeat(40) })).timings)));
  engineSteps.push(steps);
  noop.push(await time(() => deploy(engine, { branch, commit: "f".repeat(40) })));
  await destroy(engine, identity.key, { waitGone: true });

  const rawNs = `${PREFIX}raw-${round + 1}`;
  const values = join(tmpdir(), `bench-values-${round + 1}.yaml`);
  writeFileSync(
    values,
    stringify(sandboxValues({ identity: { ...identity, namespace: rawNs }, mode: "ci", commit: "f".repeat(40), ttl: settings.ttlMs })),
  );
  rawHelm.push(
    await time(() =>
      execa(
        helm,
        [
          "upgrade",
          "--install",
          "sandbox",
          CHART,
          "--namespace",
          rawNs,
          "--create-namespace",
          "--values",
          values,
          "--wait",
          "--timeout",
          "5m",
        ],
        { env },
      ),
    ),
  );
  await execa(helm, ["uninstall", "sandbox", "-n", rawNs, "--wait"], { env });
  await deleteNamespace(rawNs);
  if (round < 0) {
    engineDeploy.pop();
    engineSteps.pop();
    noop.pop();
    rawHelm.pop();
    log("warm-up round done (not counted)");
    continue;
  }
  log(
    `round ${round + 1}/${ROUNDS}: engine ${engineDeploy.at(-1)?.toFixed(0)} ms ${JSON.stringify(steps)}, raw helm ${rawHelm.at(-1)?.toFixed(0)} ms, no-op ${noop.at(-1)?.toFixed(0)} ms`,
  );
}

// (2) sweep: the same fixture set for both, made fresh before each.
async function makeSweepFixtures(tag: string): Promise<void> {
  const docs = Array.from({ length: SWEEP_COUNT }, (_, i) => {
    const key = `sweep-${tag}-${i}`;
    return {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: PREFIX + key,
        labels: { "app.kubernetes.io/managed-by": "k8s-dev-sandbox", "k8s-dev-sandbox/key": key, bench: tag },
        annotations: { "k8s-dev-sandbox/expires-at": i % 2 === 0 ? "2020-01-01T00:00:00Z" : "2099-01-01T00:00:00Z" },
      },
    };
  });
  await execa(kubectl, ["apply", "--server-side", "-f", "-"], {
    env,
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items: docs }),
  });
}
async function clearSweepFixtures(tag: string): Promise<void> {
  await execa(kubectl, ["delete", "namespace", "-l", `bench=${tag}`, "--wait=true", "--timeout=300s"], { env });
}

await makeSweepFixtures("engine");
const engineSweep = await time(() => sweep(engine));
await clearSweepFixtures("engine");

await makeSweepFixtures("shell");
// The obvious alternative: list, read each expiry, delete the expired ones.
const shellLoop = `
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for ns in $("$KUBECTL" get ns -l app.kubernetes.io/managed-by=k8s-dev-sandbox,bench=shell -o jsonpath='{.items[*].metadata.name}'); do
  exp=$("$KUBECTL" get ns "$ns" -o jsonpath='{.metadata.annotations.k8s-dev-sandbox/expires-at}')
  keep=$("$KUBECTL" get ns "$ns" -o jsonpath='{.metadata.annotations.k8s-dev-sandbox/keep}')
  if [ -n "$exp" ] && [ "$keep" != "true" ] && [[ "$exp" < "$now" ]]; then "$KUBECTL" delete ns "$ns" --wait=false >/dev/null; fi
done`;
const shellSweep = await time(() => execa("bash", ["-c", shellLoop], { env: { ...env, KUBECTL: kubectl } }));
await clearSweepFixtures("shell");

// (4) the same comparison where pods really run. Each side installs a fresh
// sandbox: PostgreSQL initializes, the init step installs the modules.
const REAL_ROUNDS = Number(process.env.BENCH_REAL_ROUNDS ?? 2);
const realEngine: number[] = [];
const realHelm: number[] = [];
const realSteps: Record<string, number>[] = [];
if (process.env.GROUND_REAL_NODE === "1" && process.env.GROUND_REAL_NODE_VALUES) {
  const realValues = process.env.GROUND_REAL_NODE_VALUES;
  const realSettings = groundSettings(PREFIX, "bench.example.test", { waitTimeoutMs: 300_000, valuesFiles: [realValues] });
  const realEngineInstance = createEngine({ settings: realSettings, logger: new MemoryLogger(), holder: "bench-real" });
  for (let round = 0; round < REAL_ROUNDS; round++) {
    const branch = `bench/real-${round}`;
    const identity = sandboxIdentity({ branch, prefix: PREFIX, baseDomain: realSettings.baseDomain });
    let steps: Record<string, number> = {};
    realEngine.push(await time(async () => (steps = (await deploy(realEngineInstance, { branch })).timings)));
    realSteps.push(steps);
    await destroy(realEngineInstance, identity.key, { waitGone: true });
    const rawNs = `${PREFIX}real-raw-${round}`;
    const values = join(tmpdir(), `bench-real-values-${round}.yaml`);
    writeFileSync(values, stringify(sandboxValues({ identity: { ...identity, namespace: rawNs }, mode: "ci", ttl: realSettings.ttlMs })));
    realHelm.push(
      await time(() =>
        execa(
          helm,
          ["upgrade", "--install", "sandbox", CHART, "--namespace", rawNs, "--create-namespace"]
            .concat(["--values", "charts/odoo-dev-sandbox/values-ci.yaml", "--values", realValues, "--values", values])
            .concat(["--wait", "--timeout", "5m"]),
          { env },
        ),
      ),
    );
    await execa(helm, ["uninstall", "sandbox", "-n", rawNs, "--wait"], { env });
    await deleteNamespace(rawNs);
    log(
      `real node round ${round + 1}/${REAL_ROUNDS}: engine ${realEngine.at(-1)?.toFixed(0)} ms ${JSON.stringify(steps)}, raw helm ${realHelm.at(-1)?.toFixed(0)} ms`,
    );
  }
} else {
  log("no real node on this ground: the real-node deploy comparison is skipped");
}

const results = {
  date: new Date().toISOString(),
  machine: `${(await import("node:os")).cpus().length} cores`,
  rounds: ROUNDS,
  deploy: {
    engineMedianMs: median(engineDeploy),
    rawHelmWaitMedianMs: median(rawHelm),
    ratio: median(engineDeploy) / median(rawHelm),
    engine: engineDeploy,
    engineSteps,
    rawHelm,
  },
  sweep: {
    sandboxes: SWEEP_COUNT,
    expired: SWEEP_COUNT / 2,
    engineMs: engineSweep,
    shellLoopMs: shellSweep,
    speedup: shellSweep / engineSweep,
  },
  noopRedeploy: { medianMs: median(noop), all: noop },
  realNodeDeploy:
    realEngine.length > 0
      ? {
          rounds: realEngine.length,
          engineMedianMs: median(realEngine),
          rawHelmWaitMedianMs: median(realHelm),
          ratio: median(realEngine) / median(realHelm),
          engine: realEngine,
          engineSteps: realSteps,
          rawHelm: realHelm,
        }
      : null,
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/latest.json", `${JSON.stringify(results, null, 2)}\n`);
const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
process.stdout.write(
  [
    "",
    "| benchmark | engine | alternative | ratio |",
    "|---|---|---|---|",
    `| deploy (median of ${ROUNDS}) | ${f(results.deploy.engineMedianMs)} | raw helm --wait ${f(results.deploy.rawHelmWaitMedianMs)} | ${results.deploy.ratio.toFixed(2)}x the time |`,
    `| sweep ${SWEEP_COUNT} (half expired) | ${f(engineSweep)} | kubectl shell loop ${f(shellSweep)} | ${results.sweep.speedup.toFixed(1)}x faster |`,
    `| no-op redeploy (median of ${ROUNDS}) | ${f(results.noopRedeploy.medianMs)} | - | - |`,
    ...(results.realNodeDeploy
      ? [
          `| deploy on the real node (median of ${results.realNodeDeploy.rounds}) | ${f(results.realNodeDeploy.engineMedianMs)} | raw helm --wait ${f(results.realNodeDeploy.rawHelmWaitMedianMs)} | ${results.realNodeDeploy.ratio.toFixed(2)}x the time |`,
        ]
      : []),
    "",
  ].join("\n"),
);
