import { describe, expect, it } from "vitest";
import { DAY, formatDuration, HOUR, MINUTE, parseDuration, SECOND, tryParseDuration, WEEK } from "../../src/domain/duration.js";
import { InputError } from "../../src/domain/errors.js";

describe("parseDuration", () => {
  it.each([
    ["90m", 90 * MINUTE],
    ["48h", 48 * HOUR],
    ["3d", 3 * DAY],
    ["1w", WEEK],
    ["1h30m", HOUR + 30 * MINUTE],
    ["2w3d", 2 * WEEK + 3 * DAY],
    ["45s", 45 * SECOND],
    ["1w1d1h1m1s", WEEK + DAY + HOUR + MINUTE + SECOND],
    ["48H", 48 * HOUR],
    ["1H30M", HOUR + 30 * MINUTE],
    ["  72h \n", 72 * HOUR],
    ["0h30m", 30 * MINUTE],
    ["3653d", 3653 * DAY],
    ["007h", 7 * HOUR],
  ])("%j is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(tryParseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    ["0h", "zero"],
    ["0w0d", "zero"],
    ["-1h", "negative"],
    ["48", "needs a unit"],
    ["5y", 'unknown unit "y"'],
    ["5ms", "unexpected character"],
    ["1.5h", "unexpected character"],
    ["1h 30m", "unexpected character"],
    ["+1h", "unexpected character"],
    ["h", "unexpected character"],
    ["30m1h", "largest to smallest"],
    ["1h1h", "largest to smallest"],
    ["3654d", "ten years"],
    ["999999999999w", "ten years"],
    ["9".repeat(80), "too long"],
    ["$(rm -rf /)", "unexpected character"],
    ["４８h", "unexpected character"],
  ])("rejects %j (%s)", (text, why) => {
    const result = tryParseDuration(text);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.why).toContain(why);
    expect(() => parseDuration(text)).toThrow(InputError);
  });

  it("quotes the input, truncated, and names the setting", () => {
    const hostile = `${"x".repeat(10_000)}h`;
    let caught: unknown;
    try {
      parseDuration(hostile, "ttl");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InputError);
    const err = caught as InputError;
    expect(err.input).toBe("ttl");
    expect(err.message).toMatch(/^ttl: "x{60}"… \(10001 characters\) is not a valid duration: it is too long; e\.g\./);
    expect(err.message.length).toBeLessThan(300);
  });

  it("rejects non-strings without a TypeError", () => {
    expect(() => parseDuration(42 as unknown as string)).toThrow(InputError);
  });
});

describe("formatDuration", () => {
  it.each([
    [168 * HOUR, "7d"],
    [36 * HOUR, "1d12h"],
    [720 * HOUR, "30d"],
    [90 * MINUTE, "1h30m"],
    [48 * HOUR, "2d"],
    [45 * SECOND, "45s"],
    [DAY + SECOND, "1d1s"],
    [0, "0s"],
    [1499, "1s"],
    [1500, "2s"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([[-1], [Number.NaN], [Number.POSITIVE_INFINITY]])("refuses %d", (ms) => {
    expect(() => formatDuration(ms)).toThrow(RangeError);
  });

  it.each([["1w"], ["2w3d"], ["1h30m"], ["3652d"], ["59s"], ["1d23h59m59s"]])("round-trips %s", (text) => {
    const ms = parseDuration(text);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
