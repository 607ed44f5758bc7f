// The project's own errors. Adapters translate library errors into these so a
// front door can always tell the user which sandbox, which step, what the tool
// said and what to do next, without knowing which library failed.

export interface SandboxErrorOptions {
  /** The sandbox key the failure concerns, when there is one. */
  sandbox?: string;
  /** The step of the operation that failed (e.g. "build", "helm upgrade"). */
  step?: string;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
  /** Evidence for the report: a tool's output tail, unready pods, events. */
  evidence?: string;
}

export class SandboxError extends Error {
  readonly sandbox?: string;
  readonly step?: string;
  readonly hint?: string;
  override readonly cause?: unknown;
  readonly evidence?: string;

  constructor(message: string, options: SandboxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SandboxError";
    this.sandbox = options.sandbox;
    this.step = options.step;
    this.hint = options.hint;
    this.cause = options.cause;
    this.evidence = options.evidence;
  }
}

/**
 * The engine declined, on purpose and politely: nothing is broken, a rule
 * said no (a cap reached, no approved or built image for the commit yet).
 * Front doors report it as `refused`, not as a failed job.
 */
export class Refusal extends SandboxError {
  constructor(message: string, options: SandboxErrorOptions = {}) {
    super(message, options);
    this.name = "Refusal";
  }
}

export interface InputErrorOptions extends SandboxErrorOptions {
  /** The name of the bad input (an action input, CLI flag or argument). */
  input?: string;
}

/** Bad user input: the message quotes the value, `input` names where it came from. */
export class InputError extends SandboxError {
  readonly input?: string;

  constructor(message: string, options: InputErrorOptions = {}) {
    super(options.input === undefined ? message : `${options.input}: ${message}`, options);
    this.name = "InputError";
    this.input = options.input;
  }
}

// Characters that make a log line lie about itself: C0/C1 controls, zero-width
// and bidirectional overrides (an RTL override can make "evil" read "live").
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what we escape
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Quote user text for an error message: double-quoted, unsafe characters
 * escaped, and cut to `max` characters so hostile megabyte inputs do not
 * flood logs or PR comments.
 */
export function quoteInput(text: unknown, max = 60): string {
  const raw = typeof text === "string" ? text : String(text);
  // Slice before Array.from so a huge input costs nothing; Array.from keeps
  // emoji (surrogate pairs) whole at the cut.
  const chars = Array.from(raw.slice(0, max * 2 + 2));
  const cut = chars.length > max;
  const shown = chars.slice(0, max).join("");
  const escaped = shown
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `"${escaped}"${cut ? `… (${raw.length} characters)` : ""}`;
}
