// The preview image of one commit: built from a checkout that is verified to
// be that commit, or a prebuilt one verified to carry it. Shared by deploy
// (which builds or looks up) and build (the unprivileged half of the fork
// path, which only builds).
import { headCommit } from "../adapters/git.js";
import { contentTag, contextFiles } from "../adapters/image/content-tag.js";
import { addTag, inspectImage, manifestExists } from "../adapters/image/registry.js";
import { Refusal, SandboxError } from "../domain/errors.js";
import { buildContextProblem, commitTag, prebuiltImageProblem } from "../domain/trust.js";
import type { Engine } from "./engine.js";

export type ImageDeps = Pick<Engine, "settings" | "logger" | "builder" | "run">;

export interface ImageChoice {
  /** The reference to deploy; undefined: the chart's own image. */
  image?: string;
  /** True when nothing had to be built. */
  reused: boolean;
}

/**
 * Refuses to build unless the build context's HEAD is the target commit. The
 * image is labelled and tagged with that commit, so building anything else
 * would announce one commit's code as another's. Without a target commit (the
 * CLI on a detached tree) the checkout's own HEAD, when there is one, is what
 * the image is labelled with.
 */
export async function verifyBuildContext(deps: ImageDeps, sandbox: string, commit: string | undefined): Promise<string | undefined> {
  const head = await headCommit(deps.run, deps.settings.context);
  if (commit === undefined) return head;
  const problem = buildContextProblem(commit, head);
  if (problem) {
    throw new SandboxError(`refusing to build: ${problem}`, {
      sandbox,
      step: "build context",
      hint: `check out the commit being deployed before this step (actions/checkout with ref: ${commit}); a comment's run must not build at all: it redeploys the image the build workflow made`,
    });
  }
  deps.logger.info(`build context ${deps.settings.context} is at commit ${commit.slice(0, 12)}, the target: building it`);
  return commit;
}

/**
 * Builds and pushes the context's image unless the registry already has its
 * content tag; either way the image also gets the commit's tag
 * (`sha-<commit>`), which is how comments and workflow_run find it later
 * without building. With `archive`, the image is written there instead and
 * the registry is not contacted at all.
 */
export async function buildImage(deps: ImageDeps, commit: string | undefined, options: { archive?: string } = {}): Promise<ImageChoice> {
  const { settings, logger } = deps;
  if (!settings.imageRepository) throw new SandboxError("no image repository configured: set registry (and image)", { step: "image" });
  const tag = await contentTag({ context: settings.context, dockerfile: settings.dockerfile, buildArgs: settings.buildArgs });
  const image = `${settings.imageRepository}:${tag}`;
  const alias = commit ? commitTag(commit) : undefined;
  if (!options.archive && (await manifestExists(image, settings.registryCredentials))) {
    logger.info(`${image} is already in the registry: build skipped`);
    if (alias && !settings.dryRun) {
      // The commit's tag makes the image findable by commit; without it a
      // comment's redeploy of this commit would refuse, so failing here only warns.
      await addTag(image, alias, settings.registryCredentials).then(
        () => logger.info(`tagged it ${alias} for commit ${commit?.slice(0, 12)}`),
        (error: unknown) => logger.warn(`could not tag ${image} as ${alias}: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
    return { image, reused: true };
  }
  if (settings.dryRun) {
    logger.info(`dry run: would build and push ${image}`);
    return { image, reused: false };
  }
  const builder = await deps.builder();
  logger.info(
    `building ${image} with ${builder.name} (${(await contextFiles(settings.context, settings.dockerfile)).length} files in the context)`,
  );
  const labels: Record<string, string> = { "org.opencontainers.image.title": "k8s-dev-sandbox preview" };
  if (settings.repository) labels["org.opencontainers.image.source"] = `https://github.com/${settings.repository}`;
  if (commit) labels["org.opencontainers.image.revision"] = commit;
  await builder.buildAndPush(
    {
      context: settings.context,
      dockerfile: settings.dockerfile,
      image,
      buildArgs: settings.buildArgs,
      labels,
      alsoTags: alias ? [alias] : [],
      archive: options.archive,
    },
    (line) => logger.debug(line),
  );
  logger.info(options.archive ? `wrote ${image} to ${options.archive}` : `pushed ${image}${alias ? ` and ${alias}` : ""}`);
  return { image, reused: false };
}

/** The reference a prebuilt image of `commit` has: the one given, else the commit's tag in the image repository. */
export function prebuiltRef(settings: ImageDeps["settings"], commit: string | undefined, explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (!settings.imageRepository || !commit) return undefined;
  return `${settings.imageRepository}:${commitTag(commit)}`;
}

/**
 * Looks up the image the build made for `commit`; builds nothing. Missing is
 * a polite refusal (the build has not finished, or never ran); an image that
 * says it is another commit is an error.
 */
export async function findPrebuilt(deps: ImageDeps, sandbox: string, commit: string | undefined, explicit?: string): Promise<ImageChoice> {
  const { settings, logger } = deps;
  if (!commit) {
    throw new Refusal("a prebuilt image is looked up by commit, and this deploy has none", {
      sandbox,
      step: "image",
      hint: "deploy a pull request or a branch whose head commit is known",
    });
  }
  const ref = prebuiltRef(settings, commit, explicit);
  if (!ref) {
    logger.info("no image repository configured: the chart's own image is used");
    return { reused: true };
  }
  const facts = await inspectImage(ref, settings.registryCredentials);
  if (!facts.exists) {
    throw new Refusal(`no image was built for commit ${commit.slice(0, 12)} (${ref} is not in the registry); nothing is built here`, {
      sandbox,
      step: "image",
      hint: "push a commit, or re-run the build workflow for this commit; its completion deploys the preview",
    });
  }
  const problem = prebuiltImageProblem({ ref, commit, revision: facts.revision });
  if (problem) {
    throw new SandboxError(`refusing to deploy: ${problem}`, {
      sandbox,
      step: "image",
      hint: "deploy the image the build workflow made for this commit (its sha-<commit> tag)",
    });
  }
  const says = facts.revision ? ` (built from commit ${facts.revision.slice(0, 12)})` : "";
  logger.info(`${ref} is in the registry${says}: deploying it as commit ${commit.slice(0, 12)}, nothing is built`);
  return { image: ref, reused: true };
}
