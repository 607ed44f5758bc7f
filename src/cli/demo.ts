// `k8s-sandbox demo`: the whole life of one preview on the local test ground,
// with the real engine and nothing faked: build Dockerfile.dev of the sample
// addon, push it, deploy the chart, wait until ready, show URL and expiry,
// redeploy (nothing to do), extend, sweep (kept: not expired), destroy.
// Needs the ground's KUBECONFIG and REGISTRY (`npm run demo` sets them). On
// a ground with a real node the preview really runs (the Odoo stand-in,
// PostgreSQL, nginx) and answers through the ingress controller; the demo
// checks that it does and prints a curl for it. `--keep` leaves it running.
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunner } from "../adapters/exec.js";
import { BuildahBuilder } from "../adapters/image/builders.js";
import { manifestExists } from "../adapters/image/registry.js";
import type { Logger } from "../adapters/logger.js";
import type { Engine } from "../operations/engine.js";
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

export async function runDemo(logger: Logger, options: { keep?: boolean } = {}): Promise<number> {
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
    // odoo:18.0 cannot be pulled here. On the real node the ground's Odoo
    // stand-in image runs; on kwok alone, a small build-time stand-in will do.
    const realNode = process.env.GROUND_REAL_NODE === "1";
    const base = realNode ? (process.env.GROUND_IMAGE_ODOO as string) : `${registry}/standin/odoo:18.0`;
    const run = createRunner(logger);
    if (!realNode && !(await manifestExists(base))) {
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
    // The engine builds only a checkout whose HEAD is the commit it deploys: make the project one.
    const git = (...args: string[]) => run("git", ["-C", project, "-c", "user.name=demo", "-c", "user.email=demo@example.test", ...args]);
    await git("init", "-q");
    await git("add", "-A");
    await git("commit", "-q", "-m", "demo");
    const commit = (await git("rev-parse", "HEAD")).stdout.trim();

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
        valuesFiles: realNode && process.env.GROUND_REAL_NODE_VALUES ? [process.env.GROUND_REAL_NODE_VALUES] : [],
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
    const first = await deploy(engine, { branch, commit });
    mark(`${first.result}: ${first.identity.url} (image ${first.image}, ${first.imageReused ? "reused" : "built"})`);
    logger.info(
      `  namespace ${first.identity.namespace}, expires ${formatTimestamp(first.expiresAt)} (${relative(first.expiresAt, new Date())})`,
    );
    logger.info(`  steps (ms): ${JSON.stringify(first.timings)}`);
    if (realNode) await showItAnswers(engine, first.identity.namespace, first.identity.host, logger);
    else logger.info("  (kwok only: the pods are simulated, nothing answers; see docs/test-ground.md)");

    const again = await deploy(engine, { branch, commit });
    mark(`redeploy of the same inputs: ${again.result} (${JSON.stringify(again.timings)})`);

    const extended = await extend(engine, first.identity.key, 48 * HOUR, "demo");
    mark(`extended by 48h: expires ${formatTimestamp(extended.expiresAt)}`);

    const st = await status(engine, first.identity.key);
    mark(`status: ${st.ready ? "ready" : `not ready: ${st.pending?.join("; ")}`}`);

    const swept = await sweep(engine);
    mark(`sweep: removed ${swept.removed.length}, kept ${swept.kept.map((k) => `${k.key} (${k.reason})`).join(", ") || "none"}`);

    if (options.keep) {
      mark(`kept ${first.identity.key} running (--keep); remove it with: k8s-sandbox destroy ${first.identity.key}`);
      return 0;
    }
    const gone = await destroy(engine, first.identity.key, { reason: "demo finished", waitGone: true });
    mark(`destroyed ${gone.key}; namespace ${gone.namespace} is gone (npm run demo -- --keep leaves it running)`);
    logger.info(`demo complete in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Asks the preview for its login page through the ground's ingress
 * controller, with and without the basic-auth credentials, and prints a curl
 * that does the same. The password is read from the Secret by the demo and
 * never printed: the curl prompts for it.
 */
async function showItAnswers(engine: Engine, namespace: string, host: string, logger: Logger): Promise<void> {
  const ingress = process.env.GROUND_INGRESS_URL;
  if (!ingress) {
    logger.info("  the ground runs no ingress controller; nothing to ask");
    return;
  }
  const secret = await engine.kube.core.readNamespacedSecret({ name: "sandbox-odoo-dev-sandbox-basic-auth", namespace });
  const user = Buffer.from(secret.data?.username ?? "", "base64").toString();
  const password = Buffer.from(secret.data?.password ?? "", "base64").toString();
  // node:http, not fetch: fetch replaces a Host header with the URL's host.
  const ask = (auth?: string) =>
    new Promise<number>((resolve, reject) => {
      const headers: Record<string, string> = { Host: host };
      if (auth) headers.Authorization = `Basic ${Buffer.from(auth).toString("base64")}`;
      const req = httpRequest(`${ingress}/web/login`, { headers, timeout: 10_000 }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("timeout", () => req.destroy(new Error(`no answer from ${ingress} for ${host}`)));
      req.on("error", reject);
      req.end();
    });
  const anonymous = await ask();
  const authorized = await ask(`${user}:${password}`);
  logger.info(`  through the ingress: GET /web/login -> ${authorized} with basic auth, ${anonymous} without`);
  if (authorized !== 200) throw new Error(`the preview did not answer through the ingress (${authorized}); see the pods in ${namespace}`);
  logger.info(`  try it: curl -u ${user} -H 'Host: ${host}' ${ingress}/web/login`);
  logger.info(
    `  password: kubectl -n ${namespace} get secret sandbox-odoo-dev-sandbox-basic-auth -o jsonpath='{.data.password}' | base64 -d`,
  );
}
