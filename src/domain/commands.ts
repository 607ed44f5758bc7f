// `/sandbox ...` commands in PR comments. Comments are written by anyone who
// can comment, so parsing is strict, bounded, and every reply we derive from
// one is safe to post back (no mentions, no markdown injection).
import { DURATION_EXAMPLES, tryParseDuration } from "./duration.js";

export const SLASH_COMMANDS = ["extend", "destroy", "redeploy", "status", "approve", "help"] as const;
export type SlashCommandName = (typeof SLASH_COMMANDS)[number];

export type SlashCommand =
  | { kind: "none" }
  | { kind: "command"; command: SlashCommandName; duration?: number; durationText?: string; sha?: string }
  | { kind: "invalid"; message: string };

/** A real command line is a few dozen characters; anything far longer is not one. */
export const MAX_COMMAND_LINE = 200;
const TRIGGER = "/sandbox";
const NONE: SlashCommand = { kind: "none" };

const ARGUMENTS: Partial<Record<SlashCommandName, string>> = { extend: " [duration]", approve: " <commit>" };
const USAGE = SLASH_COMMANDS.map((c) => `\`${TRIGGER} ${c}${ARGUMENTS[c] ?? ""}\``).join(", ");
// A commit named by a person: at least 7 hex digits (git's short form), at most a full SHA-256.
const SHA_PREFIX = /^[0-9a-f]{7,64}$/i;

/**
 * Parse the first line of a comment. Only a line that starts with `/sandbox`
 * followed by whitespace or its end is a command; quoted replies (`> /sandbox`)
 * and later lines are conversation, not commands.
 */
export function parseSlashCommand(body: string): SlashCommand {
  if (typeof body !== "string") return NONE;
  const start = body.search(/\S/);
  if (start < 0) return NONE;
  // Look at a bounded window only: a megabyte comment costs what a short one does.
  const window = body.slice(start, start + MAX_COMMAND_LINE + 2);
  const end = window.search(/[\r\n]/);
  const line = (end < 0 ? window : window.slice(0, end)).trimEnd();
  if (line.slice(0, TRIGGER.length).toLowerCase() !== TRIGGER) return NONE;
  if (line.length > TRIGGER.length && !/\s/.test(line.charAt(TRIGGER.length))) return NONE;
  if (line.length > MAX_COMMAND_LINE) {
    return invalid(`The command line is too long; put just the command on the first line, e.g. \`${TRIGGER} extend 48h\`.`);
  }

  const [, name, ...args] = line.split(/\s+/);
  if (name === undefined) return { kind: "command", command: "help" };
  const command = name.toLowerCase();
  if (!isCommand(command)) return invalid(`Unknown command ${code(`${TRIGGER} ${name}`)}.`);
  if (command === "extend") {
    if (args.length > 1) return invalid(`${code(`${TRIGGER} extend`)} takes one duration, got ${args.length} arguments.`);
    const text = args[0];
    if (text === undefined) return { kind: "command", command };
    const parsed = tryParseDuration(text);
    if (!parsed.ok) return invalid(`${code(text)} is not a valid duration (${parsed.why}); ${DURATION_EXAMPLES}.`);
    return { kind: "command", command, duration: parsed.ms, durationText: text };
  }
  if (command === "approve") {
    // No default: the maintainer names the commit they reviewed (see trust.ts).
    if (args.length !== 1)
      return invalid(`${code(`${TRIGGER} approve`)} takes the commit you reviewed, e.g. \`${TRIGGER} approve 1a2b3c4d\`.`);
    const sha = args[0] as string;
    if (!SHA_PREFIX.test(sha)) return invalid(`${code(sha)} is not a commit id (7 to 64 hex digits).`);
    return { kind: "command", command, sha: sha.toLowerCase() };
  }
  if (args.length > 0) return invalid(`${code(`${TRIGGER} ${command}`)} takes no arguments.`);
  return { kind: "command", command };
}

/** The reply to `/sandbox help` and to invalid commands, in GitHub markdown. */
export function helpText(options: { defaultExtend?: string; maxTtl?: string } = {}): string {
  const by = options.defaultExtend ? ` (default ${options.defaultExtend})` : "";
  const cap = options.maxTtl ? ` Expiry is capped at ${options.maxTtl} from now.` : "";
  // The first line must not itself be a command, or a bot replying with this
  // text to its own comment could loop.
  return [
    "**Sandbox commands**: put one on the first line of a PR comment. Only users with write access to the repository can run them.",
    "",
    "| Command | Effect |",
    "|---|---|",
    `| \`${TRIGGER} extend [duration]\` | Push the expiry back${by}, e.g. \`${TRIGGER} extend 48h\`, \`3d\`, \`1w\`, \`1d12h\`.${cap} |`,
    `| \`${TRIGGER} destroy\` | Remove the sandbox now. |`,
    `| \`${TRIGGER} redeploy\` | Deploy the image already built for the pull request's head commit again (nothing is built). |`,
    `| \`${TRIGGER} status\` | Show the sandbox's state, URL and expiry. |`,
    `| \`${TRIGGER} approve <commit>\` | Allow the preview of a fork's pull request at exactly that commit; a later push needs a new approval. |`,
    `| \`${TRIGGER} help\` | Show this help. |`,
  ].join("\n");
}

function isCommand(name: string): name is SlashCommandName {
  return (SLASH_COMMANDS as readonly string[]).includes(name);
}

function invalid(problem: string): SlashCommand {
  return { kind: "invalid", message: `${problem} Commands: ${USAGE}.` };
}

/**
 * User text as an inline code span: GitHub renders no mentions, links or
 * formatting inside one. Backticks cannot be escaped in a span, so they go.
 */
function code(text: string): string {
  const clean = text.replace(/`/g, "'").slice(0, 40);
  return `\`${clean}${text.length > 40 ? "…" : ""}\``;
}
