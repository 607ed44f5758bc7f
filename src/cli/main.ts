// k8s-sandbox: the engine for a developer's own cluster and for the in-cluster
// TTL CronJob. Parses flags, builds the engine, calls one operation, prints
// the result for people (or JSON with --json).
import { hostname, networkInterfaces } from "node:os";
import { parseArgs } from "node:util";
import type { KubeConnection } from "../adapters/kubernetes/client.js";
import { ConsoleLogger } from "../adapters/logger.js";
import { parseDuration } from "../domain/duration.js";
import { InputError, SandboxError } from "../domain/errors.js";
import { formatTimestamp } from "../domain/expiry.js";
import { exitCodeFor } from "../domain/odoo-test-log.js";
import { relative } from "../domain/report.js";
import { validateModules, validateTags } from "../domain/test-job.js";
import { deploy } from "../operations/deploy.js";
import { destroy } from "../operations/destroy.js";
import { extend } from "../operations/extend.js";
import { identityFor } from "../operations/namespace.js";
import { list, logs, status } from "../operations/status.js";
import type { Engine } from "../operations/engine.js";
import { type SweepReporter, sweep } from "../operations/sweep.js";
import { runTests } from "../operations/test.js";
import { createEngine } from "../wiring/create-engine.js";
import { currentGitState, settingsFromFlags } from "./settings.js";

export const USAGE = `usage: k8s-sandbox <command> [flags]

commands:
  create | up       deploy the current branch (local mode mounts this worktree)
  destroy [key]     remove a sandbox (default: the current branch's)
  list              all sandboxes in the cluster
  status [key]      one sandbox: expiry, readiness, what is not ready
  logs [key]        log tails of a sandbox's pods (--component odoo|nginx|postgres, --tail 100)
  extend [key] --by 3d
  test [key] --modules a,b [--tags SPEC] [--deadline 30m]
                    run Odoo's tests for these addons in the sandbox (a Job, a throwaway
                    database); exits 0 only when they pass
  open [key]        print the sandbox's URL and where its login is (--launch: open a browser)
  sweep             remove expired sandboxes (what the TTL CronJob runs)
                    --delete-only: only delete each namespace, and only if unchanged since
                    listed (no helm uninstall, no lock: the CronJob's rights);
                    --events-job NAME [--events-job-uid UID] [--events-namespace NS]:
                    report each removal as a Kubernetes Event about that Job
  serve             the controller: GitHub webhooks in the cluster (k8s-sandbox serve --help)
  agent [--port 8081]  serve code-hub's workspace Agent API on Kubernetes (docs/workspace-agent.md)
  demo [--keep]     the full lifecycle on the local test ground (see README); --keep leaves the preview running

flags:
  --branch NAME       branch to use (default: git's current branch)
  --mode local|ci     local mounts the worktree; ci builds and pushes an image
  --base-domain D     previews are <key>.D (default sandbox.localhost)
  --context NAME      kube-context (default: the current one)
  --registry HOST     with --mode ci: where images go (e.g. 127.0.0.1:5000)
  --ttl 7d --max-ttl 30d --wait-timeout 10m --prefix dev-sandbox-
  --addons-dir DIR    local mode: the addons to mount (default <repo>/addons)
  --local-volumes NS/NAME  local mode: the ConfigMap where the cluster allows host paths
                      (default k8s-dev-sandbox-system/k8s-dev-sandbox-local-volumes)
  --sandbox-role ROLE the ClusterRole to bind to yourself in each new sandbox
                      (default k8s-dev-sandbox:sandbox; "" for none; docs/permissions.md)
  --values FILE (repeatable)  --set k=v (repeatable)  --chart DIR
  --json              machine-readable output on stdout
  --verbose           debug output
`;

export async function main(argv: string[]): Promise<number> {
  // The controller has its own flags (and no git worktree): src/cli/serve.ts.
  if (argv[0] === "serve") return (await import("./serve.js")).serve(argv.slice(1));
  // The agent is a server with its own flags and AGENT_* settings.
  if (argv[0] === "agent") {
    const { runAgent } = await import("./agent.js");
    return runAgent(argv.slice(1));
  }
  const { values: flags, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      branch: { type: "string" },
      mode: { type: "string" },
      "base-domain": { type: "string" },
      context: { type: "string" },
      registry: { type: "string" },
      image: { type: "string" },
      ttl: { type: "string" },
      "max-ttl": { type: "string" },
      "wait-timeout": { type: "string" },
      prefix: { type: "string" },
      values: { type: "string", multiple: true },
      set: { type: "string", multiple: true },
      chart: { type: "string" },
      dockerfile: { type: "string" },
      "build-context": { type: "string" },
      "addons-dir": { type: "string" },
      "local-volumes": { type: "string" },
      "sandbox-role": { type: "string" },
      by: { type: "string" },
      tail: { type: "string" },
      component: { type: "string" },
      modules: { type: "string" },
      tags: { type: "string" },
      deadline: { type: "string" },
      launch: { type: "boolean" },
      "dry-run": { type: "boolean" },
      "delete-only": { type: "boolean" },
      "events-job": { type: "string" },
      "events-job-uid": { type: "string" },
      "events-namespace": { type: "string" },
      keep: { type: "boolean" },
      json: { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, keyArg] = positionals;
  if (flags.help || !command) {
    process.stdout.write(USAGE);
    return command || flags.help ? 0 : 2;
  }
  const logger = new ConsoleLogger({ verbose: flags.verbose });
  const out = (human: string, data: unknown) => {
    process.stdout.write(flags.json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
  };

  if (command === "demo") {
    const { runDemo } = await import("./demo.js");
    return runDemo(logger, { keep: flags.keep === true });
  }

  const git = await currentGitState();
  const settings = settingsFromFlags(flags, git);
  const engine = createEngine({
    settings,
    logger,
    kubeContext: flags.context,
    holder: `k8s-sandbox cli ${process.env.USER ?? "user"}@${git.host}`,
  });
  const keyFor = (arg?: string) => arg ?? identityFor(settings, { branch: flags.branch ?? git.branch ?? "" }).key;

  switch (command) {
    case "up":
    case "create": {
      const branch = flags.branch ?? git.branch;
      if (!branch) throw new InputError("no branch: pass --branch, or run inside a git worktree on a branch", { input: "branch" });
      if (settings.mode === "local" && settings.localAddonsPath)
        await warnIfNodesAreElsewhere(engine.kube, settings.localAddonsPath, logger);
      const done = await deploy(engine, { branch, commit: git.commit });
      out(
        `${done.result}: ${done.identity.url}\n  namespace ${done.identity.namespace}\n  expires ${formatTimestamp(done.expiresAt)} (${relative(done.expiresAt, new Date())})${done.image ? `\n  image ${done.image}` : ""}`,
        done,
      );
      return 0;
    }
    case "destroy": {
      const done = await destroy(engine, keyFor(keyArg), { reason: "k8s-sandbox destroy", waitGone: true });
      out(done.existed ? `destroyed ${done.key}` : `${done.key} did not exist`, done);
      return 0;
    }
    case "extend": {
      const by = parseDuration(flags.by ?? "7d", "--by");
      const done = await extend(engine, keyFor(keyArg), by, process.env.USER ?? "cli");
      out(`${done.key} now expires ${formatTimestamp(done.expiresAt)}${done.capped ? " (capped at max-ttl)" : ""}`, done);
      return 0;
    }
    case "status": {
      const st = await status(engine, keyFor(keyArg));
      if (!st.exists) {
        out(`${st.key} does not exist`, st);
        return 3;
      }
      const r = st.record;
      out(
        [
          `${st.key}: ${st.ready ? "ready" : "not ready"} (${r?.status ?? "unknown"})`,
          `  url      ${r?.url ?? "-"}`,
          `  branch   ${r?.branch ?? "-"}   commit ${r?.commit?.slice(0, 12) ?? "-"}`,
          `  expires  ${r?.expiresAt ? `${formatTimestamp(r.expiresAt)} (${relative(r.expiresAt, new Date())})` : "never"}${r?.keep ? " (kept)" : ""}`,
          ...(st.pending ?? []).map((p) => `  waiting  ${p}`),
          ...(r?.lastError ? [`  last error (${r.lastStep ?? "?"}): ${r.lastError}`] : []),
        ].join("\n"),
        st,
      );
      return 0;
    }
    case "list": {
      const records = await list(engine);
      const now = new Date();
      const rows = records.map(
        (r) =>
          `${r.key.padEnd(40)} ${(r.status ?? "-").padEnd(10)} ${r.expiresAt ? relative(r.expiresAt, now).padEnd(14) : "never".padEnd(14)} ${r.url ?? ""}`,
      );
      out(
        records.length
          ? [`${"SANDBOX".padEnd(40)} ${"STATUS".padEnd(10)} ${"EXPIRES".padEnd(14)} URL`, ...rows].join("\n")
          : "no sandboxes",
        records,
      );
      return 0;
    }
    case "logs": {
      const entries = await logs(engine, keyFor(keyArg), { tail: flags.tail ? Number(flags.tail) : 100, component: flags.component });
      out(entries.map((e) => `==> ${e.pod}/${e.container} <==\n${e.text}`).join("\n"), entries);
      return 0;
    }
    case "test": {
      const modules = validateModules(flags.modules, "--modules");
      const tags = validateTags(flags.tags, "--tags");
      const deadlineSeconds = Math.ceil(parseDuration(flags.deadline ?? "30m", "--deadline") / 1000);
      const done = await runTests(engine, keyFor(keyArg), {
        modules,
        tags,
        deadlineSeconds,
        // The log goes to stderr as it comes; stdout keeps the summary (or the JSON).
        onLine: (line) => process.stderr.write(`${line}\n`),
      });
      const s = done.summary;
      out(
        [
          `${s.verdict}: ${s.reason}`,
          `  tests run ${s.testsRun ?? "?"}, failed ${s.failed}, errors ${s.errors}   (${done.modules.join(", ")} in ${done.namespace})`,
          ...s.failures.map((f) => `  ${f.kind} ${f.module ? `${f.module}: ` : ""}${f.test}`),
          `  database ${done.database} (dropped), Job ${done.job} (deleted)`,
        ].join("\n"),
        done,
      );
      return exitCodeFor(s);
    }
    case "open": {
      const st = await status(engine, keyFor(keyArg));
      if (!st.exists || !st.record?.url) {
        out(`${st.key} does not exist; create it with: k8s-sandbox up`, st);
        return 3;
      }
      const ns = settings.prefix + st.key;
      out(
        [
          st.record.url,
          // The odoo-dev-sandbox chart's Secret (release "sandbox"); a user-supplied chart may keep it elsewhere.
          `  login    user "sandbox" unless your values say otherwise; the password is in the basic-auth Secret:`,
          `           kubectl -n ${ns} get secret sandbox-odoo-dev-sandbox-basic-auth -o jsonpath='{.data.password}' | base64 -d`,
          `  expires  ${st.record.expiresAt ? `${formatTimestamp(st.record.expiresAt)} (${relative(st.record.expiresAt, new Date())})` : "never"}`,
        ].join("\n"),
        { ...st, url: st.record.url },
      );
      if (flags.launch) await launchBrowser(st.record.url, logger);
      return 0;
    }
    case "sweep": {
      const done = await sweep(
        engine,
        {},
        { removal: flags["delete-only"] ? "delete-namespace" : "destroy", reporter: await sweepReporter(engine, flags) },
      );
      out(
        [
          `removed ${done.removed.length}, kept ${done.kept.length}, failed ${done.failed.length} of ${done.considered}`,
          ...done.removed.map((r) => `  removed ${r.key} (${r.reason})`),
          ...done.failed.map((f) => `  FAILED ${f.key}: ${f.error}`),
        ].join("\n"),
        done,
      );
      return done.failed.length ? 1 : 0;
    }
    default:
      throw new InputError(`unknown command ${JSON.stringify(command)}; see k8s-sandbox --help`, { input: "command" });
  }
}

/** Kubernetes Events about the Job that runs the sweep, when --events-job names it (the CronJob does). */
async function sweepReporter(
  engine: Engine,
  flags: { "events-job"?: string; "events-job-uid"?: string; "events-namespace"?: string },
): Promise<SweepReporter | undefined> {
  const job = flags["events-job"];
  if (!job) return undefined;
  const namespace = flags["events-namespace"] ?? process.env.POD_NAMESPACE;
  if (!namespace)
    throw new InputError("--events-job needs the Job's namespace: --events-namespace or POD_NAMESPACE", { input: "--events-namespace" });
  const { SweepEvents } = await import("../adapters/kubernetes/sweep-events.js");
  return new SweepEvents(engine.kube, { namespace, job, jobUid: flags["events-job-uid"] || undefined, instance: hostname() });
}

/**
 * Local mode mounts a host path of the node that runs Odoo: it shows the work
 * tree only when that node is this machine (K3s here, a single-node cluster,
 * kind with the directory mounted). Say so before deploying when no node has
 * an address of this machine; listing nodes may be forbidden, then say nothing.
 */
async function warnIfNodesAreElsewhere(kube: KubeConnection, path: string, logger: ConsoleLogger): Promise<void> {
  const nodes = await kube.core.listNode().catch(() => undefined);
  if (!nodes?.items.length) return;
  const here = new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((a) => a?.address),
  );
  const local = nodes.items.some((n) => (n.status?.addresses ?? []).some((a) => here.has(a.address)));
  if (local && nodes.items.length === 1) return;
  const names = nodes.items.map((n) => n.metadata?.name).join(", ");
  logger.warn(
    local
      ? `the cluster has ${nodes.items.length} nodes (${names}): Odoo sees ${path} only if it runs on this machine's node; pin it there (--set scheduling.nodeSelector...) or use --mode ci --registry HOST`
      : `no node of this cluster (${names}) has an address of this machine: the pod will see ${path} only if that directory exists on its node (kind: extraMounts at the same path). Otherwise use --mode ci --registry HOST, which builds Dockerfile.dev and pushes the image`,
  );
}

/** Hands the URL to the desktop's opener; the URL is one argument, never shell text. */
async function launchBrowser(url: string, logger: ConsoleLogger): Promise<void> {
  const { execa } = await import("execa");
  const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  const r = await execa(opener, [url], { reject: false, detached: true, stdio: "ignore" });
  if (r.failed) logger.warn(`could not start ${opener}; open ${url} yourself`);
}

export function describeError(error: unknown): string {
  if (error instanceof SandboxError) {
    const where = [error.sandbox && `sandbox ${error.sandbox}`, error.step && `step ${error.step}`].filter(Boolean).join(", ");
    const lines = [`${where ? `${where}: ` : ""}${error.message}`];
    if (error.evidence) lines.push(error.evidence);
    if (error.hint) lines.push(`what to do: ${error.hint}`);
    return lines.join("\n");
  }
  return error instanceof Error ? error.message : String(error);
}
