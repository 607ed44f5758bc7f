// The controller's logs: JSON lines (pino), one object per message, carrying
// the delivery id and the sandbox key as fields so one delivery's story can
// be filtered out of many running at once. Every message passes the
// Redactor first: tokens and keys never reach a log line.
import { pino, type Logger as Pino } from "pino";
import { type Logger, Redactor } from "../adapters/logger.js";

export interface JsonLoggerOptions {
  level?: string;
  /** Where lines go; default stdout. */
  destination?: NodeJS.WritableStream;
  redactor?: Redactor;
}

export class JsonLogger implements Logger {
  private constructor(
    readonly pino: Pino,
    private readonly redactor: Redactor,
  ) {}

  static create(options: JsonLoggerOptions = {}): JsonLogger {
    const redactor = options.redactor ?? new Redactor();
    const base = pino(
      {
        level: options.level ?? "info",
        base: { service: "k8s-sandbox-controller" },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        // Headers of a request may carry credentials; fastify's request logging is off, and this is the fallback.
        redact: ["req.headers.authorization", "req.headers['x-hub-signature-256']", "req.headers['x-hub-signature']"],
      },
      (options.destination ?? process.stdout) as pino.DestinationStream,
    );
    return new JsonLogger(base, redactor);
  }

  /** A logger whose every line also carries these fields (delivery, sandbox, event). */
  child(fields: Record<string, string | number | undefined>): JsonLogger {
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    return new JsonLogger(this.pino.child(defined), this.redactor);
  }

  debug(message: string): void {
    this.pino.debug(this.redactor.redact(message));
  }
  info(message: string): void {
    this.pino.info(this.redactor.redact(message));
  }
  warn(message: string): void {
    this.pino.warn(this.redactor.redact(message));
  }
  error(message: string): void {
    this.pino.error(this.redactor.redact(message));
  }
  /** A phase of an operation: its lines carry the phase, and its end says how long it took. */
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.pino.debug({ phase: name, ms: Math.round(performance.now() - started) }, `${this.redactor.redact(name)}: done`);
    }
  }
}
