// Runs the bundled Action (dist/index.js) exactly as a GitHub runner does:
// inputs as INPUT_* variables, the event as a JSON file named by
// GITHUB_EVENT_PATH, outputs and the step summary written to files.
import { mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";

export interface ActionRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

export interface ActionRunRequest {
  eventName: string;
  payload: unknown;
  inputs: Record<string, string>;
  env?: Record<string, string>;
  runId?: number;
}

let dist = resolve("dist/index.js");

/**
 * Bundles the current source into a temporary directory and runs that from
 * then on: the tests exercise what `npm run bundle` makes now, and the
 * tracked dist/ (which scripts/check-dist.sh compares with the source) is
 * never rewritten by a test run. The charts sit beside the bundle, as they
 * do beside dist/ in the repository, so the Action finds its chart.
 */
export async function bundleForTests(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "action-bundle-"));
  await execa(process.execPath, ["scripts/bundle.mjs", join(dir, "dist")]);
  await symlink(resolve("charts"), join(dir, "charts"));
  dist = join(dir, "dist", "index.js");
  return dist;
}

export async function runBundledAction(req: ActionRunRequest): Promise<ActionRun> {
  const dir = await mkdtemp(join(tmpdir(), "action-run-"));
  const eventPath = join(dir, "event.json");
  const outputPath = join(dir, "output");
  const summaryPath = join(dir, "summary.md");
  await writeFile(eventPath, JSON.stringify(req.payload));
  await writeFile(outputPath, "");
  await writeFile(summaryPath, "");
  const env: Record<string, string> = {
    GITHUB_ACTIONS: "true",
    CI: "true",
    GITHUB_EVENT_NAME: req.eventName,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_OUTPUT: outputPath,
    GITHUB_STEP_SUMMARY: summaryPath,
    GITHUB_RUN_ID: String(req.runId ?? Math.floor(Math.random() * 1e9)),
    GITHUB_RUN_ATTEMPT: "1",
    RUNNER_TEMP: dir,
    ...req.env,
  };
  // The runner's naming: `INPUT_` + the name upper-cased with spaces as `_`; hyphens stay.
  for (const [name, value] of Object.entries(req.inputs)) env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] = value;
  const result = await execa(process.execPath, [dist], { env, reject: false, extendEnv: true });
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    outputs: parseOutputs(await readFile(outputPath, "utf8")),
    summary: await readFile(summaryPath, "utf8"),
  };
}

/** GITHUB_OUTPUT holds `name<<DELIMITER\nvalue\nDELIMITER` blocks. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? "");
    if (!m?.[1] || !m[2]) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i] ?? "");
    out[m[1]] = value.join("\n");
  }
  return out;
}
