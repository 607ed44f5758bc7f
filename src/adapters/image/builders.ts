// Image builders behind one interface: docker buildx on GitHub's runners,
// buildah where there is no Docker engine (this project's own machines, many
// self-hosted runners). The argument lists are pure functions for the tests.
import type { Runner } from "../exec.js";
import { isInsecureRegistry, parseImageRef } from "./registry.js";

export interface BuildRequest {
  context: string;
  dockerfile: string;
  image: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** More tags of the same image in the same repository (the commit's tag beside the content tag). */
  alsoTags?: string[];
  /**
   * Write the image to this OCI archive instead of pushing it: the
   * unprivileged build of a fork has no registry credentials, and a
   * trusted job pushes the archive (see examples/workflows).
   */
  archive?: string;
}

export interface ImageBuilder {
  readonly name: "docker" | "buildah";
  /** Builds the image and pushes it (with its extra tags) to its registry, or writes it to `archive`. */
  buildAndPush(req: BuildRequest, onLine?: (line: string) => void): Promise<void>;
}

/** `registry/name:tag` for each extra tag of the request's image. */
export function extraRefs(req: Pick<BuildRequest, "image" | "alsoTags">): string[] {
  const repository = req.image.slice(0, req.image.lastIndexOf(":"));
  return (req.alsoTags ?? []).map((tag) => `${repository}:${tag}`);
}

function commonArgs(req: BuildRequest): string[] {
  const args = ["--file", req.dockerfile, "--tag", req.image];
  for (const ref of extraRefs(req)) args.push("--tag", ref);
  for (const [key, value] of Object.entries(req.buildArgs)) args.push("--build-arg", `${key}=${value}`);
  for (const [key, value] of Object.entries(req.labels)) args.push("--label", `${key}=${value}`);
  return args;
}

export function buildahBuildArgs(req: BuildRequest): string[] {
  const insecure = isInsecureRegistry(parseImageRef(req.image).registry);
  // --layers caches each step, so a change to the addons rebuilds one layer.
  return ["build", "--layers", ...(insecure ? ["--tls-verify=false"] : []), ...commonArgs(req), req.context];
}

export function buildahPushArgs(image: string): string[] {
  const insecure = isInsecureRegistry(parseImageRef(image).registry);
  return ["push", ...(insecure ? ["--tls-verify=false"] : []), image, `docker://${image}`];
}

/** The image as an OCI archive whose one reference is the image's own (skopeo and buildah read it back). */
export function buildahArchiveArgs(image: string, archive: string): string[] {
  return ["push", image, `oci-archive:${archive}:${image}`];
}

export function dockerBuildArgs(req: BuildRequest): string[] {
  const output = req.archive ? [`--output=type=oci,dest=${req.archive}`] : ["--push"];
  return ["buildx", "build", ...output, "--provenance=false", ...commonArgs(req), req.context];
}

export class BuildahBuilder implements ImageBuilder {
  readonly name = "buildah" as const;
  constructor(
    private readonly run: Runner,
    private readonly binary = "buildah",
  ) {}
  async buildAndPush(req: BuildRequest, onLine?: (line: string) => void): Promise<void> {
    // Without a daemon and as root in a container, chroot isolation and vfs
    // storage are what works; a caller's own settings win.
    const env = {
      BUILDAH_ISOLATION: process.env.BUILDAH_ISOLATION ?? "chroot",
      STORAGE_DRIVER: process.env.STORAGE_DRIVER ?? "vfs",
    };
    await this.run(this.binary, buildahBuildArgs(req), { env, onLine });
    if (req.archive) {
      await this.run(this.binary, buildahArchiveArgs(req.image, req.archive), { env, onLine });
      return;
    }
    for (const ref of [req.image, ...extraRefs(req)]) await this.run(this.binary, buildahPushArgs(ref), { env, onLine });
  }
}

export class DockerBuilder implements ImageBuilder {
  readonly name = "docker" as const;
  constructor(
    private readonly run: Runner,
    private readonly binary = "docker",
  ) {}
  async buildAndPush(req: BuildRequest, onLine?: (line: string) => void): Promise<void> {
    await this.run(this.binary, dockerBuildArgs(req), { onLine });
  }
}

/** `auto`: docker when its engine answers, else buildah, else a clear error. */
export async function chooseBuilder(run: Runner, wanted: "auto" | "docker" | "buildah"): Promise<ImageBuilder> {
  const works = async (tool: string, args: string[]) => {
    try {
      await run(tool, args, { timeoutMs: 15_000 });
      return true;
    } catch {
      return false;
    }
  };
  if (wanted === "docker") return new DockerBuilder(run);
  if (wanted === "buildah") return new BuildahBuilder(run, process.env.BUILDAH ?? "buildah");
  if (await works("docker", ["buildx", "inspect", "--bootstrap"])) return new DockerBuilder(run);
  const buildah = process.env.BUILDAH ?? "buildah";
  if (await works(buildah, ["version"])) return new BuildahBuilder(run, buildah);
  throw new Error("no image builder: neither a Docker engine with buildx nor buildah is available (set `builder`, or install one)");
}
