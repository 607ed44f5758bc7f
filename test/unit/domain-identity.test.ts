import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/domain/errors.js";
import {
  branchKey,
  DEFAULT_PREFIX,
  isValidKey,
  keyFromNamespace,
  maxKeyLength,
  RELEASE_NAME,
  sandboxIdentity,
} from "../../src/domain/identity.js";

const hash6 = (name: string) => createHash("sha256").update(name, "utf8").digest("hex").slice(0, 6);
const DNS_1123 = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const base = { baseDomain: "preview.example.com" };

describe("sandboxIdentity", () => {
  it("follows the DESIGN example", () => {
    const id = sandboxIdentity({ ...base, branch: "feature/Login", pullRequest: 42 });
    const key = `feature-login-${hash6("feature/Login")}`;
    expect(id).toEqual({
      key,
      namespace: `dev-sandbox-${key}`,
      host: `${key}.preview.example.com`,
      url: `https://${key}.preview.example.com`,
      releaseName: RELEASE_NAME,
      branch: "feature/Login",
      pullRequest: 42,
    });
  });

  it.each([
    { input: { branch: "feature-login" }, key: "feature-login", pullRequest: null },
    { input: { branch: "refs/heads/main" }, key: "main", pullRequest: null },
    { input: { branch: "main", pullRequest: 7 }, key: "main", pullRequest: 7 },
    { input: { branch: "main", pullRequest: 7, fork: true }, key: "pr-7", pullRequest: 7 },
    { input: { branch: "", pullRequest: 7, fork: true }, key: "pr-7", pullRequest: 7 },
    { input: { branch: "feature/x", pullRequest: 12, fork: true }, key: "pr-12", pullRequest: 12 },
  ])("keys $input.branch (fork: $input.fork) as $key", ({ input, key, pullRequest }) => {
    const id = sandboxIdentity({ ...base, ...input });
    expect(id.key).toBe(key);
    expect(id.pullRequest).toBe(pullRequest);
    expect(id.branch).toBe(input.branch.replace(/^refs\/heads\//, ""));
  });

  it.each([
    { input: { prefix: "preview-" }, namespace: "preview-main", url: "https://main.preview.example.com" },
    { input: { scheme: "http" as const }, namespace: "dev-sandbox-main", url: "http://main.preview.example.com" },
    { input: { baseDomain: "Preview.Example.COM" }, namespace: "dev-sandbox-main", url: "https://main.preview.example.com" },
    { input: { baseDomain: "127.0.0.1.nip.io" }, namespace: "dev-sandbox-main", url: "https://main.127.0.0.1.nip.io" },
    { input: { baseDomain: "localhost" }, namespace: "dev-sandbox-main", url: "https://main.localhost" },
  ])("honours settings $input", ({ input, namespace, url }) => {
    const id = sandboxIdentity({ ...base, branch: "main", ...input });
    expect(id.namespace).toBe(namespace);
    expect(id.url).toBe(url);
  });

  it.each([
    { input: { branch: "" }, name: "branch" },
    { input: { branch: "refs/heads/" }, name: "branch" },
    { input: { branch: 42 as unknown as string }, name: "branch" },
    { input: { branch: "x", fork: true }, name: "pull-request" },
    { input: { branch: "x", pullRequest: 0 }, name: "pull-request" },
    { input: { branch: "x", pullRequest: -3 }, name: "pull-request" },
    { input: { branch: "x", pullRequest: 1.5 }, name: "pull-request" },
    { input: { branch: "x", prefix: "" }, name: "namespace-prefix" },
    { input: { branch: "x", prefix: "dev-sandbox" }, name: "namespace-prefix" },
    { input: { branch: "x", prefix: "Dev-" }, name: "namespace-prefix" },
    { input: { branch: "x", prefix: "1dev-" }, name: "namespace-prefix" },
    { input: { branch: "x", prefix: "dev_sandbox-" }, name: "namespace-prefix" },
    { input: { branch: "x", prefix: `${"p".repeat(47)}-` }, name: "namespace-prefix" },
    { input: { branch: "x", baseDomain: "" }, name: "base-domain" },
    { input: { branch: "x", baseDomain: "example.com." }, name: "base-domain" },
    { input: { branch: "x", baseDomain: "-bad.example.com" }, name: "base-domain" },
    { input: { branch: "x", baseDomain: "a..b" }, name: "base-domain" },
    { input: { branch: "x", baseDomain: "exa mple.com" }, name: "base-domain" },
    { input: { branch: "x", baseDomain: "bücher.de" }, name: "base-domain" },
    { input: { branch: "x", baseDomain: "https://example.com" }, name: "base-domain" },
    { input: { branch: "x", baseDomain: `${"a".repeat(64)}.com` }, name: "base-domain" },
    { input: { branch: "x", baseDomain: `${"abcdefghi.".repeat(19)}com` }, name: "base-domain" },
    { input: { branch: "x", scheme: "ftp" as "http" }, name: "url-scheme" },
  ])("rejects $input with an InputError naming $name", ({ input, name }) => {
    expect(() => sandboxIdentity({ ...base, ...input })).toThrow(InputError);
    try {
      sandboxIdentity({ ...base, ...input });
    } catch (err) {
      expect((err as InputError).input).toBe(name);
    }
  });

  it("accepts the longest prefix that leaves 16 characters", () => {
    const prefix = `${"p".repeat(46)}-`;
    const id = sandboxIdentity({ ...base, branch: "x".repeat(100), prefix });
    expect(id.key.length).toBe(16);
    expect(id.namespace.length).toBe(63);
  });
});

describe("branchKey", () => {
  it.each([
    // Already a valid key: kept as it is.
    ["feature-login", "feature-login"],
    ["main", "main"],
    ["a--b", "a--b"],
    ["x".repeat(51), "x".repeat(51)],
    // Lossy mappings get the hash of the original name.
    ["feature/Login", `feature-login-${hash6("feature/Login")}`],
    ["Main", `main-${hash6("Main")}`],
    ["release/1.2", `release-1-2-${hash6("release/1.2")}`],
    ["123-fix", `b-123-fix-${hash6("123-fix")}`],
    ["///", `b-${hash6("///")}`],
    ["日本", `b-${hash6("日本")}`],
    ["feature-", `feature-${hash6("feature-")}`],
    ["x".repeat(52), `${"x".repeat(44)}-${hash6("x".repeat(52))}`],
    // Names shaped like a hashed key or a fork key would collide with one.
    ["fix-abcdef", `fix-abcdef-${hash6("fix-abcdef")}`],
    ["pr-42", `pr-42-${hash6("pr-42")}`],
    // "Pr" slugs to "pr" and its hash happens to be all digits: pr-032727 is PR 32727's key.
    ["Pr", `pr-b-${hash6("Pr")}`],
  ])("%j -> %s", (branch, key) => {
    expect(branchKey(branch)).toBe(key);
    expect(branchKey(`refs/heads/${branch}`)).toBe(key);
  });

  it.each([[15], [64]])("refuses a key length of %d", (max) => {
    expect(() => branchKey("x", max)).toThrow(RangeError);
  });
});

describe("hostile branch names", () => {
  const corpus = [
    "feature/Login",
    "feature/login",
    "feature-login",
    "Feature-Login",
    "FEATURE/LOGIN",
    "Feature/X",
    "feature/x",
    "feature/X",
    "a/b",
    "a-b",
    "a_b",
    "a.b",
    "a b",
    "a--b",
    "a//b",
    "A/B",
    "日本語",
    "日本",
    "ブランチ/テスト",
    "🚀",
    "🚀🚀",
    "emoji-🚀",
    "مرحبا",
    "שלום/עולם",
    "evil\u202Etxt.exe",
    "zero\u200Bwidth",
    "Kelvin\u212A",
    "café",
    "cafe\u0301",
    "İstanbul",
    "x".repeat(300),
    `${"x".repeat(299)}y`,
    `${"y".repeat(299)}x`,
    `${"feature/very-long-branch-name-".repeat(5)}one`,
    `${"feature/very-long-branch-name-".repeat(5)}two`,
    "..",
    ".",
    "...",
    "a..b",
    "/leading",
    "trailing/",
    "///",
    "-",
    "--",
    "_",
    "$(rm -rf /)",
    "`whoami`",
    "a;b",
    "a|b",
    "a&b",
    "a&&b",
    "$HOME",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion is the point
    "${IFS}",
    "'quoted'",
    '"double"',
    "<script>",
    "a\nb",
    "a\tb",
    "a\0b",
    "123",
    "1-2-3",
    "0",
    "007-bond",
    "pr-1",
    "pr-42",
    "PR-42",
    "Pr",
    "pr",
    "pr/42",
    "main",
    "master",
    "fix-abcdef",
    "fix-ABCDEF",
    "release-202401",
  ];
  const keys = corpus.map((b) => branchKey(b));

  it.each(corpus.map((b, i) => [JSON.stringify(b).slice(0, 60), b, i] as const))("%s yields a valid key", (_label, branch, i) => {
    const key = keys[i] as string;
    expect(isValidKey(key)).toBe(true);
    expect(key).toMatch(/^[a-z]/);
    expect(key).toMatch(DNS_1123);
    expect(key.length).toBeLessThanOrEqual(maxKeyLength(DEFAULT_PREFIX));
    const id = sandboxIdentity({ ...base, branch });
    expect(id.namespace.length).toBeLessThanOrEqual(63);
    expect(id.namespace).toMatch(DNS_1123);
    expect(id.host.split(".")[0]).toBe(key);
    // Stable: the same name gives the same key on every call.
    expect(branchKey(branch)).toBe(key);
    expect(sandboxIdentity({ ...base, branch }).key).toBe(key);
  });

  it("never gives two branches the same key", () => {
    expect(new Set(keys).size).toBe(corpus.length);
  });

  it("never gives a branch a fork's key", () => {
    for (const key of keys) expect(key).not.toMatch(/^pr-\d+$/);
  });

  it.each([[`${"p".repeat(46)}-`], ["dev-sandbox-"], ["x-"]])("keeps keys distinct and in bounds with prefix %s", (prefix) => {
    const ids = corpus.map((branch) => sandboxIdentity({ ...base, branch, prefix }));
    expect(new Set(ids.map((id) => id.key)).size).toBe(corpus.length);
    for (const id of ids) {
      expect(id.namespace.length).toBeLessThanOrEqual(63);
      expect(id.key.length).toBeLessThanOrEqual(63);
      expect(id.namespace).toMatch(DNS_1123);
    }
  });

  it("keeps 5000 generated names valid, distinct and stable", () => {
    // Seeded mulberry32 so a failure reproduces; the alphabet mixes what
    // slugging merges (case, separators) with what it drops (unicode).
    const alphabet = ["a", "B", "z", "0", "9", "-", "_", "/", ".", " ", "é", "日", "🚀", "\u202e", "$", "`"];
    let seed = 42;
    const next = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (t ^ (t >>> 14)) >>> 0;
    };
    const names = new Set<string>();
    for (let i = 0; i < 100_000 && names.size < 5000; i++) {
      const length = 1 + (next() % 80);
      names.add(Array.from({ length }, () => alphabet[next() % alphabet.length]).join(""));
    }
    expect(names.size).toBe(5000);
    const seen = new Map<string, string>();
    for (const name of names) {
      const key = branchKey(name);
      expect(isValidKey(key) && key.length <= 51, `${JSON.stringify(name)} -> ${key}`).toBe(true);
      expect(seen.get(key), `${JSON.stringify(name)} collides`).toBeUndefined();
      seen.set(key, name);
      expect(branchKey(name)).toBe(key);
    }
  });

  it("handles a megabyte branch name", () => {
    const key = branchKey("z".repeat(1_000_000));
    expect(isValidKey(key)).toBe(true);
    expect(key).not.toBe(branchKey(`${"z".repeat(999_999)}y`));
  });
});

describe("keyFromNamespace", () => {
  it.each([
    ["dev-sandbox-main", "dev-sandbox-", "main"],
    ["dev-sandbox-feature-login-3f2a1c", "dev-sandbox-", "feature-login-3f2a1c"],
    ["dev-sandbox-pr-7", undefined, "pr-7"],
    ["preview-main", "preview-", "main"],
    ["dev-sandbox-", "dev-sandbox-", undefined],
    ["kube-system", "dev-sandbox-", undefined],
    ["dev-sandbox-1abc", "dev-sandbox-", undefined],
    ["dev-sandbox-Main", "dev-sandbox-", undefined],
    [`dev-sandbox-${"x".repeat(52)}`, "dev-sandbox-", undefined],
  ])("%s with prefix %s -> %s", (ns, prefix, key) => {
    expect(keyFromNamespace(ns, prefix)).toBe(key);
  });

  it("inverts sandboxIdentity", () => {
    for (const branch of ["main", "feature/Login", "日本"]) {
      const id = sandboxIdentity({ ...base, branch });
      expect(keyFromNamespace(id.namespace)).toBe(id.key);
    }
  });
});
