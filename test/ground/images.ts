// The test ground's own container images, built from Debian packages because
// nothing can be pulled from Docker Hub here: a bookworm base made by
// debootstrap, and on it stand-ins with the contracts of the images the chart
// uses (pause, postgres, nginx-unprivileged, a Python tool image, odoo:18.0),
// the workspace agent's default workspace image (a code-server stand-in), and
// the agent's storage-job image, built from the product's own
// images/storage-job/Dockerfile on this base. Definitions live in
// test/ground/images/<name>/ (the storage job's in images/storage-job/).
// Also pgAdmin 4 from its PyPI wheel, and stand-ins for the two bases of the
// product image images/k8s-sandbox (node:24-bookworm-slim, alpine/helm).
//
// Every image is tagged by a digest of what makes it (its Containerfile and
// context files, and the base's tag), and the registry is asked first: a warm
// run builds nothing and takes well under a second. Each built image is also
// kept as an oci-archive in <cacheDir>/images/, so a purged registry is
// refilled by `skopeo copy` instead of a rebuild; the debootstrap tree is kept
// there as a tarball, so even a new base skips the minute of debootstrap.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { copyFile, cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { contentTag } from "../../src/adapters/image/content-tag.js";
import { binaryPaths, groundSourceDir } from "./paths.js";

/** The product's images (images/ at the repository's root), which the ground builds on its base too. */
const productImagesDir = join(groundSourceDir, "..", "..", "images");
import { isAlive } from "./processes.js";

export interface GroundImages {
  pause: string;
  postgres: string;
  nginx: string;
  python: string;
  odooStandin: string;
  /** AGENT_RUNTIME_DEFAULT_IMAGE on the ground: not code-server (see images/code-server-standin). */
  codeServerStandin: string;
  /** AGENT_RUNTIME_STORAGE_JOB_IMAGE: images/storage-job/Dockerfile, FROM the ground's debian. */
  storageJob: string;
  pgadmin: string;
  /** Stand-ins for the two bases of images/k8s-sandbox (node:24-bookworm-slim, alpine/helm). */
  node: string;
  helm: string;
}

export interface GroundImagesOptions {
  /** The ground's registry, "127.0.0.1:PORT" (plain HTTP). */
  registry: string;
  /** A registries.conf marking that registry insecure, for buildah and skopeo. */
  registriesConf: string;
  /** Where the debootstrap tarball, the oci-archives and the build logs are kept. */
  cacheDir: string;
  log: (message: string) => void;
  /** The image definitions; test/ground/images unless a test or a trial points elsewhere. */
  sourceDir?: string;
}

/** present: already in the registry; restored: copied from the cached archive; built: built now. */
export type ImageAction = "present" | "restored" | "built";

export interface GroundImagesReport {
  images: GroundImages;
  /** The base every image but pause is built FROM. */
  base: string;
  actions: Record<keyof GroundImages | "base", ImageAction>;
  seconds: number;
}

/** Bump to rebuild every image after a change of how they are built (this file). */
const RECIPE = "1";
const SUITE = "bookworm";
const NAMES = [
  "pause",
  "postgres",
  "nginx",
  "python",
  "odooStandin",
  "codeServerStandin",
  "storageJob",
  "pgadmin",
  "node",
  "helm",
] as const;
const DIRS: Record<keyof GroundImages, string> = {
  pause: "pause",
  postgres: "postgres",
  nginx: "nginx",
  python: "python",
  odooStandin: "odoo-standin",
  codeServerStandin: "code-server-standin",
  storageJob: "storage-job",
  pgadmin: "pgadmin",
  node: "node",
  helm: "helm",
};
/** Files from outside an image's directory that its build context needs (copied in for the build). */
const EXTRA_CONTEXT: Partial<Record<keyof GroundImages, () => { source: string; name: string }[]>> = {
  helm: () => [{ source: binaryPaths().helm3, name: "helm" }],
};
/** Images whose definition is the product's own, with the file users build. */
const PRODUCT: Partial<Record<keyof GroundImages, string>> = { storageJob: "Dockerfile" };
const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

export async function ensureGroundImages(options: GroundImagesOptions): Promise<GroundImages> {
  return (await buildGroundImages(options)).images;
}

/** ensureGroundImages with what it did for each image, for tests and logs. */
export async function buildGroundImages(options: GroundImagesOptions): Promise<GroundImagesReport> {
  const started = Date.now();
  const cache = join(options.cacheDir, "images");
  mkdirSync(join(cache, "logs"), { recursive: true });
  const ctx: Context = { ...options, cache, sources: options.sourceDir ?? join(groundSourceDir, "images") };
  const plan = await planImages(ctx);
  const report = (actions: GroundImagesReport["actions"]): GroundImagesReport => {
    const seconds = (Date.now() - started) / 1000;
    const count = (action: ImageAction) => Object.values(actions).filter((a) => a === action).length;
    options.log(
      `ground images: ${count("present")} present, ${count("restored")} restored from ${cache}, ${count("built")} built (${seconds.toFixed(1)}s)`,
    );
    return { images: plan.images, base: plan.base, actions, seconds };
  };
  // Everything in the registry already: nothing to wait for another build's lock about.
  const present = await Promise.all([
    inRegistry(ctx.registry, "ground/debian", plan.baseTag),
    ...plan.items.map((item) => inRegistry(ctx.registry, `ground/${item.repo}`, item.tag)),
  ]);
  if (present.every(Boolean)) {
    return report(Object.fromEntries([["base", "present"], ...NAMES.map((n) => [n, "present"])]) as GroundImagesReport["actions"]);
  }
  return withLock(join(cache, "lock"), options.log, async () => {
    const actions = {} as GroundImagesReport["actions"];
    actions.base = await ensureImage(ctx, "debian", plan.baseTag, () => buildBase(ctx, plan.base, plan.apt, plan.rootfsKey));
    for (const { name, repo, tag, dir, file, image, extras } of plan.items) {
      actions[name] = await ensureImage(ctx, repo, tag, async () => {
        if (name === "pause") return buildPause(ctx, image, dir);
        if (extras.length === 0) return buildFromContainerfile(ctx, image, dir, file, plan.base);
        const staged = await stagedContext(ctx, dir, extras);
        try {
          await buildFromContainerfile(ctx, image, staged, join(staged, basename(file)), plan.base);
        } finally {
          await rm(staged, { recursive: true, force: true });
        }
      });
    }
    return report(actions);
  });
}

interface Plan {
  apt: AptSources;
  rootfsKey: string;
  baseTag: string;
  base: string;
  images: GroundImages;
  items: {
    name: keyof GroundImages;
    repo: string;
    tag: string;
    dir: string;
    file: string;
    image: string;
    extras: { source: string; name: string }[];
  }[];
}

/** Every image's reference, from the digests of what makes it (nothing is built or asked here). */
async function planImages(ctx: Context): Promise<Plan> {
  const apt = readAptSources();
  const rootfsKey = await rootfsKeyOf(apt);
  const setup = await readFile(join(ctx.sources, "debian", "setup.sh"));
  const baseTag = `${SUITE}-${digest([RECIPE, rootfsKey, apt.text, setup]).slice(0, 20)}`;
  const images = {} as GroundImages;
  const items: Plan["items"] = [];
  for (const name of NAMES) {
    const product = PRODUCT[name];
    const dir = join(product ? productImagesDir : ctx.sources, DIRS[name]);
    const file = join(dir, product ?? "Containerfile");
    const repo = DIRS[name];
    const extras = EXTRA_CONTEXT[name]?.() ?? [];
    // Files copied into the context count by their content, as if they were there.
    const extraDigests = Object.fromEntries(
      await Promise.all(extras.map(async (f) => [`CONTEXT_FILE_${f.name}`, digest([await readFile(f.source)])] as const)),
    );
    // The base by name and tag, not by registry: the registry's port changes
    // with every start of the ground, and that must not change any tag.
    const tag = await contentTag({
      context: dir,
      dockerfile: file,
      buildArgs: name === "pause" ? { RECIPE } : { RECIPE, BASE_IMAGE: `ground/debian:${baseTag}`, ...extraDigests },
    });
    images[name] = ref(ctx, repo, tag);
    items.push({ name, repo, tag, dir, file, image: images[name], extras });
  }
  return { apt, rootfsKey, baseTag, base: ref(ctx, "debian", baseTag), images, items };
}

/** An image's directory plus files from elsewhere (a binary of the ground), in a private copy. */
async function stagedContext(ctx: Context, dir: string, extra: { source: string; name: string }[]): Promise<string> {
  const staged = await mkdtemp(join(ctx.cache, `${basename(dir)}-context-`));
  await cp(dir, staged, { recursive: true });
  for (const file of extra) await copyFile(file.source, join(staged, file.name));
  return staged;
}

interface Context extends GroundImagesOptions {
  /** <cacheDir>/images */
  cache: string;
  sources: string;
}

function ref(ctx: Context, repo: string, tag: string): string {
  return `${ctx.registry}/ground/${repo}:${tag}`;
}

function digest(parts: (string | Buffer)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex");
}

/** Registry first, then the cached archive, then a build; a built image is archived and pushed. */
async function ensureImage(ctx: Context, repo: string, tag: string, build: () => Promise<void>): Promise<ImageAction> {
  const image = ref(ctx, repo, tag);
  if (await inRegistry(ctx.registry, `ground/${repo}`, tag)) return "present";
  const archive = join(ctx.cache, `${repo}-${tag}.oci.tar`);
  if (existsSync(archive)) {
    const started = Date.now();
    await pushArchive(ctx, archive, image);
    ctx.log(`${repo}: restored ${image} from ${archive} in ${seconds(started)}`);
    return "restored";
  }
  const started = Date.now();
  writeFileSync(logFile(ctx, repo), "");
  ctx.log(`${repo}: building ${image} (log: ${logFile(ctx, repo)})`);
  await build();
  // Compressed once, into the archive; the push uploads those very blobs.
  const partial = `${archive}.partial`;
  await buildah(ctx, repo, ["push", "--quiet", image, `oci-archive:${partial}`]);
  renameSync(partial, archive);
  await pushArchive(ctx, archive, image);
  for (const old of readdirSync(ctx.cache)) {
    if (old.startsWith(`${repo}-`) && old.endsWith(".oci.tar") && join(ctx.cache, old) !== archive) rmSync(join(ctx.cache, old));
  }
  // Local storage keeps only the base, which the next build starts FROM;
  // the others live in the registry and the archive (pulled again if needed).
  if (repo !== "debian") await buildah(ctx, repo, ["rmi", image]);
  ctx.log(`${repo}: built and pushed ${image} in ${seconds(started)}`);
  return "built";
}

async function inRegistry(registry: string, repo: string, tag: string): Promise<boolean> {
  const response = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: "HEAD",
    headers: { Accept: MANIFEST_TYPES },
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  throw new Error(`registry ${registry}: HEAD /v2/${repo}/manifests/${tag} answered ${response.status}`);
}

async function pushArchive(ctx: Context, archive: string, image: string): Promise<void> {
  await run(ctx, dirName(image), "skopeo", ["copy", "--quiet", "--dest-tls-verify=false", `oci-archive:${archive}`, `docker://${image}`]);
}

// ---------------------------------------------------------------------------
// The base: debootstrap, imported with ownership intact, upgraded from the
// host's apt sources, slimmed.

interface AptSources {
  /** The deb822 sources the image gets: the host's Debian stanzas. */
  text: string;
  /** Where debootstrap downloads from. */
  mirror: string;
}

/**
 * The host's Debian sources (main suite, -updates, -security), so the images
 * get the package versions the host has. Read from deb822
 * /etc/apt/sources.list.d/debian.sources, else from one-line sources.list.
 */
function readAptSources(): AptSources {
  const deb822 = "/etc/apt/sources.list.d/debian.sources";
  const stanzas: Record<string, string>[] = [];
  if (existsSync(deb822)) {
    for (const block of readFileSync(deb822, "utf8").split(/\n\s*\n/)) {
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (match?.[1] && match[2] !== undefined) fields[match[1]] = match[2].trim();
      }
      if (fields.URIs && fields.Suites) stanzas.push(fields);
    }
  } else if (existsSync("/etc/apt/sources.list")) {
    for (const line of readFileSync("/etc/apt/sources.list", "utf8").split("\n")) {
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line.trim());
      if (match?.[1] && match[2] && match[3]) stanzas.push({ Types: "deb", URIs: match[1], Suites: match[2], Components: match[3] });
    }
  }
  const debian = stanzas.filter(
    (s) => (s.Types ?? "deb").split(/\s+/).includes("deb") && (s.Suites ?? "").split(/\s+/).some((x) => x.startsWith(SUITE)),
  );
  const main = debian.find((s) => (s.Suites ?? "").split(/\s+/).includes(SUITE));
  const mirror = main?.URIs?.split(/\s+/)[0];
  if (!mirror) throw new Error(`no apt source for ${SUITE} on this host (looked in ${deb822} and /etc/apt/sources.list)`);
  const text = debian
    .map((s) =>
      [
        "Types: deb",
        `URIs: ${s.URIs}`,
        `Suites: ${s.Suites}`,
        `Components: ${s.Components ?? "main"}`,
        `Signed-By: ${s["Signed-By"] ?? "/usr/share/keyrings/debian-archive-keyring.gpg"}`,
      ].join("\n"),
    )
    .join("\n\n");
  return { text: `${text}\n`, mirror };
}

/** What makes the debootstrap tree: debootstrap's version, the architecture, suite, variant and mirror. */
async function rootfsKeyOf(apt: AptSources): Promise<string> {
  const [{ stdout: version }, { stdout: arch }] = await Promise.all([
    // dpkg-query's own ${Version} field syntax, not a template.
    execa("dpkg-query", ["-W", `-f=\${Version}`, "debootstrap"]),
    execa("dpkg", ["--print-architecture"]),
  ]);
  return `${SUITE}-minbase-${arch.trim()}-${digest([RECIPE, version, apt.mirror]).slice(0, 12)}`;
}

async function ensureRootfsTarball(ctx: Context, apt: AptSources, key: string): Promise<string> {
  const tarball = join(ctx.cache, `debootstrap-${key}.tar.zst`);
  if (existsSync(tarball)) return tarball;
  if (process.getuid?.() !== 0) throw new Error("debootstrap needs root: run the ground's image build as root");
  const work = await mkdtemp(join(ctx.cache, "debootstrap-"));
  try {
    const started = Date.now();
    const rootfs = join(work, "rootfs");
    ctx.log(`debian: debootstrap --variant=minbase ${SUITE} from ${apt.mirror} (about a minute)`);
    await run(ctx, "debian", "debootstrap", ["--variant=minbase", SUITE, rootfs, apt.mirror]);
    // Device nodes come from the runtime, downloaded .debs and package lists
    // are dead weight; numeric owners keep uids as they are in the tree.
    await run(ctx, "debian", "tar", [
      "--create",
      "--numeric-owner",
      "--use-compress-program=zstd -T0 -3",
      `--file=${tarball}.partial`,
      `--directory=${rootfs}`,
      "--exclude=./dev/*",
      "--exclude=./proc/*",
      "--exclude=./sys/*",
      "--exclude=./var/cache/apt/archives/*.deb",
      "--exclude=./var/lib/apt/lists/*",
      ".",
    ]);
    renameSync(`${tarball}.partial`, tarball);
    for (const old of readdirSync(ctx.cache)) {
      if (old.startsWith("debootstrap-") && old.endsWith(".tar.zst") && join(ctx.cache, old) !== tarball) rmSync(join(ctx.cache, old));
    }
    ctx.log(`debian: kept the debootstrap tree as ${tarball} (${seconds(started)})`);
    return tarball;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function buildBase(ctx: Context, image: string, apt: AptSources, rootfsKey: string): Promise<void> {
  const tarball = await ensureRootfsTarball(ctx, apt, rootfsKey);
  const container = (await buildah(ctx, "debian", ["from", "--quiet", "scratch"])).trim();
  try {
    // Unpacked by tar into the container's mount: `buildah copy` would make
    // every file root's, and the tree has other owners (_apt, root:shadow...).
    const mount = (await buildah(ctx, "debian", ["mount", container])).trim();
    await run(ctx, "debian", "tar", [
      "--extract",
      "--same-owner",
      "--same-permissions",
      "--numeric-owner",
      "--zstd",
      `--file=${tarball}`,
      `--directory=${mount}`,
    ]);
    rmSync(join(mount, "etc/apt/sources.list"), { force: true });
    writeFileSync(join(mount, "etc/apt/sources.list.d/debian.sources"), apt.text);
    // debootstrap copied the host's; a runtime mounts its own over them.
    writeFileSync(join(mount, "etc/hostname"), "");
    writeFileSync(join(mount, "etc/resolv.conf"), "");
    await copyFile(join(ctx.sources, "debian", "setup.sh"), join(mount, "tmp/ground-setup.sh"));
    await buildah(ctx, "debian", ["umount", container]);
    await buildah(ctx, "debian", ["run", container, "--", "/bin/sh", "/tmp/ground-setup.sh"]);
    await buildah(ctx, "debian", [
      "config",
      "--env",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "--env",
      "LANG=C.UTF-8",
      "--cmd",
      '["bash"]',
      "--label",
      `org.opencontainers.image.title=ground debian`,
      "--label",
      `org.opencontainers.image.description=k8s-dev-sandbox test ground: Debian ${SUITE} minbase (debootstrap), base of the ground's images`,
      "--label",
      `ground.k8s-dev-sandbox/image=debian`,
      container,
    ]);
    await buildah(ctx, "debian", ["commit", "--quiet", "--format", "oci", container, image]);
  } finally {
    await buildah(ctx, "debian", ["rm", container]).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// The images.

async function buildFromContainerfile(ctx: Context, image: string, dir: string, file: string, base: string): Promise<void> {
  const name = dirName(image);
  await buildah(ctx, name, [
    "bud",
    "--format",
    "oci",
    "--tls-verify=false",
    // For a download over HTTPS in a build (pgadmin's pip, node's tarball): a
    // secret is mounted only into the RUN that asks for it, never in the image.
    "--secret",
    `id=host-ca,src=${hostCaBundle()}`,
    "--build-arg",
    `BASE_IMAGE=${base}`,
    "--label",
    `ground.k8s-dev-sandbox/image=${name}`,
    "-f",
    file,
    "-t",
    image,
    dir,
  ]);
}

/**
 * The CA certificates this host trusts (where pip on the host is told to look
 * first): builds download with the host's trust, which includes the CA of
 * an egress proxy that re-signs TLS.
 */
function hostCaBundle(): string {
  const candidates = [process.env.PIP_CERT, process.env.SSL_CERT_FILE, "/etc/ssl/certs/ca-certificates.crt"];
  const found = candidates.find((file): file is string => typeof file === "string" && file !== "" && existsSync(file));
  if (!found)
    throw new Error(
      "no CA certificate bundle on this host (PIP_CERT, SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt): install ca-certificates",
    );
  return found;
}

/** pause.c compiled on the host (static, so the image needs nothing else), then the Containerfile FROM scratch. */
async function buildPause(ctx: Context, image: string, dir: string): Promise<void> {
  const context = await mkdtemp(join(ctx.cache, "pause-"));
  try {
    await cp(dir, context, { recursive: true });
    await run(ctx, "pause", "gcc", [
      "-static",
      "-Os",
      "-s",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-o",
      join(context, "pause"),
      join(context, "pause.c"),
    ]);
    await buildah(ctx, "pause", [
      "bud",
      "--format",
      "oci",
      "--label",
      "ground.k8s-dev-sandbox/image=pause",
      "-f",
      join(context, "Containerfile"),
      "-t",
      image,
      context,
    ]);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

function dirName(image: string): string {
  const match = /\/ground\/([^/:]+):/.exec(image);
  if (!match?.[1]) throw new Error(`not a ground image: ${image}`);
  return match[1];
}

// ---------------------------------------------------------------------------
// Processes, logs, lock.

function logFile(ctx: Context, name: string): string {
  return join(ctx.cache, "logs", `${name}.log`);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

/** The ground's buildah settings (envAssignments in ground.ts): chroot isolation, vfs storage, its registries.conf. */
function toolEnv(ctx: Context): Record<string, string> {
  return { BUILDAH_ISOLATION: "chroot", STORAGE_DRIVER: "vfs", CONTAINERS_REGISTRIES_CONF: ctx.registriesConf };
}

async function buildah(ctx: Context, name: string, args: string[]): Promise<string> {
  return run(ctx, name, "buildah", args);
}

/** Runs a tool with its output appended to the image's build log; fails with the log's tail. */
async function run(ctx: Context, name: string, file: string, args: string[]): Promise<string> {
  const log = logFile(ctx, name);
  const result = await execa(file, args, { env: toolEnv(ctx), reject: false, all: true, stdin: "ignore" });
  await writeFile(log, `$ ${file} ${args.join(" ")}\n${result.all ?? ""}\n`, { flag: "a" });
  if (result.exitCode !== 0) {
    const tail = (result.all ?? "").split("\n").slice(-25).join("\n");
    throw new Error(`${file} ${args[0]} failed for ${name} (exit ${result.exitCode}); full log: ${log}\n${tail}`);
  }
  return result.stdout;
}

/**
 * One build at a time per cache (two `up`s, or a test beside the ground): a
 * file holding the owner's pid. A dead owner's lock is taken over.
 */
async function withLock<T>(file: string, log: (message: string) => void, fn: () => Promise<T>): Promise<T> {
  let told = false;
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(file, "utf8"));
    } catch {
      continue; // released meanwhile
    }
    // An empty file is a lock being written right now.
    if (owner > 0 && !isAlive(owner)) {
      rmSync(file, { force: true });
      continue;
    }
    if (!told) log(`ground images: waiting for pid ${owner || "?"}, which is building them (${file})`);
    told = true;
    await sleep(1_000);
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
