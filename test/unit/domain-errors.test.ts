import { describe, expect, it } from "vitest";
import { InputError, quoteInput, SandboxError } from "../../src/domain/errors.js";

describe("SandboxError", () => {
  it("carries what a failure report needs", () => {
    const cause = new Error("boom");
    const err = new SandboxError("helm failed", { sandbox: "feature-x", step: "helm upgrade", hint: "retry", cause, evidence: "tail" });
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      name: "SandboxError",
      message: "helm failed",
      sandbox: "feature-x",
      step: "helm upgrade",
      hint: "retry",
      evidence: "tail",
    });
    expect(err.cause).toBe(cause);
  });

  it("works without options", () => {
    const err = new SandboxError("plain");
    expect(err.sandbox).toBeUndefined();
    expect(err.cause).toBeUndefined();
  });
});

describe("InputError", () => {
  it.each([
    { input: "ttl", message: "bad", expected: "ttl: bad" },
    { input: undefined, message: "bad", expected: "bad" },
  ])("names the input $input", ({ input, message, expected }) => {
    const err = new InputError(message, { input });
    expect(err).toBeInstanceOf(SandboxError);
    expect(err.name).toBe("InputError");
    expect(err.message).toBe(expected);
    expect(err.input).toBe(input);
  });
});

describe("quoteInput", () => {
  it.each([
    { text: "48h", expected: '"48h"' },
    { text: 'a"b\\c', expected: '"a\\"b\\\\c"' },
    { text: "line\nbreak", expected: '"line\\u000abreak"' },
    { text: "evil\u202Eexe", expected: '"evil\\u202eexe"' },
    { text: "zero\u200Bwidth", expected: '"zero\\u200bwidth"' },
    { text: 42, expected: '"42"' },
    { text: "日本語", expected: '"日本語"' },
  ])("quotes $text safely", ({ text, expected }) => {
    expect(quoteInput(text)).toBe(expected);
  });

  it.each([
    { text: "x".repeat(1_000_000), max: 60, shown: 60, total: 1_000_000 },
    { text: "😀".repeat(100), max: 10, shown: 10, total: 200 },
  ])("truncates long input to $max characters", ({ text, max, shown, total }) => {
    const quoted = quoteInput(text, max);
    expect(Array.from(quoted.slice(1, quoted.indexOf('"', 1))).length).toBe(shown);
    expect(quoted).toContain(`(${total} characters)`);
    expect(quoted.length).toBeLessThan(max * 2 + 40);
  });
});
