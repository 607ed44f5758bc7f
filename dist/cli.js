#!/usr/bin/env node
import { createRequire as __sandboxCreateRequire } from 'node:module'; const require = __sandboxCreateRequire(import.meta.url);
import {
  DEFAULT_PREFIX,
  InputError,
  SandboxError,
  bundledChartDir,
  createEngine,
  deploy,
  destroy,
  execa,
  extend,
  formatTimestamp,
  list,
  logs,
  parseDuration,
  quoteInput,
  relative,
  sandboxIdentity,
  status,
  sweep,
  validateBaseDomain,
  validatePrefix
} from "./chunks/chunk-ZTPIY6XB.js";

// src/cli/main.ts
import { parseArgs } from "node:util";

// src/adapters/logger.ts
var Redactor = class {
  secrets = /* @__PURE__ */ new Set();
  add(secret) {
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }
  redact(text) {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join("***");
    return out;
  }
};
var ConsoleLogger = class {
  constructor(options = {}) {
    this.options = options;
    this.write = options.write ?? ((line) => process.stderr.write(`${line}
`));
    this.redactor = options.redactor ?? new Redactor();
  }
  options;
  depth = 0;
  write;
  redactor;
  emit(prefix, message) {
    const indent = "  ".repeat(this.depth);
    for (const line of this.redactor.redact(message).split("\n")) this.write(`${indent}${prefix}${line}`);
  }
  debug(message) {
    if (this.options.verbose) this.emit("debug: ", message);
  }
  info(message) {
    this.emit("", message);
  }
  warn(message) {
    this.emit("warning: ", message);
  }
  error(message) {
    this.emit("error: ", message);
  }
  async group(name, fn) {
    this.emit("", `\u25B8 ${name}`);
    this.depth++;
    try {
      return await fn();
    } finally {
      this.depth--;
    }
  }
};

// src/cli/settings.ts
import { hostname } from "node:os";
import { join, resolve } from "node:path";
async function currentGitState(cwd = process.cwd()) {
  const git = async (...args) => {
    const r = await execa("git", args, { cwd, reject: false });
    return r.exitCode === 0 ? String(r.stdout).trim() : void 0;
  };
  const branch = await git("symbolic-ref", "--short", "-q", "HEAD");
  return { branch, commit: await git("rev-parse", "HEAD"), root: await git("rev-parse", "--show-toplevel") ?? cwd, host: hostname() };
}
function settingsFromFlags(flags, git) {
  const str = (name) => typeof flags[name] === "string" ? flags[name] : void 0;
  const many = (name) => Array.isArray(flags[name]) ? flags[name] : [];
  const mode = str("mode") ?? (str("registry") ? "ci" : "local");
  if (mode !== "ci" && mode !== "local") throw new InputError(`${quoteInput(mode)} is not local or ci`, { input: "--mode" });
  const registry = str("registry") ?? process.env.K8S_SANDBOX_REGISTRY;
  if (mode === "ci" && !registry) throw new InputError("ci mode builds an image and needs --registry", { input: "--registry" });
  const context = resolve(str("build-context") ?? git.root);
  const repoName = git.root.split("/").pop()?.toLowerCase().replace(/[^a-z0-9._-]/g, "-") || "sandbox";
  const ttlMs = parseDuration(str("ttl") ?? "7d", "--ttl");
  return {
    repository: process.env.GITHUB_REPOSITORY,
    prefix: validatePrefix(str("prefix") ?? process.env.K8S_SANDBOX_PREFIX ?? DEFAULT_PREFIX),
    baseDomain: validateBaseDomain(str("base-domain") ?? process.env.K8S_SANDBOX_BASE_DOMAIN ?? "sandbox.localhost"),
    scheme: "http",
    ttlMs,
    maxTtlMs: Math.max(ttlMs, parseDuration(str("max-ttl") ?? "30d", "--max-ttl")),
    waitTimeoutMs: parseDuration(str("wait-timeout") ?? "10m", "--wait-timeout"),
    mode,
    chart: str("chart") ? resolve(str("chart")) : bundledChartDir(),
    valuesFiles: many("values").map((v) => resolve(v)),
    sets: many("set"),
    imageRepository: mode === "ci" && registry ? `${registry}/${str("image") ?? `${repoName}-sandbox`}` : void 0,
    dockerfile: resolve(str("dockerfile") ?? join(context, "Dockerfile.dev")),
    context,
    buildArgs: {},
    podSecurity: "restricted",
    localAddonsPath: mode === "local" ? git.root : void 0,
    dryRun: flags["dry-run"] === true
  };
}

// src/cli/main.ts
var USAGE = `usage: k8s-sandbox <command> [flags]

commands:
  create            deploy the current branch (local mode mounts this worktree)
  destroy [key]     remove a sandbox (default: the current branch's)
  list              all sandboxes in the cluster
  status [key]      one sandbox: expiry, readiness, what is not ready
  logs [key]        log tails of a sandbox's pods
  extend [key] --by 3d
  sweep             remove expired sandboxes (what the TTL CronJob runs)
  demo              the full lifecycle on the local test ground (see README)

flags:
  --branch NAME       branch to use (default: git's current branch)
  --mode local|ci     local mounts the worktree; ci builds and pushes an image
  --base-domain D     previews are <key>.D (default sandbox.localhost)
  --context NAME      kube-context (default: the current one)
  --registry HOST     with --mode ci: where images go (e.g. 127.0.0.1:5000)
  --ttl 7d --max-ttl 30d --wait-timeout 10m --prefix dev-sandbox-
  --values FILE (repeatable)  --set k=v (repeatable)  --chart DIR
  --json              machine-readable output on stdout
  --verbose           debug output
`;
async function main(argv) {
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
      by: { type: "string" },
      tail: { type: "string" },
      component: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" }
    }
  });
  const [command, keyArg] = positionals;
  if (flags.help || !command) {
    process.stdout.write(USAGE);
    return command || flags.help ? 0 : 2;
  }
  const logger = new ConsoleLogger({ verbose: flags.verbose });
  const out = (human, data) => {
    process.stdout.write(flags.json ? `${JSON.stringify(data, null, 2)}
` : `${human}
`);
  };
  if (command === "demo") {
    const { runDemo } = await import("./chunks/demo-YTL3RLEA.js");
    return runDemo(logger);
  }
  const git = await currentGitState();
  const settings = settingsFromFlags(flags, git);
  const engine = createEngine({
    settings,
    logger,
    kubeContext: flags.context,
    holder: `k8s-sandbox cli ${process.env.USER ?? "user"}@${git.host}`
  });
  const keyFor = (arg) => arg ?? sandboxIdentity({
    branch: flags.branch ?? git.branch ?? "",
    prefix: settings.prefix,
    baseDomain: settings.baseDomain,
    scheme: settings.scheme
  }).key;
  switch (command) {
    case "create": {
      const branch = flags.branch ?? git.branch;
      if (!branch) throw new InputError("no branch: pass --branch, or run inside a git worktree on a branch", { input: "branch" });
      const done = await deploy(engine, { branch, commit: git.commit });
      out(
        `${done.result}: ${done.identity.url}
  namespace ${done.identity.namespace}
  expires ${formatTimestamp(done.expiresAt)} (${relative(done.expiresAt, /* @__PURE__ */ new Date())})${done.image ? `
  image ${done.image}` : ""}`,
        done
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
          `  expires  ${r?.expiresAt ? `${formatTimestamp(r.expiresAt)} (${relative(r.expiresAt, /* @__PURE__ */ new Date())})` : "never"}${r?.keep ? " (kept)" : ""}`,
          ...(st.pending ?? []).map((p) => `  waiting  ${p}`),
          ...r?.lastError ? [`  last error (${r.lastStep ?? "?"}): ${r.lastError}`] : []
        ].join("\n"),
        st
      );
      return 0;
    }
    case "list": {
      const records = await list(engine);
      const now = /* @__PURE__ */ new Date();
      const rows = records.map(
        (r) => `${r.key.padEnd(40)} ${(r.status ?? "-").padEnd(10)} ${r.expiresAt ? relative(r.expiresAt, now).padEnd(14) : "never".padEnd(14)} ${r.url ?? ""}`
      );
      out(
        records.length ? [`${"SANDBOX".padEnd(40)} ${"STATUS".padEnd(10)} ${"EXPIRES".padEnd(14)} URL`, ...rows].join("\n") : "no sandboxes",
        records
      );
      return 0;
    }
    case "logs": {
      const entries = await logs(engine, keyFor(keyArg), { tail: flags.tail ? Number(flags.tail) : 100, component: flags.component });
      out(entries.map((e) => `==> ${e.pod}/${e.container} <==
${e.text}`).join("\n"), entries);
      return 0;
    }
    case "sweep": {
      const done = await sweep(engine);
      out(
        [
          `removed ${done.removed.length}, kept ${done.kept.length}, failed ${done.failed.length} of ${done.considered}`,
          ...done.removed.map((r) => `  removed ${r.key} (${r.reason})`),
          ...done.failed.map((f) => `  FAILED ${f.key}: ${f.error}`)
        ].join("\n"),
        done
      );
      return done.failed.length ? 1 : 0;
    }
    default:
      throw new InputError(`unknown command ${JSON.stringify(command)}; see k8s-sandbox --help`, { input: "command" });
  }
}
function describeError(error) {
  if (error instanceof SandboxError) {
    const where = [error.sandbox && `sandbox ${error.sandbox}`, error.step && `step ${error.step}`].filter(Boolean).join(", ");
    const lines = [`${where ? `${where}: ` : ""}${error.message}`];
    if (error.evidence) lines.push(error.evidence);
    if (error.hint) lines.push(`what to do: ${error.hint}`);
    return lines.join("\n");
  }
  return error instanceof Error ? error.message : String(error);
}

// src/cli/index.ts
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`k8s-sandbox: ${describeError(error)}
`);
    process.exitCode = error instanceof Error && error.name === "InputError" ? 2 : 1;
  }
);
//# sourceMappingURL=cli.js.map
