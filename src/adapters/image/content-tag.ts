// The image tag is a digest of everything that goes into the build: the
// Dockerfile, the build arguments and every file of the context that
// .dockerignore lets through. Same inputs, same tag, so a rebuild of an
// unchanged tree (a re-run, a rebase that did not touch the addons) finds the
// image in the registry and skips building and pushing altogether.
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import dockerignoreModule from "@balena/dockerignore";

// A CommonJS module whose typings declare an ES default export; `factory.default`
// points at itself, so `.default` is the factory under every module system.
const dockerignore = dockerignoreModule.default;

export interface BuildInputs {
  context: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
}

export async function contentTag(inputs: BuildInputs): Promise<string> {
  const hash = createHash("sha256");
  hash.update("dockerfile\0");
  hash.update(await readFile(inputs.dockerfile));
  for (const key of Object.keys(inputs.buildArgs).sort()) hash.update(`\0arg\0${key}=${inputs.buildArgs[key]}`);
  hash.update(await treeDigest(inputs.context, inputs.dockerfile));
  return `src-${hash.digest("hex").slice(0, 20)}`;
}

/**
 * A digest of a directory's files (names, exec bits, contents) that
 * .dockerignore lets through. A symlink goes into the build context as a
 * link, so what it points at is its content: retargeting one changes the
 * image, while the directory the tree sits in (another checkout) does not.
 */
export async function treeDigest(dir: string, dockerfile?: string): Promise<string> {
  const hash = createHash("sha256");
  for (const file of await contextFiles(dir, dockerfile)) {
    const full = join(dir, file);
    const stat = await lstat(full);
    if (stat.isSymbolicLink()) {
      hash.update(`\0link\0${file}\0`);
      hash.update(await readlink(full));
      continue;
    }
    hash.update(`\0file\0${file}\0${stat.mode & 0o111 ? "x" : "-"}\0`);
    hash.update(await readFile(full));
  }
  return hash.digest("hex");
}

/**
 * The context's files, relative and sorted, as Docker would send them. As
 * BuildKit and buildah do, an ignore file next to the Dockerfile
 * (`<Dockerfile>.dockerignore`) takes the place of the context's
 * `.dockerignore`: a tag computed from the other one could miss a file the
 * build uses and reuse a stale image.
 */
export async function contextFiles(context: string, dockerfile?: string): Promise<string[]> {
  const rules = await ignoreRules(context, dockerfile);
  const filter = dockerignore({ ignorecase: false }).add(rules);
  // An excluded directory is not walked when no exception could bring a
  // file inside it back (node_modules under a `*` rule: thousands of files).
  const exceptions = rules
    .map((rule) => rule.trim())
    .filter((rule) => rule.startsWith("!"))
    .map((rule) => rule.slice(1).replace(/^\.?\//, ""));
  const mayReinclude = (dir: string) => exceptions.some((p) => /[*?[\\]/.test(p) || p === dir || p.startsWith(`${dir}/`));
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const rel = relative(context, full).split(sep).join("/");
      if (entry.name === ".git" && dir === context) continue;
      if (entry.isDirectory()) {
        if (!filter.ignores(rel) || mayReinclude(rel)) await walk(full);
      } else if (!filter.ignores(rel)) out.push(rel);
    }
  };
  await walk(context);
  return out.sort();
}

async function ignoreRules(context: string, dockerfile?: string): Promise<string[]> {
  for (const file of [...(dockerfile ? [`${dockerfile}.dockerignore`] : []), join(context, ".dockerignore")]) {
    try {
      return (await readFile(file, "utf8")).split("\n");
    } catch {
      // not there: the next one, or everything goes
    }
  }
  return [];
}
