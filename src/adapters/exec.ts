// The one seam through which the engine runs external tools (helm, buildah,
// docker, git). Argument arrays only, never a shell: branch names and other
// user text reach these commands and must not be interpreted.
import { basename } from "node:path";
import { execa } from "execa";
import type { Logger } from "./logger.js";

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Stream each output line to this callback while the tool runs. */
  onLine?: (line: string) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A tool exited non-zero (or could not start): carries its output tail. */
export class ToolError extends Error {
  constructor(
    readonly tool: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(`${basename(tool)} failed with: ${lastLine(stderr) || lastLine(stdout) || `exit code ${exitCode ?? "unknown"}`}`);
    this.name = "ToolError";
  }

  /** The last lines of the tool's output, for failure reports. */
  tail(lines = 20): string {
    const text = this.stderr.trim() || this.stdout.trim();
    return text.split("\n").slice(-lines).join("\n");
  }
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "");
  return lines[lines.length - 1]?.trim() ?? "";
}

export type Runner = (tool: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>;

export function createRunner(logger: Logger): Runner {
  return async (tool, args, options = {}) => {
    logger.debug(`$ ${tool} ${args.map(quoteForLog).join(" ")}`);
    const child = execa(tool, [...args], {
      input: options.input,
      env: options.env,
      extendEnv: true,
      cwd: options.cwd,
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
      reject: false,
      stripFinalNewline: true,
      lines: false,
    });
    if (options.onLine) {
      const onLine = options.onLine;
      for (const stream of [child.stdout, child.stderr]) {
        let buffer = "";
        stream?.on("data", (chunk: Buffer) => {
          buffer += chunk.toString("utf8");
          const parts = buffer.split("\n");
          buffer = parts.pop() ?? "";
          for (const part of parts) onLine(part);
        });
      }
    }
    const result = await child;
    const stdout = String(result.stdout ?? "");
    const stderr = String(result.stderr ?? "");
    if (result.failed) {
      const reason = result.timedOut
        ? `${stderr}\ntimed out after ${options.timeoutMs} ms`
        : result.isCanceled
          ? `${stderr}\ncancelled`
          : result.exitCode === undefined
            ? `${stderr}\n${result.shortMessage}`
            : stderr;
      throw new ToolError(tool, args, result.exitCode, reason, stdout);
    }
    return { stdout, stderr, exitCode: result.exitCode ?? 0 };
  };
}

function quoteForLog(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
