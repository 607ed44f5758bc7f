// What people read about a sandbox: the sticky PR comment and the job
// summary. Pure Markdown rendering. Branch names, errors and logs are
// hostile text: they only ever appear inside code spans or fences sized so
// nothing can break out of them (no @mentions, links or HTML injected).
import { formatDuration } from "./duration.js";
import { formatTimestamp } from "./expiry.js";

export interface ReportFacts {
  key: string;
  namespace: string;
  state: "deploying" | "ready" | "unchanged" | "failed" | "destroyed" | "extended" | "awaiting-approval" | "refused" | "building";
  url?: string;
  branch?: string;
  commit?: string;
  image?: string;
  expiresAt?: Date;
  now: Date;
  failure?: { step?: string; message: string; hint?: string; evidence?: string };
  runUrl?: string;
  note?: string;
  /** awaiting-approval: the commit a maintainer may approve, and the label that does it. */
  approval?: { commit: string; label: string };
}

const HEADLINES: Record<ReportFacts["state"], string> = {
  deploying: "⏳ Preview deploying",
  ready: "🟢 Preview ready",
  unchanged: "🟢 Preview ready (unchanged)",
  extended: "🟢 Preview extended",
  failed: "🔴 Preview failed",
  destroyed: "⚪ Preview destroyed",
  "awaiting-approval": "🟡 Preview awaiting approval",
  refused: "🟠 Preview not deployed",
  building: "🔨 Preview image building",
};

export function renderComment(f: ReportFacts): string {
  const lines = [`### ${HEADLINES[f.state]}: ${code(f.key)}`, ""];
  const rows: [string, string][] = [];
  if (f.url && f.state !== "destroyed") rows.push(["URL", f.url]);
  if (f.branch) rows.push(["Branch", code(f.branch)]);
  if (f.commit) rows.push(["Commit", code(f.commit.slice(0, 12))]);
  rows.push(["Namespace", code(f.namespace)]);
  if (f.image) rows.push(["Image", code(f.image)]);
  if (f.expiresAt && f.state !== "destroyed") rows.push(["Expires", `${formatTimestamp(f.expiresAt)} (${relative(f.expiresAt, f.now)})`]);
  lines.push("| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v} |`), "");
  if (f.note) lines.push(escapeText(f.note), "");
  if (f.approval) {
    lines.push(
      `A fork's code runs in the cluster only once a maintainer reviewed it. Review commit ${code(f.approval.commit.slice(0, 12))}, then add the label ${code(f.approval.label)} or comment ${code(`/sandbox approve ${f.approval.commit.slice(0, 12)}`)}. A later push needs a new approval.`,
      "",
    );
  }
  if (f.failure) {
    const failure = failureFacts(f.failure);
    lines.push(`**Failed at step ${code(failure.step)}:** ${code(failure.message)}`);
    if (failure.hint) lines.push("", `What to do: ${escapeText(failure.hint)}`);
    if (failure.evidence) lines.push("", "<details><summary>Evidence</summary>", "", fence(failure.evidence), "", "</details>");
    lines.push("");
  }
  if (f.state !== "destroyed" && f.state !== "awaiting-approval" && f.state !== "refused" && f.state !== "building") {
    lines.push("Keep it longer with `/sandbox extend 3d`; remove it with `/sandbox destroy`; `/sandbox help` lists every command.");
  }
  if (f.runUrl) lines.push("", `[Workflow run](${f.runUrl})`);
  return lines.join("\n");
}

export interface FailureFacts {
  step: string;
  message: string;
  hint?: string;
  evidence?: string;
}

/**
 * What a failure report shows, whatever renders it (the PR comment here,
 * the controller's dashboard as HTML): the step, the message on one line,
 * the hint, and the evidence's last 60 lines.
 */
export function failureFacts(failure: NonNullable<ReportFacts["failure"]>): FailureFacts {
  const facts: FailureFacts = { step: failure.step ?? "unknown", message: oneLine(failure.message) };
  if (failure.hint) facts.hint = failure.hint;
  if (failure.evidence) facts.evidence = tail(failure.evidence, 60);
  return facts;
}

/** One Markdown table for the job summary or the CLI's --markdown. */
export function renderSummary(rows: { key: string; result: string; url?: string; expiresAt?: Date; detail?: string }[], now: Date): string {
  const out = ["| Sandbox | Result | URL | Expires | Detail |", "|---|---|---|---|---|"];
  for (const r of rows) {
    out.push(
      `| ${code(r.key)} | ${r.result} | ${r.url ?? ""} | ${r.expiresAt ? `${formatTimestamp(r.expiresAt)} (${relative(r.expiresAt, now)})` : ""} | ${r.detail ? code(oneLine(r.detail)) : ""} |`,
    );
  }
  return out.join("\n");
}

export function relative(when: Date, now: Date): string {
  const ms = when.getTime() - now.getTime();
  if (Math.abs(ms) < 60_000) return "now";
  const text = formatDuration(Math.round(Math.abs(ms) / 60_000) * 60_000);
  return ms > 0 ? `in ${text}` : `${text} ago`;
}

/** An inline code span that the text cannot close early. Pipes are escaped for tables. */
export function code(text: string): string {
  const clean = oneLine(text).replace(/\|/g, "\\|");
  const longest = Math.max(0, ...Array.from(clean.matchAll(/`+/g), (m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  const pad = clean.startsWith("`") || clean.endsWith("`") ? " " : "";
  return `${ticks}${pad}${clean}${pad}${ticks}`;
}

/** A fenced block longer than any backtick run inside it. */
export function fence(text: string): string {
  const longest = Math.max(2, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  return `${ticks}text\n${text.replace(/\r/g, "")}\n${ticks}`;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ").slice(0, 500);
}

function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** Plain text in Markdown: neutralise mentions, HTML and link syntax. */
function escapeText(text: string): string {
  return oneLine(text).replace(/[\\`*_[\]<>#|@!]/g, (c) => `\\${c}`);
}
