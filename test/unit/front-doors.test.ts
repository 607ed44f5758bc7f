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
    // The post step removes the kubeconfig written under RUNNER_TEMP, whatever became of the main step.
    expect(actionYml.runs).toEqual({ using: "node24", main: "dist/index.js", post: "dist/post.js", "post-if": "always()" });
    expect(Object.keys(actionYml.outputs).sort()).toEqual([
      "expires-at",
      "image",
      "namespace",
      "result",
      "sandbox",
      "test-verdict",
      "tests-errors",
      "tests-failed",
      "tests-run",
      "url",
    ]);
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
    // charts/sandbox-access's role, bound by the engine in each new sandbox.
    expect(inputs.settings.sandboxRole).toBe("k8s-dev-sandbox:sandbox");
    expect(inputs.forkLabel).toBe("sandbox:allow");
    expect(inputs.settings.imageRepository).toBeUndefined();
    expect(inputs.ambientCredentials).toBe(false);
    expect(inputs.settings.maxSandboxes).toBe(20);
    expect(inputs.requirePullRequest).toBe(false);
    expect(inputs.imageRef).toBeUndefined();
  });

  it("reads the prebuilt image, the archive path and the build command", () => {
    const { get } = inputsFrom({
      "base-domain": "preview.example.com",
      command: "build",
      "image-ref": "ghcr.io/acme/shop-sandbox:sha-0123",
      "image-archive": "image.tar",
      "max-sandboxes": "0",
      "ambient-credentials": "true",
    });
    const inputs = readInputs(get, "/workspace");
    expect(inputs).toMatchObject({
      command: "build",
      imageRef: "ghcr.io/acme/shop-sandbox:sha-0123",
      imageArchive: "/workspace/image.tar",
    });
    expect(inputs.ambientCredentials).toBe(true);
    expect(inputs.settings.maxSandboxes).toBe(0);
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
    [{ "image-ref": "shop-sandbox" }, /image-ref: .* is not of the form/],
    [{ "max-sandboxes": "-1" }, /max-sandboxes: "-1" is not a number/],
    [{ "ambient-credentials": "sometimes" }, /ambient-credentials/],
    [{ "sandbox-role": "a/b" }, /sandbox-role: "a\/b" is not a ClusterRole name/],
  ])("names the bad input in %j", (values, message) => {
    const { get } = inputsFrom({ "base-domain": "preview.example.com", ...values });
    expect(() => readInputs(get, "/workspace")).toThrow(message);
  });
});

describe("the sandbox role input", () => {
  it("binds nothing when set empty (a kubeconfig that has the rights already)", () => {
    const { get } = inputsFrom({ "base-domain": "preview.example.com", "sandbox-role": " " });
    expect(readInputs(get, "/workspace").settings.sandboxRole).toBeUndefined();
  });
});

describe("secrets of a kubeconfig input", () => {
  const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretline1\nQWERTYsecretline2xyz\n-----END RSA PRIVATE KEY-----\n";
  const keyData = Buffer.from(pem).toString("base64");
  const content = [
    "apiVersion: v1",
    "users:",
    "- name: token-user",
    "  user:",
    "    token: abc-token-123",
    "- name: cert-user",
    "  user:",
    `    client-key-data: ${keyData}`,
    "- name: oidc",
    "  user:",
    "    auth-provider:",
    "      name: oidc",
    "      config: { id-token: the-id-token-1, refresh-token: the-refresh-token-2, client-secret: the-client-secret-3 }",
    "- name: exec",
    "  user:",
    "    exec: { command: aws, env: [{ name: AWS_SECRET_ACCESS_KEY, value: the-aws-secret-4 }] }",
    "- name: basic",
    "  user: { username: admin, password: the-password-5 }",
  ].join("\n");

  it("registers the whole content and every credential form in it", () => {
    const secrets = kubeconfigSecrets(content);
    expect(secrets[0]).toBe(content);
    for (const value of [
      "abc-token-123",
      Buffer.from("abc-token-123").toString("base64"),
      keyData,
      // client-key-data decoded, and each line of the PEM key on its own
      pem,
      "MIIEowIBAAKCAQEAsecretline1",
      "QWERTYsecretline2xyz",
      "the-id-token-1",
      "the-refresh-token-2",
      "the-client-secret-3",
      "the-aws-secret-4",
      "the-password-5",
      Buffer.from("admin:the-password-5").toString("base64"),
    ]) {
      expect(secrets, value).toContain(value);
    }
    // PEM armour lines are not secret, and masking them would blank every certificate in the log.
    expect(secrets).not.toContain("-----BEGIN RSA PRIVATE KEY-----");
  });

  it("still masks content that is not YAML, and nothing when there is none", () => {
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
