// The product image (images/k8s-sandbox/Dockerfile) built on the ground the
// way a user builds it, through the engine's own builder adapter, with the
// ground's stand-ins for its two bases. Tagged by content, so a second test
// (or run) with the same bundle finds it in the registry and builds nothing.
import { join } from "node:path";
import { BuildahBuilder } from "../../src/adapters/image/builders.js";
import { contentTag } from "../../src/adapters/image/content-tag.js";
import { manifestExists } from "../../src/adapters/image/registry.js";
import { createRunner } from "../../src/adapters/exec.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { groundEnv, tool } from "./cluster.js";
import { repoRoot } from "./helm.js";

export const sandboxImageDockerfile = join(repoRoot, "images", "k8s-sandbox", "Dockerfile");

/** `<registry>/k8s-sandbox:src-…` of the current bundle, built and pushed when missing. */
export async function ensureSandboxImage(): Promise<string> {
  const buildArgs = { NODE_IMAGE: groundEnv("GROUND_IMAGE_NODE"), HELM_IMAGE: groundEnv("GROUND_IMAGE_HELM") };
  const tag = await contentTag({ context: repoRoot, dockerfile: sandboxImageDockerfile, buildArgs });
  const image = `${groundEnv("REGISTRY")}/k8s-sandbox:${tag}`;
  if (await manifestExists(image)) return image;
  const logger = new MemoryLogger();
  await new BuildahBuilder(createRunner(logger), tool("BUILDAH")).buildAndPush({
    context: repoRoot,
    dockerfile: sandboxImageDockerfile,
    image,
    buildArgs,
    labels: { "org.opencontainers.image.title": "k8s-sandbox" },
  });
  return image;
}
