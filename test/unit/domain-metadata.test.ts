import { describe, expect, it } from "vitest";
import { InputError } from "../../src/domain/errors.js";
import {
  ANNOTATIONS,
  KEY_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MANAGED_SELECTOR,
  MAX_ANNOTATION_TEXT,
  type NamespaceLike,
  namespaceMetadata,
  podSecurityLabels,
  REPO_LABEL,
  readSandboxRecord,
  repoHash,
  type SandboxRecord,
} from "../../src/domain/metadata.js";

const T1 = new Date("2025-03-10T12:00:00Z");
const T2 = new Date("2025-03-17T12:00:00Z");
const OURS = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [KEY_LABEL]: "feature-x" };

describe("constants", () => {
  it("match the DESIGN contract", () => {
    expect(MANAGED_BY_LABEL).toBe("app.kubernetes.io/managed-by");
    expect(MANAGED_BY_VALUE).toBe("k8s-dev-sandbox");
    expect(KEY_LABEL).toBe("k8s-dev-sandbox/key");
    expect(MANAGED_SELECTOR).toBe("app.kubernetes.io/managed-by=k8s-dev-sandbox");
    expect(Object.values(ANNOTATIONS).sort()).toEqual(
      [
        "repo",
        "branch",
        "pr",
        "commit",
        "image",
        "url",
        "created-at",
        "last-deployed-at",
        "expires-at",
        "extended-by",
        "keep",
        "status",
        "last-result",
        "last-error",
        "last-step",
        "last-hint",
        "last-evidence",
        "history",
        "chart",
        "values-hash",
      ]
        .map((k) => `k8s-dev-sandbox/${k}`)
        .sort(),
    );
  });
});

describe("namespaceMetadata", () => {
  it("writes every field, times as RFC 3339 UTC", () => {
    const record: SandboxRecord = {
      key: "feature-x",
      namespace: "dev-sandbox-feature-x",
      repo: "acme/shop",
      branch: "feature/X",
      pullRequest: 42,
      commit: "c".repeat(40),
      image: "reg/img:tag",
      url: "https://feature-x.example.com",
      createdAt: T1,
      lastDeployedAt: T1,
      expiresAt: T2,
      extendedBy: "octocat",
      keep: false,
      status: "ready",
      lastResult: "deployed",
      lastError: "none",
      lastStep: "wait",
      chart: "odoo-dev-sandbox-0.1.0",
      valuesHash: "abc",
      terminating: false,
    };
    expect(namespaceMetadata(record)).toEqual({
      // The owning repository is a label too, so ownership is part of what selects a namespace.
      labels: { ...OURS, [REPO_LABEL]: repoHash("acme/shop") },
      annotations: {
        "k8s-dev-sandbox/repo": "acme/shop",
        "k8s-dev-sandbox/branch": "feature/X",
        "k8s-dev-sandbox/pr": "42",
        "k8s-dev-sandbox/commit": "c".repeat(40),
        "k8s-dev-sandbox/image": "reg/img:tag",
        "k8s-dev-sandbox/url": "https://feature-x.example.com",
        "k8s-dev-sandbox/created-at": "2025-03-10T12:00:00Z",
        "k8s-dev-sandbox/last-deployed-at": "2025-03-10T12:00:00Z",
        "k8s-dev-sandbox/expires-at": "2025-03-17T12:00:00Z",
        "k8s-dev-sandbox/extended-by": "octocat",
        "k8s-dev-sandbox/keep": "false",
        "k8s-dev-sandbox/status": "ready",
        "k8s-dev-sandbox/last-result": "deployed",
        "k8s-dev-sandbox/last-error": "none",
        "k8s-dev-sandbox/last-step": "wait",
        "k8s-dev-sandbox/chart": "odoo-dev-sandbox-0.1.0",
        "k8s-dev-sandbox/values-hash": "abc",
      },
    });
  });

  it.each([
    { name: "key only", record: { key: "main" }, annotations: {} },
    { name: "keep true", record: { key: "main", keep: true }, annotations: { [ANNOTATIONS.keep]: "true" } },
    { name: "expiry only", record: { key: "main", expiresAt: T2 }, annotations: { [ANNOTATIONS.expiresAt]: "2025-03-17T12:00:00Z" } },
  ])("writes only what is given: $name", ({ record, annotations }) => {
    expect(namespaceMetadata(record).annotations).toEqual(annotations);
  });

  it("cuts long error text but never identifying fields", () => {
    const long = "e".repeat(100_000);
    const branch = `feature/${"b".repeat(300)}`;
    const { annotations } = namespaceMetadata({ key: "main", lastError: long, branch });
    expect(annotations[ANNOTATIONS.lastError]?.length).toBe(MAX_ANNOTATION_TEXT);
    expect(annotations[ANNOTATIONS.branch]).toBe(branch);
  });

  it.each([[""], ["Main"], ["x".repeat(64)], ["1abc"]])("rejects key %j", (key) => {
    expect(() => namespaceMetadata({ key })).toThrow(InputError);
  });
});

describe("readSandboxRecord", () => {
  it("round-trips namespaceMetadata", () => {
    const written = {
      key: "feature-x",
      repo: "acme/shop",
      branch: "feature/X",
      pullRequest: 42,
      commit: "c".repeat(40),
      createdAt: T1,
      expiresAt: T2,
      keep: true,
      status: "ready",
      valuesHash: "abc",
    };
    const meta = namespaceMetadata(written);
    expect(readSandboxRecord({ name: "dev-sandbox-feature-x", ...meta })).toEqual({
      ...written,
      repoHash: repoHash("acme/shop"),
      namespace: "dev-sandbox-feature-x",
      terminating: false,
    });
  });

  it.each<{ name: string; ns: NamespaceLike }>([
    { name: "no labels at all", ns: { name: "dev-sandbox-x", annotations: { [ANNOTATIONS.expiresAt]: "2000-01-01T00:00:00Z" } } },
    {
      name: "look-alike annotations, no label",
      ns: { name: "dev-sandbox-x", labels: { [KEY_LABEL]: "x" }, annotations: { [ANNOTATIONS.keep]: "false" } },
    },
    { name: "managed by someone else", ns: { name: "dev-sandbox-x", labels: { [MANAGED_BY_LABEL]: "Helm", [KEY_LABEL]: "x" } } },
    { name: "label value case differs", ns: { name: "dev-sandbox-x", labels: { [MANAGED_BY_LABEL]: "K8s-Dev-Sandbox" } } },
    { name: "garbage object", ns: null as unknown as { name: string } },
  ])("is not ours: $name", ({ ns }) => {
    expect(readSandboxRecord(ns)).toBeUndefined();
  });

  it.each<{ name: string; annotations: Record<string, string>; expected: Partial<SandboxRecord> }>([
    { name: "keep TRUE", annotations: { [ANNOTATIONS.keep]: " TRUE " }, expected: { keep: true } },
    { name: "keep yes is not true", annotations: { [ANNOTATIONS.keep]: "yes" }, expected: { keep: false } },
    {
      name: "garbled expiry",
      annotations: { [ANNOTATIONS.expiresAt]: "next tuesday" },
      expected: { expiresAt: undefined, problems: [ANNOTATIONS.expiresAt] },
    },
    { name: "offset expiry", annotations: { [ANNOTATIONS.expiresAt]: "2025-03-17T14:00:00+02:00" }, expected: { expiresAt: T2 } },
    { name: "garbled pr", annotations: { [ANNOTATIONS.pr]: "42abc" }, expected: { pullRequest: undefined, problems: [ANNOTATIONS.pr] } },
    { name: "negative pr", annotations: { [ANNOTATIONS.pr]: "-1" }, expected: { pullRequest: undefined, problems: [ANNOTATIONS.pr] } },
    { name: "empty text ignored", annotations: { [ANNOTATIONS.branch]: "" }, expected: { branch: undefined } },
  ])("reads $name", ({ annotations, expected }) => {
    const record = readSandboxRecord({ name: "dev-sandbox-feature-x", labels: OURS, annotations });
    for (const [field, value] of Object.entries(expected)) expect(record?.[field as keyof SandboxRecord]).toEqual(value);
    if (!("problems" in expected)) expect(record?.problems).toBeUndefined();
  });

  it.each([
    { name: "Date", creationTimestamp: T1, deletionTimestamp: undefined, createdAt: T1, terminating: false },
    {
      name: "string",
      creationTimestamp: "2025-03-10T12:00:00Z",
      deletionTimestamp: "2025-03-11T00:00:00Z",
      createdAt: T1,
      terminating: true,
    },
    { name: "deleting Date", creationTimestamp: undefined, deletionTimestamp: T2, createdAt: undefined, terminating: true },
  ])("takes Kubernetes timestamps ($name)", ({ creationTimestamp, deletionTimestamp, createdAt, terminating }) => {
    const record = readSandboxRecord({ name: "dev-sandbox-feature-x", labels: OURS, creationTimestamp, deletionTimestamp });
    expect(record?.createdAt).toEqual(createdAt);
    expect(record?.terminating).toBe(terminating);
  });

  it("prefers the created-at annotation over the namespace's creation time", () => {
    const record = readSandboxRecord({
      name: "n",
      labels: OURS,
      annotations: { [ANNOTATIONS.createdAt]: "2025-03-10T12:00:00Z" },
      creationTimestamp: T2,
    });
    expect(record?.createdAt).toEqual(T1);
  });

  it.each<{ name: string; labels: Record<string, string> }>([
    { name: "missing key label", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    { name: "invalid key label", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [KEY_LABEL]: "Not Valid" } },
  ])("falls back to the namespace name: $name", ({ labels }) => {
    const record = readSandboxRecord({ name: "dev-sandbox-orphan", labels });
    expect(record).toMatchObject({ key: "dev-sandbox-orphan", namespace: "dev-sandbox-orphan", keep: false, problems: [KEY_LABEL] });
  });
});

describe("podSecurityLabels", () => {
  it.each([["privileged"], ["baseline"], ["restricted"]] as const)("%s", (level) => {
    expect(podSecurityLabels(level)).toEqual({
      "pod-security.kubernetes.io/enforce": level,
      "pod-security.kubernetes.io/audit": level,
      "pod-security.kubernetes.io/warn": level,
    });
  });

  it("rejects unknown levels", () => {
    expect(() => podSecurityLabels("strict" as "baseline")).toThrow(InputError);
  });
});

describe("repoHash", () => {
  it("is a valid label value, the same whatever the case of the name, and differs per repository", () => {
    const hash = repoHash("Acme/Shop");
    expect(hash).toMatch(/^[0-9a-f]{20}$/);
    expect(repoHash("acme/shop")).toBe(hash);
    expect(repoHash("acme/shop2")).not.toBe(hash);
    expect(repoHash("other/shop")).not.toBe(hash);
  });

  it("is written only when the repository is known (the CLI knows none)", () => {
    expect(namespaceMetadata({ key: "feature-x" }).labels).toEqual(OURS);
  });
});
