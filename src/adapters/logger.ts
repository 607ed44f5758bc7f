// What every part of the engine logs through. Each front door supplies its
// own: the Action maps groups to `core.startGroup`, the CLI prints for people,
// the server writes JSON lines. All of them redact registered secrets.

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Runs `fn` as one named phase of the log (a foldable group on GitHub). */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Replaces every registered secret in a message; used by all loggers. */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short strings would blank out ordinary words; they are not secrets anyway.
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join("***");
    return out;
  }
}

export interface ConsoleLoggerOptions {
  verbose?: boolean;
  redactor?: Redactor;
  write?: (line: string) => void;
}

/** Plain, human output for the CLI and scripts. */
export class ConsoleLogger implements Logger {
  private depth = 0;
  private readonly write: (line: string) => void;
  private readonly redactor: Redactor;

  constructor(private readonly options: ConsoleLoggerOptions = {}) {
    this.write = options.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.redactor = options.redactor ?? new Redactor();
  }

  private emit(prefix: string, message: string): void {
    const indent = "  ".repeat(this.depth);
    for (const line of this.redactor.redact(message).split("\n")) this.write(`${indent}${prefix}${line}`);
  }

  debug(message: string): void {
    if (this.options.verbose) this.emit("debug: ", message);
  }
  info(message: string): void {
    this.emit("", message);
  }
  warn(message: string): void {
    this.emit("warning: ", message);
  }
  error(message: string): void {
    this.emit("error: ", message);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.emit("", `▸ ${name}`);
    this.depth++;
    try {
      return await fn();
    } finally {
      this.depth--;
    }
  }
}

/** Collects lines in memory; tests read them, the server ships them as JSON. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  constructor(private readonly redactor = new Redactor()) {}
  private push(level: string, message: string): void {
    this.lines.push(`${level}: ${this.redactor.redact(message)}`);
  }
  debug(message: string): void {
    this.push("debug", message);
  }
  info(message: string): void {
    this.push("info", message);
  }
  warn(message: string): void {
    this.push("warn", message);
  }
  error(message: string): void {
    this.push("error", message);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.push("group", name);
    return fn();
  }
}
