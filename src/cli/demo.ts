// `k8s-sandbox demo`: the whole life of one preview on the local test ground,
// with the real engine and nothing faked: build Dockerfile.dev of the sample
// addon, push it, deploy the chart, wait until ready, show URL and expiry,
// redeploy (nothing to do), extend, sweep (kept: not expired), destroy.
// Needs the ground's KUBECONFIG and REGISTRY (`npm run demo` sets them).
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunner } from "../adapters/exec.js";
import { BuildahBuilder } from "../adapters/image/builders.js";
import { manifestExists } from "../adapters/image/registry.js";
import type { Logger } from "../adapters/logger.js";
import { HOUR } from "../domain/duration.js";
import { InputError } from "../domain/errors.js";
import { formatTimestamp } from "../domain/expiry.js";
import { relative } from "../domain/report.js";
import { deploy } from "../operations/deploy.js";
import { destroy } from "../operations/destroy.js";
import { extend } from "../operations/extend.js";
import { status } from "../operations/status.js";
import { sweep } from "../operations/sweep.js";
import { bundledChartDir } from "../wiring/bundled-chart.js";
import { createEngine } from "../wiring/create-engine.js";

export async function runDemo(logger: Logger): Promise<number> {
  const registry = process.env.REGISTRY;
  if (!registry || !process.env.KUBECONFIG) {
    throw new InputError("the demo runs on the local test ground; start it with `npm run demo` (which brings the ground up first)", {
      input: "demo",
    });
  }
  const repoRoot = join(bundledChartDir(), "..", "..");
  const work = await mkdtemp(join(tmpdir(), "k8s-sandbox-demo-"));
  const started = Date.now();
  const mark = (what: string) => logger.info(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);
  try {
    // odoo:18.0 cannot be pulled here: a small stand-in base lives in the local registry.
    const base = `${registry}/standin/odoo:18.0`;
    const run = createRunner(logger);
    if (!(await manifestExists(base))) {
      const baseDir = join(work, "base");
      await cp(join(repoRoot, "test", "fixtures", "standin-odoo"), baseDir, { recursive: true });
      await new BuildahBuilder(run, process.env.BUILDAH ?? "buildah").buildAndPush({
        context: baseDir,
        dockerfile: join(baseDir, "Dockerfile"),
        image: base,
        buildArgs: {},
        labels: {},
      });
      mark(`pushed the stand-in base image ${base}`);
    }
    // A user's repository: Dockerfile.dev at the top, addons beside it.
    const project = join(work, "project");
    await cp(join(repoRoot, "examples", "sample-addons"), join(project, "addons"), { recursive: true });
    await cp(join(repoRoot, "Dockerfile.dev"), join(project, "Dockerfile.dev"));
    await cp(join(repoRoot, ".dockerignore"), join(project, ".dockerignore")).catch(() => undefined);
    await writeFile(join(project, "README.md"), "demo project\n");

    const engine = createEngine({
      logger,
      builder: "buildah",
      holder: "k8s-sandbox demo",
      settings: {
        repository: "demo/shop",
        prefix: "dev-sandbox-",
        baseDomain: "sandbox.localhost",
        scheme: "http",
        ttlMs: 168 * HOUR,
        maxTtlMs: 720 * HOUR,
        waitTimeoutMs: 5 * 60_000,
        mode: "ci",
        chart: bundledChartDir(),
        valuesFiles: [],
        sets: [],
        imageRepository: `${registry}/demo/shop-sandbox`,
        dockerfile: join(project, "Dockerfile.dev"),
        context: project,
        buildArgs: { ODOO_IMAGE: base },
        podSecurity: "restricted",
        dryRun: false,
      },
    });
    const branch = "demo/Feature-Login";

    mark(`deploying branch ${branch}`);
    const first = await deploy(engine, { branch, commit: "0123456789abcdef0123456789abcdef01234567" });
    mark(`${first.result}: ${first.identity.url} (image ${first.image}, ${first.imageReused ? "reused" : "built"})`);
    logger.info(
      `  namespace ${first.identity.namespace}, expires ${formatTimestamp(first.expiresAt)} (${relative(first.expiresAt, new Date())})`,
    );
    logger.info(`  steps (ms): ${JSON.stringify(first.timings)}`);

    const again = await deploy(engine, { branch, commit: "0123456789abcdef0123456789abcdef01234567" });
    mark(`redeploy of the same inputs: ${again.result} (${JSON.stringify(again.timings)})`);

    const extended = await extend(engine, first.identity.key, 48 * HOUR, "demo");
    mark(`extended by 48h: expires ${formatTimestamp(extended.expiresAt)}`);

    const st = await status(engine, first.identity.key);
    mark(`status: ${st.ready ? "ready" : `not ready: ${st.pending?.join("; ")}`}`);

    const swept = await sweep(engine);
    mark(`sweep: removed ${swept.removed.length}, kept ${swept.kept.map((k) => `${k.key} (${k.reason})`).join(", ") || "none"}`);

    const gone = await destroy(engine, first.identity.key, { reason: "demo finished", waitGone: true });
    mark(`destroyed ${gone.key}; namespace ${gone.namespace} is gone`);
    logger.info(`demo complete in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
