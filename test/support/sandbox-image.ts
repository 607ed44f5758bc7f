// The product image (images/k8s-sandbox/Dockerfile) built on the ground the
// way a user builds it, through the engine's own builder adapter, with the
// ground's stand-ins for its two bases. Tagged by content, so a second test
// (or run) with the same bundle finds it in the registry and builds nothing.
//
// By default the image holds the committed bundle (dist/cli.js), as users
// get it. `fromSource: true` bundles the current source first (into a
// temporary context; dist/ is never touched), for tests of code that is not
// bundled yet: the lead rebundles dist/ only after merging.
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { BuildahBuilder } from "../../src/adapters/image/builders.js";
import { contentTag } from "../../src/adapters/image/content-tag.js";
import { manifestExists } from "../../src/adapters/image/registry.js";
import { createRunner } from "../../src/adapters/exec.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { groundEnv, tool } from "./cluster.js";
import { repoRoot } from "./helm.js";

export const sandboxImageDockerfile = join(repoRoot, "images", "k8s-sandbox", "Dockerfile");

/** `<registry>/k8s-sandbox:src-…` of the current bundle, built and pushed when missing. */
export async function ensureSandboxImage(options: { fromSource?: boolean } = {}): Promise<string> {
  const context = options.fromSource ? await sourceContext() : repoRoot;
  try {
    const buildArgs = { NODE_IMAGE: groundEnv("GROUND_IMAGE_NODE"), HELM_IMAGE: groundEnv("GROUND_IMAGE_HELM") };
    const tag = await contentTag({ context, dockerfile: sandboxImageDockerfile, buildArgs });
    const image = `${groundEnv("REGISTRY")}/k8s-sandbox:${tag}`;
    if (await manifestExists(image)) return image;
    const logger = new MemoryLogger();
    await new BuildahBuilder(createRunner(logger), tool("BUILDAH")).buildAndPush({
      context,
      dockerfile: sandboxImageDockerfile,
      image,
      buildArgs,
      labels: { "org.opencontainers.image.title": "k8s-sandbox" },
    });
    return image;
  } finally {
    if (context !== repoRoot) await rm(context, { recursive: true, force: true });
  }
}

/** A build context like the repository's, with dist/ bundled from the current source (scripts/bundle.mjs). */
async function sourceContext(): Promise<string> {
  const context = await mkdtemp(join(tmpdir(), "k8s-sandbox-image-"));
  await execa("node", [join(repoRoot, "scripts", "bundle.mjs"), join(context, "dist")], { cwd: repoRoot });
  await mkdir(join(context, "bin"), { recursive: true });
  await cp(join(repoRoot, "package.json"), join(context, "package.json"));
  await cp(join(repoRoot, "bin", "k8s-sandbox.js"), join(context, "bin", "k8s-sandbox.js"));
  await cp(join(repoRoot, "charts", "odoo-dev-sandbox"), join(context, "charts", "odoo-dev-sandbox"), { recursive: true });
  return context;
}
