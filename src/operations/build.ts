// build: the unprivileged half of a preview. Builds the image of the target
// commit (after checking the checkout is that commit) and pushes it, or
// writes it to an OCI archive for a trusted job to push. Touches no cluster
// and needs no secret, so it can run on a fork's pull_request where GitHub
// gives none; workflow_run then deploys what it made (examples/workflows).
import { SandboxError } from "../domain/errors.js";
import { commitTag } from "../domain/trust.js";
import { asSandboxError } from "./deploy.js";
import { buildImage, type ImageDeps, verifyBuildContext } from "./image.js";

export interface BuildOutcome {
  result: "built";
  /** The image by its content tag. */
  image: string;
  /** The image by its commit's tag: what a deploy of this commit looks up. */
  commitImage?: string;
  reused: boolean;
  archive?: string;
}

export async function build(
  deps: ImageDeps,
  target: { key: string; commit?: string },
  options: { archive?: string } = {},
): Promise<BuildOutcome> {
  let step = "build context";
  try {
    if (!deps.settings.imageRepository) {
      throw new SandboxError("command: build needs an image repository", { step: "image", hint: "set the registry (and image) inputs" });
    }
    const commit = await verifyBuildContext(deps, target.key, target.commit);
    step = "image";
    const made = await deps.logger.group("Image", () => buildImage(deps, commit, options));
    const image = made.image as string;
    const commitImage = commit ? `${deps.settings.imageRepository}:${commitTag(commit)}` : undefined;
    return { result: "built", image, commitImage, reused: made.reused, archive: options.archive };
  } catch (error) {
    throw asSandboxError(error, target.key, step);
  }
}
