// The CLI as tests run it in its own process: the bundle users run
// (bin/k8s-sandbox.js -> dist/cli.js), built from the current source.
//
// Not `node --import tsx src/cli/index.ts`: that costs ~2 CPU-s per start
// against ~0.3 s for the bundle, and a run starts the CLI some twenty times
// (controllers, agents, killed deploys) beside a CPU-bound wave.
// Not the committed dist/: a developer's edit to src/ must be what runs.
// So: bundled once per source state, by the first process that needs it,
// into the cache outside the repository, keyed by a hash of what goes in.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join, relative } from "node:path";
import { execa } from "execa";
import { cacheDir } from "../ground/paths.js";
import { withLock } from "../ground/processes.js";
import { repoRoot } from "./helm.js";

/**
 * Everything the bundle is made from (the source, the locked dependencies, the
 * bundler's settings) and the checkout it belongs to (its charts link there).
 */
function sourceHash(): string {
  const hash = createHash("sha256");
  hash.update(`${repoRoot}\0`);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(join(repoRoot, "src"));
  files.push(join(repoRoot, "package-lock.json"), join(repoRoot, "tsconfig.json"), join(repoRoot, "scripts", "bundle.mjs"));
  for (const file of files.sort()) {
    hash.update(`${relative(repoRoot, file)}\0`);
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 20);
}

let entry: Promise<string> | undefined;

/** The path of the bundled CLI (dist/cli.js) for the source as it is now; bundles it when no process did yet. */
export function cliEntry(): Promise<string> {
  entry ??= build();
  return entry;
}

/** `node <bundle> ...args`: the command line of the CLI, as execa or spawn take it. */
export async function cliCommand(args: string[]): Promise<[string, string[]]> {
  return ["node", [await cliEntry(), ...args]];
}

async function build(): Promise<string> {
  const root = join(cacheDir(), "cli-bundles");
  const dir = join(root, sourceHash());
  const cli = join(dir, "dist", "cli.js");
  if (existsSync(cli)) return cli;
  mkdirSync(root, { recursive: true });
  await withLock(join(root, "build.lock"), async () => {
    if (existsSync(cli)) return;
    const partial = `${dir}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    await execa(process.execPath, [join(repoRoot, "scripts", "bundle.mjs"), join(partial, "dist")], { cwd: repoRoot });
    // The CLI finds its chart next to dist/ (src/wiring/bundled-chart.ts): the
    // repository's, so a chart edited since the bundle is what deploys.
    symlinkSync(join(repoRoot, "charts"), join(partial, "charts"));
    renameSync(partial, dir);
    // Bundles of other source states, unused for a day, go.
    for (const other of readdirSync(root)) {
      const path = join(root, other);
      if (path === dir || other === "build.lock") continue;
      if (Date.now() - statSync(path).mtimeMs > 24 * 3600_000) rmSync(path, { recursive: true, force: true });
    }
  });
  return cli;
}
