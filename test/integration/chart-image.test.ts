// Dockerfile.dev built by buildah the way a CI-mode deploy builds it: FROM a
// stand-in for odoo:18.0 pulled from the ground's registry (the real image
// cannot be pulled here), pushed back there, then rebuilt after a code-only
// change: every layer but the addons layer must come from the cache.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groundEnv } from "../support/cluster.js";
import { repoRoot } from "../support/helm.js";

const need = groundEnv;

const run = Date.now().toString(36).slice(-5);
let work = "";
let registry = "";
let buildahPath = "";

/** buildah with its own storage under the test's directory: no cache from earlier runs, nothing left after. */
async function buildah(args: string[]): Promise<string> {
  const result = await execa(buildahPath, ["--root", join(work, "storage"), "--runroot", join(work, "run"), ...args], {
    reject: false,
    env: {
      BUILDAH_ISOLATION: process.env.BUILDAH_ISOLATION ?? "chroot",
      STORAGE_DRIVER: process.env.STORAGE_DRIVER ?? "vfs",
      CONTAINERS_REGISTRIES_CONF: need("CONTAINERS_REGISTRIES_CONF"),
    },
  });
  if (result.exitCode !== 0) throw new Error(`buildah ${args[0]} failed: ${result.stderr.split("\n").slice(-5).join("\n")}`);
  return `${result.stdout}\n${result.stderr}`;
}

interface Manifest {
  config: { digest: string };
  layers: { digest: string; size: number }[];
}

async function registryGet(path: string, accept: string): Promise<Response> {
  const response = await fetch(`http://${registry}/v2/${path}`, { headers: { Accept: accept } });
  if (!response.ok) throw new Error(`GET /v2/${path}: ${response.status}`);
  return response;
}

const MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

async function manifest(repo: string, tag: string): Promise<Manifest> {
  return (await registryGet(`${repo}/manifests/${tag}`, MANIFEST_TYPES).then((r) => r.json())) as Manifest;
}

async function imageConfig(repo: string, m: Manifest): Promise<{ config: { Labels?: Record<string, string> } }> {
  return (await registryGet(`${repo}/blobs/${m.config.digest}`, "*/*").then((r) => r.json())) as {
    config: { Labels?: Record<string, string> };
  };
}

async function layerFiles(repo: string, digest: string): Promise<string[]> {
  const blob = Buffer.from(await (await registryGet(`${repo}/blobs/${digest}`, "*/*")).arrayBuffer());
  const file = join(work, `${digest.replace(":", "-")}.tar`);
  writeFileSync(file, blob);
  const list = await execa("tar", ["-tf", file]);
  return list.stdout.split("\n").filter(Boolean);
}

const base = () => `${registry}/chart-it-${run}/odoo-standin:18.0`;
const appRepo = () => `chart-it-${run}/shop-sandbox`;

beforeAll(async () => {
  registry = need("REGISTRY");
  buildahPath = need("BUILDAH");
  work = mkdtempSync(join(tmpdir(), "chart-it-image-"));

  // The stand-in base: two small layers, like a (very) thin odoo:18.0.
  const standin = join(work, "standin");
  mkdirSync(join(standin, "etc", "odoo"), { recursive: true });
  writeFileSync(join(standin, "etc", "odoo", "odoo.conf"), "[options]\naddons_path = /mnt/extra-addons\n");
  writeFileSync(join(standin, "standin.txt"), "stand-in for odoo:18.0 on the test ground\n");
  writeFileSync(join(standin, "Containerfile"), "FROM scratch\nCOPY standin.txt /\nCOPY etc/ /etc/\nUSER 100:101\n");
  await buildah(["bud", "--layers", "-f", join(standin, "Containerfile"), "-t", base(), standin]);
  await buildah(["push", "--tls-verify=false", base(), `docker://${base()}`]);

  // A user's repository: Dockerfile.dev and .dockerignore from this one, the
  // sample addons, and bulk that must never reach the build context.
  const repo = join(work, "repo");
  mkdirSync(repo);
  cpSync(join(repoRoot, "Dockerfile.dev"), join(repo, "Dockerfile.dev"));
  cpSync(join(repoRoot, ".dockerignore"), join(repo, ".dockerignore"));
  cpSync(join(repoRoot, "examples", "sample-addons"), join(repo, "examples", "sample-addons"), { recursive: true });
  mkdirSync(join(repo, "node_modules", "big"), { recursive: true });
  writeFileSync(join(repo, "node_modules", "big", "blob.bin"), Buffer.alloc(2 * 1024 * 1024));
  mkdirSync(join(repo, ".git"));
  writeFileSync(join(repo, ".git", "HEAD"), "ref: refs/heads/main\n");
  mkdirSync(join(repo, "examples", "sample-addons", "sandbox_hello", "__pycache__"));
  writeFileSync(join(repo, "examples", "sample-addons", "sandbox_hello", "__pycache__", "x.cpython-312.pyc"), "junk");
});

afterAll(async () => {
  if (work) {
    await execa(buildahPath, ["--root", join(work, "storage"), "--runroot", join(work, "run"), "rm", "--all"], { reject: false });
    rmSync(work, { recursive: true, force: true });
  }
});

async function buildApp(tag: string, revision: string): Promise<string> {
  const repo = join(work, "repo");
  const image = `${registry}/${appRepo()}:${tag}`;
  const log = await buildah([
    "bud",
    "--layers",
    "--tls-verify=false",
    "-f",
    join(repo, "Dockerfile.dev"),
    "--build-arg",
    `ODOO_IMAGE=${base()}`,
    "--build-arg",
    "ADDONS_DIR=examples/sample-addons",
    "--build-arg",
    "SOURCE=https://github.com/acme/shop",
    "--build-arg",
    `REVISION=${revision}`,
    // As the engine does: buildah 1.28's layer cache keeps a LABEL step whose
    // ARG value changed, so the build args alone can leave a stale revision
    // label; --label is applied at commit time, after the cache.
    "--label",
    `org.opencontainers.image.revision=${revision}`,
    "-t",
    image,
    repo,
  ]);
  await buildah(["push", "--tls-verify=false", image, `docker://${image}`]);
  return log;
}

describe("Dockerfile.dev", () => {
  let first: Manifest;
  let second: Manifest;
  let secondLog = "";

  it("builds on the stand-in base from the registry and pushes", async () => {
    await buildApp("one", "1111111111111111111111111111111111111111");
    first = await manifest(appRepo(), "one");
    const baseManifest = await manifest(`chart-it-${run}/odoo-standin`, "18.0");
    // The base's layers, then exactly one layer of addons.
    expect(first.layers.slice(0, baseManifest.layers.length)).toEqual(baseManifest.layers);
    expect(first.layers.length).toBe(baseManifest.layers.length + 1);

    const labels = (await imageConfig(appRepo(), first)).config.Labels ?? {};
    expect(labels["org.opencontainers.image.source"]).toBe("https://github.com/acme/shop");
    expect(labels["org.opencontainers.image.revision"]).toBe("1111111111111111111111111111111111111111");
  });

  it("puts the addons in /mnt/extra-addons and nothing the .dockerignore keeps out", async () => {
    const files = await layerFiles(appRepo(), first.layers.at(-1)?.digest ?? "");
    const names = files.map((f) => f.replace(/^\.?\//, ""));
    expect(names).toContain("mnt/extra-addons/sandbox_hello/__manifest__.py");
    expect(names).toContain("mnt/extra-addons/sandbox_hello/models/sandbox_hello.py");
    expect(names.filter((n) => /node_modules|\.git\/|__pycache__|\.pyc$|Dockerfile/.test(n))).toEqual([]);
  });

  it("rebuilds only the addons layer after a code-only change", async () => {
    const model = join(work, "repo", "examples", "sample-addons", "sandbox_hello", "models", "sandbox_hello.py");
    writeFileSync(model, `${readFileSync(model, "utf8")}\n# a code-only change\n`);
    secondLog = await buildApp("two", "2222222222222222222222222222222222222222");
    second = await manifest(appRepo(), "two");

    const reused = second.layers.filter((l, i) => first.layers[i]?.digest === l.digest).length;
    const rebuilt = second.layers.length - reused;
    console.info(
      `[layers] first build: ${first.layers.length} layers; second build: ${second.layers.length} layers, ${reused} reused, ${rebuilt} rebuilt`,
    );
    expect(second.layers.length).toBe(first.layers.length);
    expect(rebuilt).toBe(1);
    expect(second.layers.at(-1)?.digest).not.toBe(first.layers.at(-1)?.digest);
    // The small layer really is small: the addons, not the base.
    expect(second.layers.at(-1)?.size ?? Number.POSITIVE_INFINITY).toBeLessThan(64 * 1024);
    expect(secondLog).toMatch(/Using cache/);
  });

  it("reuses every layer when only the revision changes (metadata comes last)", async () => {
    await buildApp("three", "3333333333333333333333333333333333333333");
    const third = await manifest(appRepo(), "three");
    expect(third.layers).toEqual(second.layers);
    const labels = (await imageConfig(appRepo(), third)).config.Labels ?? {};
    expect(labels["org.opencontainers.image.revision"]).toBe("3333333333333333333333333333333333333333");
  });
});
