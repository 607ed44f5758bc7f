// /metrics: requests by route and code (counted as they are answered), jobs
// by type and result and workspaces by state (read from the cluster and the
// store at scrape time, so they are right after a restart too).
import { Counter, Gauge, Registry } from "prom-client";
import type { JobFact, WorkspaceRecord } from "../domain/workspace/observe.js";

const SNAPSHOT_REUSE_MS = 5_000;

export type WorkspaceState = "running" | "starting" | "stopped" | "archived" | "deleting";

/** One state per workspace, for the gauge: what a dashboard wants to count. */
export function workspaceState(w: WorkspaceRecord): WorkspaceState {
  if (w.container?.running) return "running";
  if (w.container) return "starting";
  if (w.volume) return "stopped";
  if (w.archive) return "archived";
  return "deleting";
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "code">;

  constructor(snapshot: () => Promise<{ workspaces: WorkspaceRecord[]; jobs: JobFact[] }>, onError: (error: unknown) => void) {
    this.requests = new Counter({
      name: "agent_http_requests_total",
      help: "HTTP requests answered, by method, route template and status code",
      labelNames: ["method", "route", "code"],
      registers: [this.registry],
    });
    let pending: Promise<{ workspaces: WorkspaceRecord[]; jobs: JobFact[] } | undefined> | undefined;
    // Both gauges read one snapshot, reused for a few seconds: /metrics is open
    // (the contract), so scrapes must not turn into a list of everything each.
    const shared = () => {
      pending ??= snapshot()
        .catch((error: unknown) => {
          onError(error);
          return undefined;
        })
        .finally(() => {
          setTimeout(() => {
            pending = undefined;
          }, SNAPSHOT_REUSE_MS).unref();
        });
      return pending;
    };
    new Gauge({
      name: "agent_workspaces",
      help: "Workspaces by state (running, starting, stopped, archived, deleting)",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        const snap = await shared();
        if (!snap) return;
        this.reset();
        for (const state of ["running", "starting", "stopped", "archived", "deleting"] as const) this.set({ state }, 0);
        for (const w of snap.workspaces) this.inc({ state: workspaceState(w) });
      },
    });
    new Gauge({
      name: "agent_jobs",
      help: "Storage Jobs present in the workspace namespace, by type (archive, restore) and result (running, succeeded, failed)",
      labelNames: ["type", "result"],
      registers: [this.registry],
      async collect() {
        const snap = await shared();
        if (!snap) return;
        this.reset();
        for (const type of ["archive", "restore"] as const)
          for (const result of ["running", "succeeded", "failed"] as const) this.set({ type, result }, 0);
        for (const j of snap.jobs) this.inc({ type: j.type, result: j.state });
      },
    });
  }

  countRequest(method: string, route: string, code: number): void {
    this.requests.inc({ method, route, code: String(code) });
  }
}
