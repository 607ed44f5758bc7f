// Durations as people type them in inputs and PR comments: "90m", "48h",
// "3d", "1w", "1h30m". One strict grammar for every front door, so
// `/sandbox extend 2d` and `ttl: 2d` can never mean different things.
import { InputError, quoteInput } from "./errors.js";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const WEEK = 7 * DAY;

/** Anything longer is a typo (an extra zero), not a plan: ten years. */
export const MAX_DURATION_MS = 3653 * DAY;

const UNITS: Record<string, number> = { w: WEEK, d: DAY, h: HOUR, m: MINUTE, s: SECOND };
const ORDER = "wdhms";
// Bounded repetition: real input is a few characters, and no hostile string
// can make the regex work hard.
const PART = /(\d{1,12})([a-z])/gy;
const MAX_TEXT = 64;
const EXAMPLES = "e.g. 90m, 48h, 3d, 1w or 1d12h (units: s, m, h, d, w)";

/** Parse a duration into milliseconds; throws InputError quoting the text and naming `input`. */
export function parseDuration(text: string, input?: string): number {
  const result = tryParseDuration(text);
  if (result.ok) return result.ms;
  throw new InputError(`${quoteInput(text)} is not a valid duration: ${result.why}; ${EXAMPLES}`, { input });
}

/** The same grammar without throwing, for callers that word their own message (PR comment replies). */
export function tryParseDuration(text: string): { ok: true; ms: number } | { ok: false; why: string } {
  const fail = (why: string) => ({ ok: false as const, why });
  if (typeof text !== "string") return fail("it is not text");
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "") return fail("it is empty");
  if (trimmed.length > MAX_TEXT) return fail("it is too long");
  if (trimmed.startsWith("-")) return fail("it is negative");

  let total = 0;
  let at = 0;
  let lastUnit = -1;
  while (at < trimmed.length) {
    PART.lastIndex = at;
    const match = PART.exec(trimmed);
    if (!match) {
      if (/^\d+$/.test(trimmed.slice(at))) return fail("a number needs a unit");
      // The reason never repeats user text: it may end up in a PR comment.
      return fail(`unexpected character at position ${at + 1}`);
    }
    const [, digits = "", unit = ""] = match;
    const size = UNITS[unit];
    if (size === undefined) return fail(`unknown unit "${unit}"`);
    const rank = ORDER.indexOf(unit);
    if (rank <= lastUnit) return fail("units must go from largest to smallest, each at most once");
    lastUnit = rank;
    total += Number(digits) * size;
    at = PART.lastIndex;
  }
  if (total === 0) return fail("it is zero");
  if (total > MAX_DURATION_MS) return fail("it is longer than ten years");
  return { ok: true, ms: total };
}

/** How durations are written, for messages and help. */
export const DURATION_EXAMPLES = EXAMPLES;

/**
 * The canonical short form: days, hours, minutes, seconds, largest first,
 * zero parts left out ("7d", "1d12h", "1h30m"). Weeks are not used so that
 * values stay comparable at a glance (720h reads "30d", not "4w2d").
 * Sub-second remainders round to the nearest second; parseDuration of the
 * result gives the input back for any whole number of seconds.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot format duration ${ms}`);
  let rest = Math.round(ms / SECOND) * SECOND;
  if (rest === 0) return "0s";
  let out = "";
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = UNITS[unit] as number;
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  return out;
}
