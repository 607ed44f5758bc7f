// The Odoo test log parser on excerpts of real Odoo logs (test/fixtures/odoo-logs,
// each file names its source), and on what the ground's Odoo stand-in printed.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { exitCodeFor, parseOdooTestLog, renderTestSummary } from "../../src/domain/odoo-test-log.js";

const fixture = (name: string) => readFileSync(`test/fixtures/odoo-logs/${name}`, "utf8");

describe("parseOdooTestLog", () => {
  it("passes a run whose result line counts no failure and that exited 0", () => {
    const s = parseOdooTestLog(fixture("pass-18.log"), { exitCode: 0 });
    expect(s).toMatchObject({ verdict: "passed", testsRun: 32, failed: 0, errors: 0, failures: [] });
    expect(exitCodeFor(s)).toBe(0);
  });

  it("fails a run with failures, with counts and per-module stats", () => {
    const s = parseOdooTestLog(fixture("failure-18.log"), { exitCode: 1 });
    expect(s).toMatchObject({ verdict: "failed", testsRun: 395, failed: 2, errors: 0 });
    expect(s.modules).toEqual([
      { module: "health_care_command_channels", tests: 264 },
      { module: "health_google_ads", tests: 117 },
      { module: "health_web_leads", tests: 88 },
    ]);
    expect(exitCodeFor(s)).toBe(1);
  });

  it("names the failing test and its module from the FAIL line", () => {
    const s = parseOdooTestLog(fixture("fail-line-runbot.log"), { exitCode: 1 });
    expect(s.failures).toEqual([
      { kind: "FAIL", test: "test_auto_join (odoo.addons.base.tests.test_expression.TestAutoJoin)", module: "base" },
    ]);
    // No result line: the counts come from the lines seen, and it is not a pass.
    expect(s.failed).toBe(1);
    expect(s.verdict).toBe("crashed");
  });

  it("reports a module that cannot be loaded as crashed (exit 255), never as passed", () => {
    const s = parseOdooTestLog(fixture("import-error-18.log"), { exitCode: 255 });
    expect(s.verdict).toBe("crashed");
    expect(s.testsRun).toBeUndefined();
    expect(s.reason).toMatch(/Failed to initialize database/);
    // Even when the process somehow exited 0, the CRITICAL line decides.
    expect(parseOdooTestLog(fixture("import-error-18.log"), { exitCode: 0 }).verdict).toBe("crashed");
  });

  it("says the database was unreachable when the Job's script gave up waiting for PostgreSQL", () => {
    const log = [
      "[k8s-sandbox test] PostgreSQL unreachable: sandbox-odoo-dev-sandbox-postgres:5432 did not accept connections from this pod for 60 s",
      "2026-11-26T08:25:44.000000000Z stderr F [k8s-sandbox test] odoo exited with 3",
    ].join("\n");
    const s = parseOdooTestLog(log, { exitCode: 3 });
    expect(s.verdict).toBe("crashed");
    expect(s.reason).toMatch(
      /could not reach the sandbox's database \(PostgreSQL unreachable: sandbox-odoo-dev-sandbox-postgres:5432 did not/,
    );
    expect(exitCodeFor(s)).toBe(1);
    // The script's other lines are no such verdict.
    expect(parseOdooTestLog("[k8s-sandbox test] dropped database x", { exitCode: 1 }).reason).toMatch(/without a test result line/);
  });

  it("reports a run stopped by its deadline as timeout, with what it saw so far", () => {
    const partial = fixture("failure-18.log").split("\n").slice(0, 3).join("\n");
    const s = parseOdooTestLog(partial, { deadlineExceeded: true });
    expect(s.verdict).toBe("timeout");
    expect(s.modules.map((m) => m.module)).toEqual(["health_care_command_channels", "health_google_ads"]);
    expect(exitCodeFor(s)).toBe(1);
  });

  it("never passes on exit 0 without a result line, nor on a result line with failures and exit 0", () => {
    expect(parseOdooTestLog("", { exitCode: 0 }).verdict).toBe("incomplete");
    const lying = fixture("failure-18.log");
    expect(parseOdooTestLog(lying, { exitCode: 0 }).verdict).toBe("failed");
  });

  it("reads lines in the container runtime's log format too (CRI prefix)", () => {
    const cri = `2026-11-26T01:00:00.000000000Z stderr F ${fixture("pass-18.log").split("\n")[1]}`;
    expect(parseOdooTestLog(cri, { exitCode: 0 }).testsRun).toBe(32);
  });
  // ERROR lines (a test that raises) are read from the stand-in's real output in
  // test/integration/odoo-test-job.test.ts: no public Odoo 18 excerpt of one was found.
});

describe("renderTestSummary", () => {
  it("tabulates the counts and quotes test names in code spans", () => {
    const s = parseOdooTestLog(fixture("fail-line-runbot.log"), { exitCode: 1 });
    const md = renderTestSummary(s, { modules: ["base"], sandbox: "feature-x" });
    expect(md).toContain("| ? | 1 | 0 |");
    expect(md).toContain("- FAIL ` base: test_auto_join (odoo.addons.base.tests.test_expression.TestAutoJoin) `");
  });

  it("cannot be broken out of a code span by a hostile test name", () => {
    const md = renderTestSummary(
      { verdict: "failed", failed: 1, errors: 0, testsRun: 1, modules: [], reason: "", failures: [{ kind: "FAIL", test: "a`b\n@all" }] },
      { modules: ["m"], sandbox: "k" },
    );
    expect(md).toContain("``  a`b @all ``".replace("``  ", "`` "));
    expect(md).not.toContain("\n@all");
  });
});
