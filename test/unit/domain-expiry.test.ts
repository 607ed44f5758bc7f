import { describe, expect, it } from "vitest";
import { DAY, HOUR } from "../../src/domain/duration.js";
import {
  DEFAULT_MAX_TTL_MS,
  DEFAULT_TTL_MS,
  expiryAfterDeploy,
  extendExpiry,
  formatTimestamp,
  isExpired,
  parseTimestamp,
} from "../../src/domain/expiry.js";

const NOW = new Date("2025-03-10T12:00:00Z");
const at = (hoursFromNow: number) => new Date(NOW.getTime() + hoursFromNow * HOUR);

describe("defaults", () => {
  it("are 168h and 720h", () => {
    expect(DEFAULT_TTL_MS).toBe(168 * HOUR);
    expect(DEFAULT_MAX_TTL_MS).toBe(720 * HOUR);
  });
});

describe("expiryAfterDeploy", () => {
  it.each([
    { name: "first deploy", current: undefined, ttl: 168, expected: 168 },
    { name: "earlier expiry moves forward", current: at(10), ttl: 168, expected: 168 },
    { name: "already expired moves forward", current: at(-50), ttl: 168, expected: 168 },
    { name: "a longer extension is kept", current: at(500), ttl: 168, expected: 500 },
    { name: "invalid current is ignored", current: new Date("garbage"), ttl: 24, expected: 24 },
  ])("$name", ({ current, ttl, expected }) => {
    expect(expiryAfterDeploy({ current, now: NOW, ttlMs: ttl * HOUR })).toEqual(at(expected));
  });
});

describe("extendExpiry", () => {
  it.each([
    { name: "adds to a future expiry", current: 100, by: 48, max: 720, expected: 148, capped: false },
    { name: "counts from now when expired", current: -10, by: 48, max: 720, expected: 48, capped: false },
    { name: "counts from now without an expiry", current: undefined, by: 48, max: 720, expected: 48, capped: false },
    { name: "caps at now + max-ttl", current: 700, by: 48, max: 720, expected: 720, capped: true },
    { name: "exactly at the cap is not capped", current: 672, by: 48, max: 720, expected: 720, capped: false },
    { name: "never shortens (max-ttl lowered)", current: 800, by: 48, max: 720, expected: 800, capped: true },
    { name: "a huge request is capped", current: 10, by: 10_000, max: 720, expected: 720, capped: true },
    { name: "invalid current counts from now", current: Number.NaN, by: 5, max: 720, expected: 5, capped: false },
  ])("$name", ({ current, by, max, expected, capped }) => {
    const result = extendExpiry({
      current: current === undefined ? undefined : at(current),
      now: NOW,
      byMs: by * HOUR,
      maxTtlMs: max * HOUR,
    });
    expect(result).toEqual({ expiresAt: at(expected), capped });
  });
});

describe("isExpired", () => {
  it.each([
    { offset: -1, expired: true },
    { offset: 0, expired: true },
    { offset: 0.001, expired: false },
    { offset: 24, expired: false },
  ])("expiry at now + $offset h: $expired", ({ offset, expired }) => {
    expect(isExpired(at(offset), NOW)).toBe(expired);
  });
});

describe("parseTimestamp", () => {
  it.each([
    ["2025-03-10T12:00:00Z", "2025-03-10T12:00:00.000Z"],
    ["2025-03-10t12:00:00z", "2025-03-10T12:00:00.000Z"],
    ["2025-03-10T12:00:00.5Z", "2025-03-10T12:00:00.500Z"],
    ["2025-03-10T12:00:00.29Z", "2025-03-10T12:00:00.290Z"],
    ["2025-03-10T12:00:00.123456789Z", "2025-03-10T12:00:00.123Z"],
    ["2025-03-10T14:30:00+02:30", "2025-03-10T12:00:00.000Z"],
    ["2025-03-10T07:00:00-05:00", "2025-03-10T12:00:00.000Z"],
    ["2025-03-10T12:00:00+00:00", "2025-03-10T12:00:00.000Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
    ["2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"],
    ["0050-06-01T00:00:00Z", "0050-06-01T00:00:00.000Z"],
    ["2025-01-01T00:30:00+01:00", "2024-12-31T23:30:00.000Z"],
  ])("%s", (text, iso) => {
    expect(parseTimestamp(text)?.toISOString()).toBe(iso);
  });

  it.each([
    [""],
    ["2025-03-10"],
    ["2025-03-10 12:00:00Z"],
    ["2025-03-10T12:00:00"],
    ["2025-03-10T12:00Z"],
    ["2025-3-10T12:00:00Z"],
    ["2025-13-01T00:00:00Z"],
    ["2025-00-01T00:00:00Z"],
    ["2025-02-29T00:00:00Z"],
    ["1900-02-29T00:00:00Z"],
    ["2025-04-31T00:00:00Z"],
    ["2025-03-10T24:00:00Z"],
    ["2025-03-10T12:60:00Z"],
    ["2025-03-10T23:59:60Z"],
    ["2025-03-10T12:00:00+24:00"],
    ["2025-03-10T12:00:00+0200"],
    [" 2025-03-10T12:00:00Z"],
    ["2025-03-10T12:00:00Z "],
    ["1741608000"],
    ["tomorrow"],
    ["Mon, 10 Mar 2025 12:00:00 GMT"],
    ["2025-03-10T12:00:00.Z"],
    ["2025-03-10T12:00:00.1234567890Z"],
    ["x".repeat(100_000)],
  ])("rejects %j", (text) => {
    expect(parseTimestamp(text)).toBeUndefined();
  });

  it("rejects non-strings", () => {
    expect(parseTimestamp(undefined as unknown as string)).toBeUndefined();
  });
});

describe("formatTimestamp", () => {
  it.each([
    [new Date("2025-03-10T12:00:00.999Z"), "2025-03-10T12:00:00Z"],
    [new Date("2025-03-10T14:30:00+02:30"), "2025-03-10T12:00:00Z"],
    [new Date(0), "1970-01-01T00:00:00Z"],
    [new Date(NOW.getTime() + 7 * DAY), "2025-03-17T12:00:00Z"],
  ])("%s -> %s", (date, text) => {
    expect(formatTimestamp(date)).toBe(text);
    expect(parseTimestamp(text)?.getTime()).toBe(Math.floor(date.getTime() / 1000) * 1000);
  });

  it.each([[new Date("nope")], [new Date("+010000-01-01T00:00:00Z")], [new Date("-000001-01-01T00:00:00Z")]])("refuses %s", (date) => {
    expect(() => formatTimestamp(date)).toThrow(RangeError);
  });
});
