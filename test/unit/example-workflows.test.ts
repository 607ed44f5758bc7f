// The workflows we ship (examples/) and run (.github/) against the rules the
// security review set: third-party actions pinned by commit, no token left in
// a checkout, a permissions block everywhere, concurrency per job (entered
// only by jobs that run), and no job that holds the cluster's credentials
// ever checks out or builds a pull request's code.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  if?: string;
  concurrency?: unknown;
  steps?: Step[];
}
interface Workflow {
  on: Record<string, unknown> | string[];
  permissions?: Record<string, string>;
  concurrency?: unknown;
  jobs: Record<string, Job>;
}

const files = [
  ...readdirSync("examples/workflows").map((f) => join("examples/workflows", f)),
  ...readdirSync(".github/workflows").map((f) => join(".github/workflows", f)),
].filter((f) => /\.ya?ml$/.test(f));
const load = (file: string) => ({ file, text: readFileSync(file, "utf8"), workflow: parse(readFileSync(file, "utf8")) as Workflow });
const all = files.map(load);
const steps = (w: Workflow) => Object.entries(w.jobs).flatMap(([job, j]) => (j.steps ?? []).map((step) => ({ job, step })));
const events = (w: Workflow) => (Array.isArray(w.on) ? w.on : Object.keys(w.on));

describe.each(all)("$file", ({ text, workflow }) => {
  it("pins every third-party action by a full commit SHA", () => {
    for (const { step } of steps(workflow)) {
      if (!step.uses || step.uses.startsWith("./") || step.uses.startsWith("your-org/k8s-dev-sandbox@")) continue;
      expect(step.uses, step.uses).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
    }
  });

  it("leaves no token in a checkout", () => {
    for (const { step } of steps(workflow).filter(({ step }) => step.uses?.startsWith("actions/checkout@"))) {
      expect(step.with?.["persist-credentials"], "persist-credentials").toBe(false);
    }
  });

  it("says what its token may do, and keys concurrency per job", () => {
    expect(workflow.permissions).toBeTypeOf("object");
    // A workflow-level group is entered before any job's `if`: an ignored event would cancel a queued one.
    expect(workflow.concurrency).toBeUndefined();
  });

  it("never builds or checks out a pull request's code where the cluster's credentials are", () => {
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const jobText = JSON.stringify(job);
      if (!jobText.includes("secrets.")) continue;
      for (const step of job.steps ?? []) {
        expect(step.with?.command, `${name} builds`).not.toBe("build");
        const ref = String(step.with?.ref ?? "");
        expect(ref, `${name} checks out ${ref}`).not.toMatch(/pull_request|head_sha|head\.sha|head_ref/);
      }
    }
    expect(text).not.toMatch(/secrets\.[\w]+[\s\S]*command: build|command: build[\s\S]*secrets\./);
  });
});

describe("the example set", () => {
  const byName = Object.fromEntries(all.map((w) => [w.file.replace(/^.*\//, ""), w.workflow]));

  it("builds forks where GitHub gives no secrets, and deploys from workflow_run", () => {
    const build = byName["preview-build.yml"] as Workflow;
    const deploy = byName["preview-deploy.yml"] as Workflow;
    expect(events(build)).toEqual(expect.arrayContaining(["pull_request", "push"]));
    expect(build.permissions).toEqual({ contents: "read" });
    expect(JSON.stringify(build)).not.toContain("secrets.");
    expect(events(deploy)).toEqual(["workflow_run"]);
    expect(JSON.stringify(deploy)).toContain("github.event.workflow_run.head_sha");
  });

  it("handles comments in their own workflow, without a group anyone's comment could cancel", () => {
    const commands = byName["sandbox-commands.yml"] as Workflow;
    expect(events(commands)).toEqual(["issue_comment"]);
    for (const job of Object.values(commands.jobs)) {
      expect(job.if).toContain("startsWith(github.event.comment.body, '/sandbox')");
      expect(job.concurrency).toBeUndefined();
    }
  });

  it("catches the approval label, pushes and closes on pull_request_target, checking out only the default branch", () => {
    const events_ = byName["sandbox-events.yml"] as Workflow;
    const on = events_.on as Record<string, { types: string[] }>;
    expect(on.pull_request_target?.types).toEqual(expect.arrayContaining(["closed", "labeled", "unlabeled", "synchronize"]));
    for (const name of ["lifecycle", "approval"]) {
      for (const step of events_.jobs[name]?.steps ?? []) expect(step.with?.ref, name).toBeUndefined();
    }
  });
});
