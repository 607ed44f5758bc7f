// A sandbox's recent operations, kept on its namespace (annotation
// k8s-dev-sandbox/history) so every front door and every controller replica
// shows the same story. A short JSON list, newest last, bounded in entries
// and in text so the annotation stays small whatever a step's name holds.
import { formatTimestamp, parseTimestamp } from "./expiry.js";

/** How many operations a namespace remembers. */
export const HISTORY_LENGTH = 10;
const MAX_FIELD = 200;

export interface OperationEntry {
  at: Date;
  /** deploy, extend, destroy. */
  operation: string;
  /** deployed, unchanged, failed, extended, or the destroy's reason. */
  result: string;
  commit?: string;
  /** The step a failed operation stopped at. */
  step?: string;
  /** Who asked (an extend's GitHub login or CLI user). */
  by?: string;
}

/** The history with `entry` appended, oldest entries dropped beyond HISTORY_LENGTH. */
export function appendOperation(history: readonly OperationEntry[] | undefined, entry: OperationEntry): OperationEntry[] {
  return [...(history ?? []), entry].slice(-HISTORY_LENGTH);
}

export function formatHistory(history: readonly OperationEntry[]): string {
  return JSON.stringify(
    history.slice(-HISTORY_LENGTH).map((e) => ({
      at: formatTimestamp(e.at),
      operation: cut(e.operation),
      result: cut(e.result),
      ...(e.commit ? { commit: cut(e.commit) } : {}),
      ...(e.step ? { step: cut(e.step) } : {}),
      ...(e.by ? { by: cut(e.by) } : {}),
    })),
  );
}

/**
 * Reads the annotation back. Undefined when it is not a list at all (a
 * hand edit): the caller reports it as a problem. Entries that are not
 * readable are skipped, the readable ones kept.
 */
export function parseHistory(text: string): OperationEntry[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const entries: OperationEntry[] = [];
  for (const item of parsed.slice(-HISTORY_LENGTH)) {
    if (typeof item !== "object" || item === null) continue;
    const { at, operation, result, commit, step, by } = item as Record<string, unknown>;
    const when = typeof at === "string" ? parseTimestamp(at) : undefined;
    if (!when || typeof operation !== "string" || typeof result !== "string") continue;
    const entry: OperationEntry = { at: when, operation: cut(operation), result: cut(result) };
    if (typeof commit === "string" && commit) entry.commit = cut(commit);
    if (typeof step === "string" && step) entry.step = cut(step);
    if (typeof by === "string" && by) entry.by = cut(by);
    entries.push(entry);
  }
  return entries;
}

function cut(text: string): string {
  return text.length <= MAX_FIELD ? text : `${text.slice(0, MAX_FIELD - 1)}…`;
}
