// When a sandbox expires. Time is always passed in: the domain never reads the
// clock, so every rule here is testable to the millisecond.
import { HOUR } from "./duration.js";

export const DEFAULT_TTL_MS = 168 * HOUR;
export const DEFAULT_MAX_TTL_MS = 720 * HOUR;

/**
 * A deploy counts as activity: expiry moves to at least now + ttl, and a
 * longer expiry someone bought with `extend` is kept.
 */
export function expiryAfterDeploy(input: { current?: Date; now: Date; ttlMs: number }): Date {
  const fresh = input.now.getTime() + input.ttlMs;
  const current = validTime(input.current);
  return new Date(current === undefined ? fresh : Math.max(current, fresh));
}

/**
 * `extend`: max(expires-at, now) + by, capped at now + max-ttl, and never
 * shorter than it already was (a lowered max-ttl does not cut a sandbox's life).
 * `capped` says the cap took something off what was asked.
 */
export function extendExpiry(input: { current?: Date; now: Date; byMs: number; maxTtlMs: number }): { expiresAt: Date; capped: boolean } {
  const now = input.now.getTime();
  const current = validTime(input.current);
  const asked = Math.max(current ?? now, now) + input.byMs;
  const cap = now + input.maxTtlMs;
  const capped = asked > cap;
  const result = Math.max(capped ? cap : asked, current ?? Number.NEGATIVE_INFINITY);
  return { expiresAt: new Date(result), capped };
}

/** At its expiry instant a sandbox's time is up. */
export function isExpired(expiresAt: Date, now: Date): boolean {
  return now.getTime() >= expiresAt.getTime();
}

// RFC 3339 section 5.6 date-time. 'T' and 'Z' may be lowercase per the RFC;
// the space separator some tools emit is not RFC 3339 and is refused.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parse a strict RFC 3339 timestamp; undefined for anything else, including
 * impossible dates (Feb 30) that Date.parse would silently roll over, and leap
 * seconds, which Date cannot represent.
 */
export function parseTimestamp(text: string): Date | undefined {
  if (typeof text !== "string" || text.length > 40) return undefined;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // Milliseconds from the digits themselves: float maths would turn .29 into 289.
  const fraction = m[7] ? Number(`${m[7].slice(1)}00`.slice(0, 3)) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (!m[8]) {
    const offHour = Number(m[10]);
    const offMinute = Number(m[11]);
    if (offHour > 23 || offMinute > 59) return undefined;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (offHour * 60 + offMinute);
  }
  // setUTCFullYear rather than Date.UTC, which maps years 0-99 to 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, fraction);
  date.setTime(date.getTime() - offsetMinutes * 60_000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** RFC 3339 in UTC without milliseconds, the form written to annotations. */
export function formatTimestamp(date: Date): string {
  const time = date.getTime();
  if (Number.isNaN(time)) throw new RangeError("cannot format an invalid date");
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`year ${year} is outside RFC 3339`);
  return new Date(Math.floor(time / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function validTime(date: Date | undefined): number | undefined {
  if (!(date instanceof Date)) return undefined;
  const time = date.getTime();
  return Number.isNaN(time) ? undefined : time;
}
