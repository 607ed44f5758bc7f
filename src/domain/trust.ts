// Who and what the engine trusts before it runs code with the cluster's
// credentials. Each rule is a pure function of facts the front door gathered
// (GitHub's answers, git's HEAD, the registry's labels), so every decision is
// a table row in the tests and the reasons read the same on every front door.
// The rules fail closed: a fact that is missing or unreadable refuses.
import { quoteInput } from "./errors.js";
import { repoHash } from "./metadata.js";
import { sameRepo } from "./payload.js";

/** Roles that may run /sandbox commands and approve a fork's commit. Triage can label, but may not approve. */
export const WRITER_ROLES: ReadonlySet<string> = new Set(["admin", "maintain", "write"]);

export function mayCommand(permission: string | undefined): boolean {
  return permission !== undefined && WRITER_ROLES.has(permission);
}

/**
 * Events whose workflow runs the repository's own code on purpose, so the
 * checkout may be built: a push or a same-repository PR (written by people
 * with write access), a PR from a fork (GitHub runs it without secrets) and a
 * manual run. Every other event runs with secrets beside a checkout that is
 * not the code the event is about (`pull_request_target` and `issue_comment`
 * check out the default branch; `workflow_run` runs after the build), so the
 * engine never builds there: it deploys an image the build made.
 */
const BUILD_EVENTS: ReadonlySet<string> = new Set(["push", "pull_request", "workflow_dispatch"]);

export type ImageSource = "build" | "prebuilt";

/** Where a deploy's image comes from. A fork's code is never built by a run that holds secrets. */
export function imageSourceFor(eventName: string, target: { fork: boolean }): ImageSource {
  return BUILD_EVENTS.has(eventName) && !target.fork ? "build" : "prebuilt";
}

/**
 * Where a front door's images come from. `checkout`: the Action, which runs
 * beside a checkout and builds it on build events. `ci`: the controller,
 * which has no checkout and no Docker: it never builds, it deploys the image
 * the repository's own CI made for the commit (and may ask that CI to build
 * it, see EventSettings.buildWorkflow).
 */
export type ImageSupply = "checkout" | "ci";

/**
 * A plan as a front door with this image supply runs it. Under `ci`, a deploy
 * that would build deploys the prebuilt image of its commit instead, and
 * `command: build` does nothing; `wantsBuild` says the event was one whose
 * run would have built, so the missing image may be asked of the CI.
 */
export function planForImageSupply<P extends { operation: string; reason: string; image?: ImageSource }>(plan: P, supply: ImageSupply): P {
  if (supply === "checkout") return plan;
  if (plan.operation === "build")
    return { ...plan, operation: "skip", reason: `${plan.reason}: this front door builds nothing; the repository's CI builds images` };
  if (plan.image === "build") return { ...plan, image: "prebuilt", wantsBuild: true };
  return plan;
}

/** Why `command: build` may not run on this event, or undefined when it may. */
export function buildRefusal(eventName: string): string | undefined {
  if (BUILD_EVENTS.has(eventName)) return undefined;
  return `command: build does not run on ${quoteInput(eventName, 40)} events: their runs hold secrets next to a checkout that is not the code to build; build on push, pull_request or workflow_dispatch`;
}

/**
 * The HEAD check before a build. The image is announced as the target
 * commit's, so the build context must be that commit: a workflow that checks
 * out something else (the default branch on a comment, the dispatching ref)
 * would otherwise ship one commit's code under another's name.
 */
export function buildContextProblem(expected: string | undefined, head: string | undefined): string | undefined {
  if (expected === undefined) return "there is no target commit to check the build context against";
  if (head === undefined) return `the build context is not a git checkout, so it cannot be shown to be commit ${expected.slice(0, 12)}`;
  if (head.toLowerCase() !== expected.toLowerCase()) {
    return `the build context is at commit ${head.slice(0, 12)}, not the target commit ${expected.slice(0, 12)}`;
  }
  return undefined;
}

/** The tag under which the engine publishes the image of one commit, whatever its content tag. */
export function commitTag(commit: string): string {
  return `sha-${commit.toLowerCase()}`;
}

/**
 * Whether a registry image may be deployed as `commit`: its tag names the
 * full commit (the engine's `sha-<commit>` tag, written only after the HEAD
 * check or by the trusted job from GitHub's record of the build), or its
 * org.opencontainers.image.revision label is the commit. The label alone
 * names only the first commit that built a tree: a later commit with the same
 * tree reuses the image under its own tag, so a label naming another commit
 * refuses only when the tag does not vouch for this one.
 */
export function prebuiltImageProblem(input: { ref: string; commit: string; revision?: string }): string | undefined {
  const commit = input.commit.toLowerCase();
  const revision = input.revision?.trim().toLowerCase();
  const tag = input.ref.slice(input.ref.lastIndexOf(":") + 1).toLowerCase();
  if (tag.includes(commit) || revision === commit) return undefined;
  if (revision) {
    return `image ${input.ref} was built from commit ${revision.slice(0, 12)} (its org.opencontainers.image.revision label), not ${commit.slice(0, 12)}, and its tag does not name ${commit.slice(0, 12)}`;
  }
  return `image ${input.ref} has no org.opencontainers.image.revision label and its tag does not name commit ${commit.slice(0, 12)}`;
}

/** The commit status context that records a maintainer's approval of one fork commit. */
export const APPROVAL_CONTEXT = "k8s-dev-sandbox/approval";

export interface CommitStatusFact {
  context: string;
  state: string;
  description?: string | null;
  createdAt?: string;
}

export type ApprovalVerdict = { approved: true; by: string } | { approved: false; reason: string };

/**
 * A fork's commit may be deployed only when the newest approval status on
 * exactly that commit is `success`. A commit status is bound to one SHA by
 * GitHub itself and only someone with write access (or the engine's own
 * token) can set one; a fork's workflow token cannot. A push makes a new
 * head without one, so an approval never carries over to later commits.
 */
export function approvalVerdict(statuses: readonly CommitStatusFact[], commit: string): ApprovalVerdict {
  const ours = statuses
    .filter((s) => s.context === APPROVAL_CONTEXT)
    // The API lists newest first; sort anyway so the rule does not depend on it.
    .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""));
  const latest = ours[0];
  const short = commit.slice(0, 12);
  if (!latest) return { approved: false, reason: `commit ${short} has not been approved by a maintainer` };
  if (latest.state !== "success") {
    return { approved: false, reason: `the approval of commit ${short} was withdrawn (${latest.description ?? latest.state})` };
  }
  return { approved: true, by: latest.description ?? "a maintainer" };
}

/**
 * `/sandbox approve <sha>` names the commit the maintainer reviewed: a prefix
 * of at least 7 hex digits that must be the PR's head when the command runs.
 * Approving "whatever the head is now" would approve a push that landed
 * between the review and the comment.
 */
export function approvalShaProblem(named: string | undefined, head: string | undefined): string | undefined {
  if (!head) return "the pull request's head commit is unknown";
  if (!named) return `name the commit you reviewed: \`/sandbox approve ${head.slice(0, 12)}\``;
  if (!head.toLowerCase().startsWith(named.toLowerCase())) {
    return `commit ${named} is not the pull request's head (now ${head.slice(0, 12)}); review the new commits, then approve that one`;
  }
  return undefined;
}

/** A deploy of `commit` is stale once the PR or branch has moved on: a newer run deploys the newer commit. */
export function staleCommitProblem(commit: string | undefined, currentHead: string | undefined, what: string): string | undefined {
  if (!commit || !currentHead) return undefined;
  if (commit.toLowerCase() === currentHead.toLowerCase()) return undefined;
  return `commit ${commit.slice(0, 12)} is no longer the head of ${what} (now ${currentHead.slice(0, 12)}); the run for the newer commit deploys it`;
}

/**
 * The cap on sandboxes per repository and prefix. Only a new sandbox is
 * refused: redeploying an existing one never fails for lack of room.
 * 0 means no cap.
 */
export function capacityProblem(input: { existing: number; max: number; isNew: boolean }): string | undefined {
  if (!input.isNew || input.max <= 0 || input.existing < input.max) return undefined;
  return `this repository already has ${input.existing} sandboxes, the most max-sandboxes allows (${input.max}); destroy one (\`/sandbox destroy\` on its PR) or wait until one expires`;
}

/**
 * Whether a sandbox namespace belongs to the repository the engine serves.
 * `ours` undefined is an operator's CLI, which may act on any sandbox under
 * its prefix. Otherwise the recorded repository must be ours; a namespace
 * recording none (made by a front door that knew no repository) is not
 * taken over either.
 */
export function ownershipProblem(record: { repo?: string; repoHash?: string }, ours: string | undefined): string | undefined {
  if (!ours) return undefined;
  if (record.repoHash !== undefined && record.repoHash !== repoHash(ours)) {
    return `it belongs to ${record.repo ? `repository ${record.repo}` : "another repository"}, not ${ours}`;
  }
  if (record.repo !== undefined && !sameRepo(record.repo, ours)) return `it belongs to repository ${record.repo}, not ${ours}`;
  if (record.repo === undefined && record.repoHash === undefined) return `it records no repository, so it is not known to be ${ours}'s`;
  return undefined;
}
