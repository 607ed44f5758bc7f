// The Action's inputs against action.yml, its output file format, secret
// masking of kubeconfig input, and the Markdown the PR comment is made of.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readInputs } from "../../src/action/inputs.js";
import { kubeconfigSecrets } from "../../src/action/main.js";
import { code, fence, renderComment } from "../../src/domain/report.js";
import { parseOutputs } from "../support/action-runner.js";

const actionYml = parse(readFileSync("action.yml", "utf8")) as {
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, unknown>;
  runs: { using: string; main: string };
};

function inputsFrom(values: Record<string, string>) {
  const asked = new Set<string>();
  const get = (name: string) => {
    asked.add(name);
    // As the runner does: the value given, else action.yml's default.
    const fallback = actionYml.inputs[name]?.default ?? "";
    return values[name] ?? (fallback.startsWith("${{") ? "" : fallback);
  };
  return { asked, get };
}

describe("the Action's inputs", () => {
  it("reads exactly the inputs action.yml declares, and runs on node24 from dist/", () => {
    const { asked, get } = inputsFrom({ "base-domain": "preview.example.com" });
    readInputs(get, "/workspace");
    expect([...asked].sort()).toEqual(Object.keys(actionYml.inputs).sort());
    expect(actionYml.runs).toEqual({ using: "node24", main: "dist/index.js" });
    expect(Object.keys(actionYml.outputs).sort()).toEqual(["expires-at", "image", "namespace", "result", "sandbox", "url"]);
  });

  it("applies the DESIGN defaults", () => {
    const { get } = inputsFrom({ "base-domain": "preview.example.com" });
    const inputs = readInputs(get, "/workspace");
    expect(inputs.command).toBe("auto");
    expect(inputs.settings.ttlMs).toBe(168 * 3600_000);
    expect(inputs.settings.maxTtlMs).toBe(720 * 3600_000);
    expect(inputs.settings.waitTimeoutMs).toBe(10 * 60_000);
    expect(inputs.settings.prefix).toBe("dev-sandbox-");
    expect(inputs.settings.podSecurity).toBe("restricted");
    expect(inputs.forkLabel).toBe("sandbox:allow");
    expect(inputs.settings.imageRepository).toBeUndefined();
  });

  it.each([
    [{ command: "explode" }, /command: "explode" is not one of auto, deploy/],
    [{ ttl: "7 days" }, /ttl/],
    [{ ttl: "30d", "max-ttl": "7d" }, /max-ttl: must be at least ttl/],
    [{ comment: "maybe" }, /comment: "maybe" is not true or false/],
    [{ "build-args": "NOEQUALS" }, /build-args: "NOEQUALS" is not KEY=value/],
    [{ set: "=x" }, /set: "=x" is not key=value/],
    [{ "url-scheme": "ftp" }, /url-scheme/],
    [{ "namespace-prefix": "Bad_Prefix" }, /prefix/i],
    [{ "base-domain": "" }, /base-domain: is required/],
    [{ values: "does/not/exist.yaml" }, /values: .* does not exist/],
  ])("names the bad input in %j", (values, message) => {
    const { get } = inputsFrom({ "base-domain": "preview.example.com", ...values });
    expect(() => readInputs(get, "/workspace")).toThrow(message);
  });
});

describe("secrets of a kubeconfig input", () => {
  it("registers the whole content and each credential in it", () => {
    const content = "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: abc-token-123\n    client-key-data: S0VZREFUQQ==\n";
    expect(kubeconfigSecrets(content)).toEqual([content, "abc-token-123", "S0VZREFUQQ=="]);
    expect(kubeconfigSecrets("not: [yaml")).toEqual(["not: [yaml"]);
    expect(kubeconfigSecrets(undefined)).toEqual([]);
  });
});

describe("GITHUB_OUTPUT parsing (used by the e2e runner)", () => {
  it("reads the runner's heredoc blocks", () => {
    const dir = mkdtempSync(join(tmpdir(), "out-"));
    writeFileSync(join(dir, "o"), "url<<ghadelimiter_1\nhttps://x\nghadelimiter_1\nresult<<ghadelimiter_2\ndeployed\nghadelimiter_2\n");
    expect(parseOutputs(readFileSync(join(dir, "o"), "utf8"))).toEqual({ url: "https://x", result: "deployed" });
  });
});

describe("the sticky comment", () => {
  const now = new Date("2026-11-22T12:00:00Z");

  it("shows URL, commit, expiry and how to extend when ready", () => {
    const text = renderComment({
      key: "feature-login-3f2a1c",
      namespace: "dev-sandbox-feature-login-3f2a1c",
      state: "ready",
      url: "https://feature-login-3f2a1c.preview.example.com",
      branch: "feature/Login",
      commit: "0123456789abcdef",
      expiresAt: new Date("2026-11-29T12:00:00Z"),
      now,
    });
    expect(text).toContain("🟢 Preview ready");
    expect(text).toContain("| URL | https://feature-login-3f2a1c.preview.example.com |");
    expect(text).toContain("`0123456789ab`");
    expect(text).toContain("2026-11-29T12:00:00Z (in 7d)");
    expect(text).toContain("/sandbox extend 3d");
  });

  it("keeps hostile branch names and logs inside code it cannot escape", () => {
    const text = renderComment({
      key: "k",
      namespace: "dev-sandbox-k",
      state: "failed",
      branch: "x`<img src=x onerror=alert(1)>` @org/team | [link](http://evil)",
      now,
      failure: { step: "wait ready", message: "boom\n```\n@everyone", evidence: "line\n````\n<script>" },
    });
    expect(text).toContain("``x`<img src=x onerror=alert(1)>` @org/team \\| [link](http://evil)``");
    expect(text).toContain("`````text\nline\n````\n<script>\n`````");
    expect(text).not.toMatch(/^@everyone/m);
  });

  it.each([
    ["plain", "`plain`"],
    ["a`b", "``a`b``"],
    ["`edge`", "`` `edge` ``"],
  ])("code(%s)", (input, expected) => {
    expect(code(input)).toBe(expected);
  });

  it("fences text with a longer fence than any it contains", () => {
    expect(fence("a\n```\nb")).toBe("````text\na\n```\nb\n````");
  });
});
