// The generated values file: the whole contract between the engine and any
// chart (DESIGN "Values contract"). It is passed after the user's own values
// files, so every key here wins; keep it to what the engine truly owns.
import { formatDuration } from "./duration.js";
import { InputError, quoteInput } from "./errors.js";
import type { SandboxIdentity } from "./identity.js";

export type SandboxMode = "ci" | "local";

export interface SandboxValues {
  sandbox: {
    key: string;
    mode: SandboxMode;
    branch: string;
    pullRequest: number | null;
    commit?: string;
    host: string;
    url: string;
    ttl: string;
    repo?: string;
    local?: { addonsHostPath: string };
  };
  odoo?: { image: string };
}

export interface SandboxValuesInput {
  identity: SandboxIdentity;
  mode: SandboxMode;
  commit?: string;
  /** Milliseconds; written in its canonical short form ("7d"). */
  ttl: number;
  /** The image reference the chart runs (CI mode). */
  image?: string;
  /** Overrides the identity's pull request, e.g. a push to a branch that has one. */
  pullRequest?: number | null;
  /** `owner/name`, for the chart's labels and NOTES. */
  repo?: string;
  /** Local mode: absolute host path of the worktree's addons, mounted into the pod. */
  localAddonsPath?: string;
}

export function sandboxValues(input: SandboxValuesInput): SandboxValues {
  const { identity, mode } = input;
  if (mode !== "ci" && mode !== "local") throw new InputError(`${quoteInput(mode)} is not a mode; use ci or local`, { input: "mode" });
  if (!Number.isFinite(input.ttl) || input.ttl <= 0)
    throw new InputError(`${quoteInput(input.ttl)} is not a positive ttl`, { input: "ttl" });
  const sandbox: SandboxValues["sandbox"] = {
    key: identity.key,
    mode,
    branch: identity.branch,
    pullRequest: input.pullRequest !== undefined ? input.pullRequest : identity.pullRequest,
    host: identity.host,
    url: identity.url,
    ttl: formatDuration(input.ttl),
  };
  // Left out rather than null when unknown (a local tree with no commit yet):
  // a chart default or a values.schema.json "string" type then still holds.
  if (input.commit) sandbox.commit = input.commit;
  if (input.repo) sandbox.repo = input.repo;
  // Only local mode mounts a worktree; in CI mode the addons are in the image
  // and a stray path must not make the chart render a host volume.
  if (mode === "local" && input.localAddonsPath) {
    if (!input.localAddonsPath.startsWith("/")) {
      throw new InputError(`${quoteInput(input.localAddonsPath)} is not an absolute path`, { input: "addons path" });
    }
    sandbox.local = { addonsHostPath: input.localAddonsPath };
  }
  const values: SandboxValues = { sandbox };
  if (input.image) values.odoo = { image: input.image };
  return values;
}
