// Between the one watch on sandbox namespaces and the browsers: turns each
// change into a row (rows.ts) and pushes it to every open page as a
// Server-Sent Event. A page that connects gets the whole table first, from
// memory; nothing here asks the API server. Ages and expiries are relative
// to now, so the table is sent again every minute while pages are open.
import type { NamespaceShape } from "../../adapters/kubernetes/client.js";
import type { SandboxChange } from "../../adapters/kubernetes/sandbox-watch.js";
import { type DashboardRow, dashboardRow, dashboardRows } from "./rows.js";

export interface FeedOptions {
  prefix: string;
  githubUrl: string;
  /** The namespaces held now (the watch's cache). */
  snapshot: () => NamespaceShape[];
  /** Why the view may be stale (the watch is down), or undefined. */
  problem: () => string | undefined;
  now?: () => Date;
  /** How often open pages get the whole table again (relative times); default 60 s. */
  refreshMs?: number;
  /** Most pages open at once; default 64. */
  maxClients?: number;
}

/** An open page: its stream, and how to end it. */
export interface Client {
  send(message: string): void;
  end(): void;
}

export class DashboardFeed {
  private readonly clients = new Set<Client>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly options: FeedOptions) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Whether another page would be refused. */
  get full(): boolean {
    return this.clients.size >= (this.options.maxClients ?? 64);
  }

  /** The whole table now. */
  rows(): DashboardRow[] {
    return dashboardRows(this.options.snapshot(), this.rowOptions());
  }

  /** Adds a page: it gets the table at once, then every change. Undefined when too many pages are open. */
  subscribe(client: Client): (() => void) | undefined {
    if (this.full) return undefined;
    this.clients.add(client);
    client.send(this.snapshotMessage());
    if (!this.timer) {
      this.timer = setInterval(() => this.broadcast(this.snapshotMessage()), this.options.refreshMs ?? 60_000);
      this.timer.unref();
    }
    return () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.stopTimer();
    };
  }

  /** From the watch: one namespace changed or went away. */
  changed(change: SandboxChange): void {
    if (this.clients.size === 0) return;
    if (change.type === "remove") {
      if (change.name.startsWith(this.options.prefix)) this.broadcast(message("remove", { namespace: change.name }));
      return;
    }
    const row = dashboardRow(change.namespace, this.rowOptions());
    // A namespace that stopped being one of ours (its label removed) leaves the table too.
    if (row) this.broadcast(message("upsert", row));
    else if (change.namespace.name.startsWith(this.options.prefix)) this.broadcast(message("remove", { namespace: change.namespace.name }));
  }

  /** From the watch: it went down (why) or came back (undefined). */
  health(problem: string | undefined): void {
    this.broadcast(message("health", { problem: problem ?? null }));
  }

  /** Ends every page's stream (shutdown). */
  close(): void {
    this.stopTimer();
    const open = [...this.clients];
    this.clients.clear();
    for (const client of open) client.end();
  }

  private snapshotMessage(): string {
    return message("snapshot", { rows: this.rows(), problem: this.options.problem() ?? null });
  }

  private broadcast(text: string): void {
    for (const client of this.clients) client.send(text);
  }

  private rowOptions() {
    return { prefix: this.options.prefix, githubUrl: this.options.githubUrl, now: this.options.now?.() ?? new Date() };
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * One Server-Sent Event. JSON has no raw line breaks, so hostile text in a
 * row cannot end the event early or forge another.
 */
export function message(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
