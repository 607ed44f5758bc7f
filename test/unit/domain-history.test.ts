import { describe, expect, it } from "vitest";
import { appendOperation, formatHistory, HISTORY_LENGTH, type OperationEntry, parseHistory } from "../../src/domain/history.js";
import { ANNOTATIONS, MAX_EVIDENCE_TEXT, namespaceMetadata, readSandboxRecord } from "../../src/domain/metadata.js";

const T = (minute: number) => new Date(Date.UTC(2026, 10, 26, 7, minute, 0));
const entry = (minute: number, result = "deployed"): OperationEntry => ({ at: T(minute), operation: "deploy", result });
const OURS = { "app.kubernetes.io/managed-by": "k8s-dev-sandbox", "k8s-dev-sandbox/key": "feature-x" };

describe("the operations history", () => {
  it("appends newest last and forgets the oldest beyond its length", () => {
    let history: OperationEntry[] | undefined;
    for (let minute = 0; minute < HISTORY_LENGTH + 3; minute++) history = appendOperation(history, entry(minute));
    expect(history).toHaveLength(HISTORY_LENGTH);
    expect(history?.[0]?.at).toEqual(T(3));
    expect(history?.at(-1)?.at).toEqual(T(HISTORY_LENGTH + 2));
  });

  it("survives the annotation: written, read back the same", () => {
    const history: OperationEntry[] = [
      { at: T(1), operation: "deploy", result: "failed", commit: "a".repeat(40), step: "helm upgrade" },
      { at: T(2), operation: "extend", result: "extended", by: "octocat" },
    ];
    expect(parseHistory(formatHistory(history))).toEqual(history);
    const { annotations } = namespaceMetadata({ key: "feature-x", history });
    const record = readSandboxRecord({ name: "dev-sandbox-feature-x", labels: OURS, annotations });
    expect(record?.history).toEqual(history);
    expect(record?.problems).toBeUndefined();
  });

  it.each([
    ["not JSON", "{nope"],
    ["not a list", '{"at":"2026-11-26T07:00:00Z"}'],
    ["a string", '"deploy"'],
  ])("a hand-edited annotation that is %s is reported as a problem, not thrown", (_what, text) => {
    const record = readSandboxRecord({ name: "dev-sandbox-feature-x", labels: OURS, annotations: { [ANNOTATIONS.history]: text } });
    expect(record?.history).toBeUndefined();
    expect(record?.problems).toEqual([ANNOTATIONS.history]);
  });

  it("keeps the readable entries of a list and skips the rest", () => {
    const text = JSON.stringify([
      { at: "2026-11-26T07:01:00Z", operation: "deploy", result: "deployed" },
      { at: "yesterday", operation: "deploy", result: "deployed" },
      { at: "2026-11-26T07:02:00Z", operation: 7, result: "deployed" },
      null,
      { at: "2026-11-26T07:03:00Z", operation: "extend", result: "extended", by: ["x"] },
    ]);
    expect(parseHistory(text)).toEqual([
      { at: T(1), operation: "deploy", result: "deployed" },
      { at: T(3), operation: "extend", result: "extended" },
    ]);
  });

  it("cuts long fields, so a hostile step name cannot grow the annotation", () => {
    const long = "x".repeat(5000);
    const text = formatHistory([{ at: T(1), operation: "deploy", result: "failed", step: long }]);
    expect(text.length).toBeLessThan(400);
    expect(parseHistory(text)?.[0]?.step?.endsWith("…")).toBe(true);
  });
});

describe("the last failure's evidence on the namespace", () => {
  it("keeps the end of long evidence (the last lines say what went wrong)", () => {
    const evidence = `${"early line\n".repeat(2000)}Error: the last line`;
    const { annotations } = namespaceMetadata({ key: "feature-x", lastEvidence: evidence, lastHint: "fix it" });
    const kept = annotations[ANNOTATIONS.lastEvidence] ?? "";
    expect(kept.length).toBe(MAX_EVIDENCE_TEXT);
    expect(kept.startsWith("…")).toBe(true);
    expect(kept.endsWith("Error: the last line")).toBe(true);
    const record = readSandboxRecord({ name: "dev-sandbox-feature-x", labels: OURS, annotations });
    expect(record?.lastEvidence).toBe(kept);
    expect(record?.lastHint).toBe("fix it");
  });
});
