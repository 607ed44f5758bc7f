// The dashboard's rows from namespace objects: pure, no cluster.
import { describe, expect, it } from "vitest";
import { dashboardRow, dashboardRows, githubWebUrl, httpUrl } from "../../src/controller/dashboard/rows.js";
import {
  ANNOTATIONS,
  KEY_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  type NamespaceLike,
  namespaceMetadata,
} from "../../src/domain/metadata.js";
import { failureFacts, renderComment } from "../../src/domain/report.js";

const NOW = new Date("2026-11-26T08:00:00Z");
const OPTIONS = { prefix: "dev-sandbox-", now: NOW, githubUrl: "https://github.com" };
const SHA = "0123456789abcdef0123456789abcdef01234567";

function sandbox(
  key: string,
  fields: Omit<Parameters<typeof namespaceMetadata>[0], "key"> = {},
  extra: Partial<NamespaceLike> = {},
): NamespaceLike {
  const meta = namespaceMetadata({ ...fields, key });
  return { name: `dev-sandbox-${key}`, labels: meta.labels, annotations: meta.annotations, ...extra };
}

describe("a row from a sandbox namespace", () => {
  it("shows repository, branch and PR linked to GitHub, URL, state, commit, age, expiry and last result", () => {
    const row = dashboardRow(
      sandbox("pr-7", {
        repo: "acme/shop",
        branch: "feature/ctl preview",
        pullRequest: 7,
        commit: SHA,
        url: "https://pr-7.preview.example.com",
        createdAt: new Date("2026-11-26T05:00:00Z"),
        expiresAt: new Date("2026-12-03T05:00:00Z"),
        status: "ready",
        lastResult: "deployed",
      }),
      OPTIONS,
    );
    expect(row).toMatchObject({
      key: "pr-7",
      namespace: "dev-sandbox-pr-7",
      repository: { text: "acme/shop", href: "https://github.com/acme/shop" },
      branch: { text: "feature/ctl preview", href: "https://github.com/acme/shop/tree/feature/ctl%20preview" },
      pullRequest: { text: "#7", href: "https://github.com/acme/shop/pull/7" },
      commit: { text: SHA.slice(0, 12), href: `https://github.com/acme/shop/commit/${SHA}` },
      url: "https://pr-7.preview.example.com/",
      state: "ready",
      status: "ready",
      createdAt: "2026-11-26T05:00:00Z",
      age: "3h",
      expiresAt: "2026-12-03T05:00:00Z",
      expires: "in 6d21h",
      lastResult: "deployed",
      keep: false,
      operations: [],
    });
    expect(row?.failure).toBeUndefined();
  });

  it("a failed deploy shows the failure exactly as the PR comment's renderer selects it", () => {
    const evidence = Array.from({ length: 80 }, (_, i) => `line ${i}`).join("\n");
    const failure = { step: "helm upgrade", message: "helm failed with: values don't meet the schema", hint: "fix the values", evidence };
    const row = dashboardRow(
      sandbox("broken", {
        status: "failed",
        lastResult: "failed",
        lastError: failure.message,
        lastStep: failure.step,
        lastHint: failure.hint,
        lastEvidence: failure.evidence,
      }),
      OPTIONS,
    );
    expect(row?.state).toBe("failed");
    expect(row?.failure).toEqual(failureFacts(failure));
    // The same 60 last lines the comment's Evidence block holds.
    expect(row?.failure?.evidence?.split("\n")).toHaveLength(60);
    const comment = renderComment({ key: "broken", namespace: "dev-sandbox-broken", state: "failed", now: NOW, failure });
    expect(comment).toContain(row?.failure?.evidence);
  });

  it("a sandbox deployed again after a failure shows no stale failure", () => {
    const row = dashboardRow(sandbox("fixed", { status: "ready", lastResult: "deployed", lastError: "old" }), OPTIONS);
    expect(row?.failure).toBeUndefined();
  });

  it("lists recent operations newest first, with how long ago", () => {
    const row = dashboardRow(
      sandbox("ops", {
        history: [
          { at: new Date("2026-11-26T06:00:00Z"), operation: "deploy", result: "failed", commit: SHA, step: "wait ready" },
          { at: new Date("2026-11-26T07:30:00Z"), operation: "extend", result: "extended", by: "octocat" },
        ],
      }),
      OPTIONS,
    );
    expect(row?.operations).toEqual([
      { at: "2026-11-26T07:30:00Z", when: "30m ago", operation: "extend", result: "extended", by: "octocat" },
      { at: "2026-11-26T06:00:00Z", when: "2h ago", operation: "deploy", result: "failed", commit: SHA.slice(0, 12), step: "wait ready" },
    ]);
  });

  it.each([
    ["a namespace being deleted", { deletionTimestamp: "2026-11-26T07:59:00Z" }, "ready", "deleting"],
    ["a state this version does not know", {}, "<b>new</b>", "unknown"],
    ["no state recorded", {}, undefined, "unknown"],
    ["deploying", {}, "deploying", "deploying"],
  ] as const)("%s", (_what, extra, status, state) => {
    const row = dashboardRow(sandbox("s", { ...(status ? { status } : {}) }, extra), OPTIONS);
    expect(row?.state).toBe(state);
  });

  it("a kept sandbox says it is never swept", () => {
    const row = dashboardRow(sandbox("k", { keep: true, expiresAt: new Date("2026-11-27T08:00:00Z") }), OPTIONS);
    expect(row?.expires).toBe("kept (never swept)");
  });
});

describe("hostile annotations", () => {
  it("never become links anywhere but http(s)", () => {
    const row = dashboardRow(sandbox("x", { url: "javascript:alert(1)", repo: "acme/shop", commit: 'not-a-sha"><script>' }), OPTIONS);
    expect(row?.url).toBeUndefined();
    expect(row?.commit).toEqual({ text: 'not-a-sha"><' });
    expect(row?.repository?.href).toBe("https://github.com/acme/shop");
  });

  it("a repository that is not owner/name gets no links at all", () => {
    const row = dashboardRow(sandbox("x", { repo: "javascript:alert(1)//x/y", branch: "main", pullRequest: 3, commit: SHA }), OPTIONS);
    expect(row?.repository).toEqual({ text: "javascript:alert(1)//x/y" });
    expect(row?.branch).toEqual({ text: "main" });
    expect(row?.pullRequest).toEqual({ text: "#3" });
    expect(row?.commit).toEqual({ text: SHA.slice(0, 12) });
  });

  it("a branch name with markup is kept as text, and its link path is encoded", () => {
    const branch = 'x/<script>alert(1)</script>"onmouseover="alert(2)';
    const row = dashboardRow(sandbox("x", { repo: "acme/shop", branch }), OPTIONS);
    expect(row?.branch?.text).toBe(branch);
    expect(row?.branch?.href).toBe("https://github.com/acme/shop/tree/x/%3Cscript%3Ealert(1)%3C/script%3E%22onmouseover%3D%22alert(2)");
  });

  it.each([
    ["https://a.example.com/x", "https://a.example.com/x"],
    ["http://a.example.com", "http://a.example.com/"],
    ["javascript:alert(1)", undefined],
    ["data:text/html,<script>", undefined],
    ["//evil.example.com", undefined],
    ["not a url", undefined],
    [undefined, undefined],
  ])("httpUrl(%j) = %j", (input, expected) => {
    expect(httpUrl(input)).toBe(expected);
  });
});

describe("which namespaces are rows", () => {
  it("only ours under the prefix, newest first", () => {
    const rows = dashboardRows(
      [
        sandbox("old", { createdAt: new Date("2026-11-20T00:00:00Z") }),
        sandbox("new", { createdAt: new Date("2026-11-26T00:00:00Z") }),
        { name: "dev-sandbox-lookalike", labels: { [KEY_LABEL]: "lookalike" }, annotations: { [ANNOTATIONS.repo]: "acme/shop" } },
        { name: "other-prefix-x", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [KEY_LABEL]: "x" }, annotations: {} },
      ],
      OPTIONS,
    );
    expect(rows.map((r) => r.key)).toEqual(["new", "old"]);
  });
});

describe("GitHub's web address from its API's", () => {
  it.each([
    [undefined, "https://github.com"],
    ["https://api.github.com", "https://github.com"],
    ["https://ghe.example.com/api/v3", "https://ghe.example.com"],
    ["https://ghe.example.com/api/v3/", "https://ghe.example.com"],
    ["http://127.0.0.1:4010", "http://127.0.0.1:4010"],
    ["javascript:alert(1)", "https://github.com"],
    ["nonsense", "https://github.com"],
  ])("%s → %s", (api, web) => {
    expect(githubWebUrl(api)).toBe(web);
  });
});
