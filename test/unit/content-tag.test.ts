// The image tag is a digest of the build inputs: the same tree gives the same
// tag wherever it is checked out, and any change Docker would see gives a new one.
import { chmod, cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentTag, contextFiles, treeDigest } from "../../src/adapters/image/content-tag.js";

let root = "";
let base = "";

/** A small build context: a Dockerfile, an addon, a symlink inside it, an ignored file. */
async function makeTree(dir: string): Promise<void> {
  await mkdir(join(dir, "addons", "shop"), { recursive: true });
  await writeFile(join(dir, "Dockerfile.dev"), "FROM odoo:18.0\nCOPY addons /mnt/extra-addons\n");
  await writeFile(join(dir, "addons", "shop", "__manifest__.py"), "{'name': 'shop'}\n");
  await writeFile(join(dir, "addons", "shop", "a.py"), "A = 1\n");
  await writeFile(join(dir, "addons", "shop", "b.py"), "B = 2\n");
  await symlink("a.py", join(dir, "addons", "shop", "current.py"));
  await writeFile(join(dir, ".dockerignore"), "*.log\n");
  await writeFile(join(dir, "build.log"), "noise\n");
}

const tagOf = (dir: string, buildArgs: Record<string, string> = {}) =>
  contentTag({ context: dir, dockerfile: join(dir, "Dockerfile.dev"), buildArgs });

/** A copy of the base tree with one change applied. */
async function variant(name: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(root, name);
  await cp(base, dir, { recursive: true, verbatimSymlinks: true });
  await change(dir);
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "content-tag-"));
  base = join(root, "base");
  await makeTree(base);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("contentTag", () => {
  it("has the src-<20 hex> shape", async () => {
    expect(await tagOf(base)).toMatch(/^src-[0-9a-f]{20}$/);
  });

  it("is the same for the same tree checked out elsewhere (symlinks included)", async () => {
    const elsewhere = join(root, "deeper", "checkout");
    await mkdir(elsewhere, { recursive: true });
    await makeTree(elsewhere);
    expect(await tagOf(elsewhere)).toBe(await tagOf(base));
  });

  it.each([
    {
      name: "a symlink retargeted",
      change: (d: string) => rm(join(d, "addons/shop/current.py")).then(() => symlink("b.py", join(d, "addons/shop/current.py"))),
    },
    { name: "a file's content", change: (d: string) => writeFile(join(d, "addons/shop/a.py"), "A = 3\n") },
    {
      name: "a file renamed",
      change: (d: string) => cp(join(d, "addons/shop/b.py"), join(d, "addons/shop/c.py")).then(() => rm(join(d, "addons/shop/b.py"))),
    },
    { name: "an exec bit", change: (d: string) => chmod(join(d, "addons/shop/a.py"), 0o755) },
    { name: "the Dockerfile", change: (d: string) => writeFile(join(d, "Dockerfile.dev"), "FROM odoo:18.0\n") },
    {
      name: "a file replaced by a symlink",
      change: (d: string) => rm(join(d, "addons/shop/b.py")).then(() => symlink("a.py", join(d, "addons/shop/b.py"))),
    },
  ])("changes with $name", async ({ name, change }) => {
    const dir = await variant(name.replace(/\W+/g, "-"), change);
    expect(await tagOf(dir)).not.toBe(await tagOf(base));
  });

  it("ignores what .dockerignore leaves out", async () => {
    const dir = await variant("ignored", (d) => writeFile(join(d, "build.log"), "other noise\n"));
    expect(await contextFiles(dir)).not.toContain("build.log");
    expect(await tagOf(dir)).toBe(await tagOf(base));
  });

  it("follows the Dockerfile's own ignore file over the context's, as BuildKit and buildah do", async () => {
    // The context's .dockerignore would drop *.log; Dockerfile.dev.dockerignore keeps them
    // and drops the addon instead: the tag must see what the build sees.
    const dir = await variant("own-ignore", (d) => writeFile(join(d, "Dockerfile.dev.dockerignore"), "addons/\n"));
    const files = await contextFiles(dir, join(dir, "Dockerfile.dev"));
    expect(files).toContain("build.log");
    expect(files.some((f) => f.startsWith("addons/"))).toBe(false);
    await writeFile(join(dir, "build.log"), "changed\n");
    const before = await tagOf(dir);
    await writeFile(join(dir, "build.log"), "changed again\n");
    expect(await tagOf(dir)).not.toBe(before);
    const withAddon = await tagOf(dir);
    await writeFile(join(dir, "addons", "shop", "a.py"), "A = 42\n");
    expect(await tagOf(dir)).toBe(withAddon);
  });

  it("does not walk an excluded directory unless an exception may reach inside it", async () => {
    const dir = await variant("allow-list", async (d) => {
      await writeFile(join(d, ".dockerignore"), "*\n!addons/shop/a.py\n!keep/\n");
      await mkdir(join(d, "keep", "deep"), { recursive: true });
      await writeFile(join(d, "keep", "deep", "k.txt"), "k\n");
      await mkdir(join(d, "node_modules", "x"), { recursive: true });
      await writeFile(join(d, "node_modules", "x", "index.js"), "\n");
    });
    expect(await contextFiles(dir)).toEqual(["addons/shop/a.py", "keep/deep/k.txt"]);
  });

  it("changes with a build argument", async () => {
    expect(await tagOf(base, { ODOO_IMAGE: "odoo:18.0" })).not.toBe(await tagOf(base));
  });
});

describe("treeDigest", () => {
  it("hashes a symlink by its target, whatever the target holds", async () => {
    // A link pointing outside the tree is sent as a link: its target's content is not part of the build.
    const outside = join(root, "outside.txt");
    await writeFile(outside, "one\n");
    const dir = join(root, "link-out");
    await mkdir(dir);
    await symlink(outside, join(dir, "out"));
    const before = await treeDigest(dir);
    await writeFile(outside, "two\n");
    expect(await treeDigest(dir)).toBe(before);
  });
});
