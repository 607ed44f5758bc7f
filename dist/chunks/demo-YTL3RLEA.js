import { createRequire as __sandboxCreateRequire } from 'node:module'; const require = __sandboxCreateRequire(import.meta.url);
import {
  BuildahBuilder,
  HOUR,
  InputError,
  bundledChartDir,
  createEngine,
  createRunner,
  deploy,
  destroy,
  extend,
  formatTimestamp,
  manifestExists,
  relative,
  status,
  sweep
} from "./chunk-ZTPIY6XB.js";

// src/cli/demo.ts
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
async function runDemo(logger) {
  const registry = process.env.REGISTRY;
  if (!registry || !process.env.KUBECONFIG) {
    throw new InputError("the demo runs on the local test ground; start it with `npm run demo` (which brings the ground up first)", {
      input: "demo"
    });
  }
  const repoRoot = join(bundledChartDir(), "..", "..");
  const work = await mkdtemp(join(tmpdir(), "k8s-sandbox-demo-"));
  const started = Date.now();
  const mark = (what) => logger.info(`[${((Date.now() - started) / 1e3).toFixed(1)}s] ${what}`);
  try {
    const base = `${registry}/standin/odoo:18.0`;
    const run = createRunner(logger);
    if (!await manifestExists(base)) {
      const baseDir = join(work, "base");
      await cp(join(repoRoot, "test", "fixtures", "standin-odoo"), baseDir, { recursive: true });
      await new BuildahBuilder(run, process.env.BUILDAH ?? "buildah").buildAndPush({
        context: baseDir,
        dockerfile: join(baseDir, "Dockerfile"),
        image: base,
        buildArgs: {},
        labels: {}
      });
      mark(`pushed the stand-in base image ${base}`);
    }
    const project = join(work, "project");
    await cp(join(repoRoot, "examples", "sample-addons"), join(project, "addons"), { recursive: true });
    await cp(join(repoRoot, "Dockerfile.dev"), join(project, "Dockerfile.dev"));
    await cp(join(repoRoot, ".dockerignore"), join(project, ".dockerignore")).catch(() => void 0);
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
        waitTimeoutMs: 5 * 6e4,
        mode: "ci",
        chart: bundledChartDir(),
        valuesFiles: [],
        sets: [],
        imageRepository: `${registry}/demo/shop-sandbox`,
        dockerfile: join(project, "Dockerfile.dev"),
        context: project,
        buildArgs: { ODOO_IMAGE: base },
        podSecurity: "restricted",
        dryRun: false
      }
    });
    const branch = "demo/Feature-Login";
    mark(`deploying branch ${branch}`);
    const first = await deploy(engine, { branch, commit: "0123456789abcdef0123456789abcdef01234567" });
    mark(`${first.result}: ${first.identity.url} (image ${first.image}, ${first.imageReused ? "reused" : "built"})`);
    logger.info(
      `  namespace ${first.identity.namespace}, expires ${formatTimestamp(first.expiresAt)} (${relative(first.expiresAt, /* @__PURE__ */ new Date())})`
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
    logger.info(`demo complete in ${((Date.now() - started) / 1e3).toFixed(1)}s`);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
export {
  runDemo
};
//# sourceMappingURL=demo-YTL3RLEA.js.map
