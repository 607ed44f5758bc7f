// Reads the verdict of `odoo --test-enable --stop-after-init` from Odoo 18's
// own log lines, so the CLI, the Action's step summary and the PR comment can
// say how many tests ran and which failed. The exit status stays the judge
// (Odoo returns the number of databases with failed tests, 255 on a crash);
// the log explains it. Lines read (Odoo 18, odoo/tests/result.py,
// odoo/service/server.py, odoo/modules/loading.py):
//   <time> <pid> ERROR <db> odoo.tests.result: 1 failed, 0 error(s) of 3 tests when loading database '<db>'
//   <time> <pid> ERROR <db> odoo.addons.<module>.tests.<file>: FAIL: TestX.test_y
//   <time> <pid> ERROR <db> odoo.addons.<module>.tests.<file>: ERROR: TestX.test_y
//   <time> <pid> INFO <db> odoo.tests.stats: <module>: 3 tests 0.01s 0 queries
//   <time> <pid> CRITICAL <db> odoo.service.server: Failed to initialize database `<db>`.
// and the Job script's own line when PostgreSQL never answered its pod.
import { DB_UNREACHABLE } from "./test-job.js";

export type TestVerdict = "passed" | "failed" | "crashed" | "timeout" | "incomplete";

export interface FailedTest {
  kind: "FAIL" | "ERROR";
  /** As Odoo names it: `TestClass.test_method` (or `Subtest ...`, `setUpClass (...)`). */
  test: string;
  /** The addon, from the logger name `odoo.addons.<module>.tests...`, when the line has one. */
  module?: string;
}

export interface OdooTestSummary {
  verdict: TestVerdict;
  /** From the final `odoo.tests.result` line; undefined when Odoo never wrote one. */
  testsRun?: number;
  failed: number;
  errors: number;
  failures: FailedTest[];
  /** Per-module test counts from `odoo.tests.stats`. */
  modules: { module: string; tests: number }[];
  /** Why the verdict is what it is, in one sentence. */
  reason: string;
}

// `2024-05-30 07:48:15,413 1167 INFO db logger: message` (Odoo's log format).
const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL|RUNBOT|TEST|\S+) (\S+) ([\w.]+): (.*)$/;
const RESULT = /^(\d+) failed, (\d+) error\(s\) of (\d+) tests(?: when loading database '.*')?/;
const FAILURE = /^(FAIL|ERROR): (.+?)\s*$/;
/** How the Job's own script prefixes its lines (src/domain/test-job.ts). */
const SCRIPT_PREFIX = "[k8s-sandbox test] ";
const STATS = /^(\w+): (\d+) tests /;
const CRASH = /^Failed to initialize database `.*`\.$/;

export interface TestRunEnd {
  /** The container's exit code; undefined when it never ended on its own. */
  exitCode?: number;
  /** The Job ran out of time (activeDeadlineSeconds) and was stopped. */
  deadlineExceeded?: boolean;
}

export function parseOdooTestLog(log: string, end: TestRunEnd): OdooTestSummary {
  let result: { failed: number; errors: number; testsRun: number } | undefined;
  let crashed = false;
  let unreachable: string | undefined;
  const failures: FailedTest[] = [];
  const modules = new Map<string, number>();
  for (const raw of log.split("\n")) {
    const text = raw.replace(/\r$/, "").replace(/^\S+ (?:stdout|stderr) [FP] /, "");
    if (text.startsWith(`${SCRIPT_PREFIX}${DB_UNREACHABLE}: `)) unreachable = text.slice(SCRIPT_PREFIX.length);
    const line = LINE.exec(text);
    if (!line) continue;
    const [, , , logger = "", message = ""] = line;
    if (logger === "odoo.tests.result") {
      const counts = RESULT.exec(message);
      // The last one wins: one per database, and the Job runs one database.
      if (counts) result = { failed: Number(counts[1]), errors: Number(counts[2]), testsRun: Number(counts[3]) };
      continue;
    }
    if (logger === "odoo.tests.stats") {
      const stats = STATS.exec(message);
      if (stats?.[1]) modules.set(stats[1], (modules.get(stats[1]) ?? 0) + Number(stats[2]));
      continue;
    }
    if (logger === "odoo.service.server" && CRASH.test(message)) {
      crashed = true;
      continue;
    }
    const failure = FAILURE.exec(message);
    if (failure && (line[1] === "ERROR" || line[1] === "CRITICAL")) {
      const module = /^odoo\.addons\.(\w+)\./.exec(logger)?.[1];
      failures.push({ kind: failure[1] as "FAIL" | "ERROR", test: failure[2] ?? "", ...(module ? { module } : {}) });
    }
  }
  const base = {
    failed: result?.failed ?? failures.filter((f) => f.kind === "FAIL").length,
    errors: result?.errors ?? failures.filter((f) => f.kind === "ERROR").length,
    failures,
    modules: [...modules].map(([module, tests]) => ({ module, tests })).sort((a, b) => a.module.localeCompare(b.module)),
    ...(result ? { testsRun: result.testsRun } : {}),
  };
  if (end.deadlineExceeded) {
    return { ...base, verdict: "timeout", reason: "the test run hit its deadline and was stopped before Odoo reported a result" };
  }
  if (unreachable) {
    return {
      ...base,
      verdict: "crashed",
      reason: `the test pod could not reach the sandbox's database (${unreachable}): is PostgreSQL running, and does a NetworkPolicy let the pod in?`,
    };
  }
  if (crashed || end.exitCode === 255 || (end.exitCode !== undefined && end.exitCode < 0)) {
    return {
      ...base,
      verdict: "crashed",
      reason: "Odoo could not load the modules (Failed to initialize database): an import error or a broken module, see the log",
    };
  }
  if (end.exitCode === undefined) {
    return { ...base, verdict: "incomplete", reason: "the test container did not finish" };
  }
  if (!result) {
    return {
      ...base,
      verdict: end.exitCode === 0 ? "incomplete" : "crashed",
      reason: `Odoo exited with ${end.exitCode} without a test result line (odoo.tests.result): did the modules load?`,
    };
  }
  if (end.exitCode !== 0 || result.failed + result.errors > 0) {
    return { ...base, verdict: "failed", reason: `${result.failed} failed, ${result.errors} error(s) of ${result.testsRun} tests` };
  }
  return { ...base, verdict: "passed", reason: `${result.testsRun} tests passed` };
}

/** The exit status a front door returns for a verdict: 0 only for a real pass. */
export function exitCodeFor(summary: OdooTestSummary): number {
  return summary.verdict === "passed" ? 0 : 1;
}

/** Markdown for a step summary or a PR comment; test names are quoted in code spans (they are the PR's text). */
export function renderTestSummary(summary: OdooTestSummary, context: { modules: string[]; sandbox: string }): string {
  const icon = summary.verdict === "passed" ? "✅" : "❌";
  const lines = [
    `${icon} **Odoo tests ${summary.verdict}** in \`${context.sandbox}\` (${context.modules.map((m) => `\`${m}\``).join(", ")})`,
    "",
    `| tests run | failed | errors |`,
    `| --- | --- | --- |`,
    `| ${summary.testsRun ?? "?"} | ${summary.failed} | ${summary.errors} |`,
  ];
  if (summary.failures.length) {
    lines.push("", "Failing tests:");
    for (const f of summary.failures.slice(0, 50)) {
      lines.push(`- ${f.kind} ${codeSpan(f.module ? `${f.module}: ${f.test}` : f.test)}`);
    }
    if (summary.failures.length > 50) lines.push(`- … and ${summary.failures.length - 50} more`);
  }
  if (summary.verdict !== "passed" && summary.verdict !== "failed") lines.push("", summary.reason);
  return lines.join("\n");
}

function codeSpan(text: string): string {
  const clean = text.replace(/[\r\n]+/g, " ").slice(0, 200);
  const fence = clean.includes("`") ? "``" : "`";
  return `${fence} ${clean} ${fence}`;
}
