// The controller's pure parts: repository opt-in parsing (errors name the
// repository and field), the event name a delivery is planned under, and the
// queue subject of a plan.
import { describe, expect, it } from "vitest";
import { parseRepositories } from "../../src/controller/repositories.js";
import { installationOf, planningEventName, workSubject } from "../../src/domain/delivery.js";
import type { Plan } from "../../src/domain/plan.js";

describe("parseRepositories", () => {
  it("reads a repository with defaults", () => {
    const repos = parseRepositories("Acme/Shop:\n  baseDomain: preview.example.com\n");
    expect(repos.get("acme/shop")).toMatchObject({
      repository: "Acme/Shop",
      baseDomain: "preview.example.com",
      scheme: "https",
      ttlMs: 7 * 24 * 3600_000,
      maxTtlMs: 30 * 24 * 3600_000,
      forkLabel: "sandbox:allow",
      requirePullRequest: false,
    });
  });

  it("reads every field", () => {
    const text = [
      "acme/shop:",
      "  baseDomain: p.example.com",
      "  scheme: http",
      "  image: registry.example.com/acme/shop-sandbox",
      "  chart: /charts/shop",
      "  values: |",
      "    odoo:",
      "      workers: 2",
      "  ttl: 2d",
      "  maxTtl: 10d",
      "  forkLabel: preview-ok",
      "  buildWorkflow: preview-build.yml",
      "  requirePullRequest: true",
    ].join("\n");
    expect(parseRepositories(text).get("acme/shop")).toMatchObject({
      scheme: "http",
      imageRepository: "registry.example.com/acme/shop-sandbox",
      chart: "/charts/shop",
      values: "odoo:\n  workers: 2\n",
      ttlMs: 2 * 24 * 3600_000,
      maxTtlMs: 10 * 24 * 3600_000,
      forkLabel: "preview-ok",
      buildWorkflow: "preview-build.yml",
      requirePullRequest: true,
    });
  });

  it("an empty document opts nothing in", () => {
    expect(parseRepositories("").size).toBe(0);
  });

  it.each([
    ["acme/shop:\n  ttl: 1d\n", /acme\/shop.*baseDomain is required/],
    ["acme/shop:\n  baseDomain: x.example\n  colour: red\n", /unknown field "colour"/],
    ["not-a-repo:\n  baseDomain: x.example\n", /not an owner\/name/],
    ["acme/shop:\n  baseDomain: x.example\n  ttl: forever\n", /ttl.*not a valid duration/],
    ["acme/shop:\n  baseDomain: x.example\n  buildWorkflow: ../../x\n", /buildWorkflow must be a workflow file name/],
    ["acme/shop:\n  baseDomain: x.example\n  scheme: ftp\n", /scheme must be https or http/],
    ["- a\n- b\n", /must map owner\/name/],
    ["acme/shop: [\n", /not YAML/],
  ])("refuses %j", (text, message) => {
    expect(() => parseRepositories(text)).toThrow(message);
  });
});

describe("planningEventName", () => {
  const pr = (head: string | null, base = "acme/shop") => ({
    pull_request: { head: { repo: head === null ? null : { full_name: head } }, base: { repo: { full_name: base } } },
  });
  it.each([
    ["pull_request", pr("acme/shop"), "pull_request"],
    ["pull_request", pr("ACME/Shop"), "pull_request"],
    ["pull_request", pr("stranger/shop"), "pull_request_target"],
    ["pull_request", pr(null), "pull_request_target"],
    ["pull_request", {}, "pull_request_target"],
    ["push", pr("stranger/shop"), "push"],
    ["issue_comment", {}, "issue_comment"],
  ])("%s %j -> %s", (name, payload, expected) => {
    expect(planningEventName(name, payload)).toBe(expected);
  });
});

describe("installationOf", () => {
  it.each([
    [{ installation: { id: 42 } }, 42],
    [{ installation: { id: "42" } }, undefined],
    [{ installation: { id: -1 } }, undefined],
    [{}, undefined],
    [null, undefined],
  ])("%j -> %s", (payload, expected) => {
    expect(installationOf(payload)).toBe(expected);
  });
});

describe("workSubject", () => {
  const plan = (p: Partial<Plan>): Plan => ({ operation: "deploy", reason: "r", ...p });
  it.each([
    [plan({ target: { branch: "feat/x", fork: false } }), "acme/shop#branch:feat/x", "deploy"],
    [plan({ target: { branch: "feat/x", pullRequest: 7, fork: false } }), "acme/shop#pr:7", "deploy"],
    [plan({ operation: "destroy", target: { branch: "feat/x", pullRequest: 7, fork: true } }), "acme/shop#pr:7", "destroy"],
    [plan({ operation: "extend", resolvePullRequest: 7 }), "acme/shop#pr:7", "other"],
    [plan({ resolvePullRequestByHead: { owner: "o", branch: "b" } }), "acme/shop#head:o:b", "deploy"],
    [plan({ operation: "approve", resolvePullRequest: 3 }), "acme/shop#pr:3", "other"],
  ])("%j", (p, key, kind) => {
    expect(workSubject("Acme/Shop", p)).toEqual({ key, kind });
  });
});
