// Asks an OCI registry whether a tag exists, through the Distribution API
// (HEAD /v2/<name>/manifests/<tag>) with the bearer-token dance registries
// such as GHCR and Docker Hub require. No docker/buildah call needed, so the
// check is the same on every runner and takes one round trip. The same API
// reads a prebuilt image's revision label and adds a commit's tag.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface ImageRef {
  registry: string;
  repository: string;
  tag: string;
}

export function parseImageRef(ref: string): ImageRef {
  const match = /^([^/]+)\/(.+):([\w][\w.-]{0,127})$/.exec(ref);
  if (!match?.[1] || !match[2] || !match[3] || !/[.:]|^localhost$/.test(match[1])) {
    throw new Error(`image reference ${JSON.stringify(ref.slice(0, 200))} is not of the form registry.example.com/name:tag`);
  }
  return { registry: match[1], repository: match[2], tag: match[3] };
}

/**
 * The environment variable naming registries that speak plain HTTP beyond
 * loopback (an in-cluster registry Service, a dev cluster's local registry),
 * comma-separated host[:port], as containerd's and Docker's "insecure
 * registries" settings: only the exact names listed.
 */
export const INSECURE_REGISTRIES_ENV = "K8S_SANDBOX_INSECURE_REGISTRIES";
const REGISTRY_NAME =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/;

/** The registries K8S_SANDBOX_INSECURE_REGISTRIES names; a malformed entry is an error that names it. */
export function insecureRegistries(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env[INSECURE_REGISTRIES_ENV] ?? "";
  const names = raw
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!REGISTRY_NAME.test(name)) {
      throw new Error(
        `${INSECURE_REGISTRIES_ENV}: ${JSON.stringify(name.slice(0, 100))} is not a registry host[:port] (comma-separated list)`,
      );
    }
  }
  return names;
}

/** Loopback registries, and those listed in K8S_SANDBOX_INSECURE_REGISTRIES, speak plain HTTP; everything else must use TLS. */
export function isInsecureRegistry(registry: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(registry)) return true;
  return insecureRegistries(env).includes(registry);
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export async function manifestExists(ref: string, credentials?: RegistryCredentials): Promise<boolean> {
  const image = parseImageRef(ref);
  const response = await registryFetch(
    image,
    `manifests/${image.tag}`,
    { method: "HEAD", headers: { Accept: MANIFEST_TYPES } },
    credentials,
  );
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  throw new Error(`registry ${image.registry} answered ${response.status} for ${image.repository}:${image.tag}`);
}

/** What deploying a prebuilt image needs to know: whether it is there, and which commit it says it was built from. */
export interface ImageFacts {
  exists: boolean;
  /** The org.opencontainers.image.revision label of its (linux/amd64, else first) image config. */
  revision?: string;
}

const INDEX_TYPES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);

interface ManifestJson {
  mediaType?: string;
  manifests?: { digest?: string; platform?: { os?: string; architecture?: string } }[];
  config?: { digest?: string };
}

/**
 * Reads an image's manifest and config through the Distribution API: one
 * round trip more than manifestExists per level (index, manifest, config).
 */
export async function inspectImage(ref: string, credentials?: RegistryCredentials): Promise<ImageFacts> {
  const image = parseImageRef(ref);
  let manifest = await getJson<ManifestJson>(image, `manifests/${image.tag}`, MANIFEST_TYPES, credentials);
  if (!manifest) return { exists: false };
  if (manifest.manifests || (manifest.mediaType && INDEX_TYPES.has(manifest.mediaType))) {
    const entries = manifest.manifests ?? [];
    const chosen = entries.find((m) => m.platform?.os === "linux" && m.platform.architecture === "amd64") ?? entries[0];
    if (!chosen?.digest) return { exists: true };
    manifest = await getJson<ManifestJson>(image, `manifests/${chosen.digest}`, MANIFEST_TYPES, credentials);
    if (!manifest) return { exists: true };
  }
  const configDigest = manifest.config?.digest;
  if (!configDigest) return { exists: true };
  const config = await getJson<{ config?: { Labels?: Record<string, string> | null } }>(image, `blobs/${configDigest}`, "*/*", credentials);
  const revision = config?.config?.Labels?.["org.opencontainers.image.revision"];
  return typeof revision === "string" && revision !== "" ? { exists: true, revision } : { exists: true };
}

/**
 * Gives an image in the registry one more tag (the commit's tag for an image
 * whose content tag already existed), by putting the same manifest bytes
 * under the new tag: nothing is pulled or pushed but the manifest.
 */
export async function addTag(ref: string, tag: string, credentials?: RegistryCredentials): Promise<void> {
  const image = parseImageRef(ref);
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new Error(`${JSON.stringify(tag.slice(0, 200))} is not an image tag`);
  const got = await registryFetch(image, `manifests/${image.tag}`, { headers: { Accept: MANIFEST_TYPES } }, credentials);
  if (got.status !== 200) throw new Error(`registry ${image.registry} answered ${got.status} for ${image.repository}:${image.tag}`);
  const type = got.headers.get("content-type") ?? "application/vnd.oci.image.manifest.v1+json";
  const body = Buffer.from(await got.arrayBuffer());
  const put = await registryFetch(image, `manifests/${tag}`, { method: "PUT", headers: { "Content-Type": type }, body }, credentials);
  await put.arrayBuffer().catch(() => undefined);
  if (put.status !== 201 && put.status !== 200) {
    throw new Error(
      `registry ${image.registry} refused tag ${tag} for ${image.repository} (${put.status}); the credentials may lack push rights`,
    );
  }
}

async function getJson<T>(image: ImageRef, path: string, accept: string, credentials?: RegistryCredentials): Promise<T | undefined> {
  const response = await registryFetch(image, path, { headers: { Accept: accept } }, credentials);
  if (response.status === 404) {
    await response.arrayBuffer().catch(() => undefined);
    return undefined;
  }
  if (response.status !== 200) throw new Error(`registry ${image.registry} answered ${response.status} for ${image.repository} ${path}`);
  return (await response.json()) as T;
}

/**
 * One request to the registry's API, with the bearer-token dance when it
 * answers 401. Without explicit credentials, those a `docker login` /
 * `buildah login` left for this registry are used (see credentialsFromAuthFiles).
 */
async function registryFetch(
  image: ImageRef,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer },
  credentials?: RegistryCredentials,
): Promise<Response> {
  const scheme = isInsecureRegistry(image.registry) ? "http" : "https";
  const url = `${scheme}://${image.registry}/v2/${image.repository}/${path}`;
  const request = (headers: Record<string, string>) =>
    fetch(url, { method: init.method ?? "GET", headers, body: init.body, signal: AbortSignal.timeout(20_000) });
  const response = await request(init.headers ?? {});
  if (response.status !== 401) return response;
  await response.arrayBuffer().catch(() => undefined);
  const token = await bearerToken(response.headers.get("www-authenticate"), credentials ?? credentialsFromAuthFiles(image.registry));
  return token ? request({ ...init.headers, Authorization: `Bearer ${token}` }) : response;
}

/** The auth files `docker login`, `buildah login` and docker/login-action write, in the order the containers tools read them. */
export function authFiles(env: NodeJS.ProcessEnv = process.env, home = homedir()): string[] {
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  files.push(join(home, ".config", "containers", "auth.json"));
  files.push(join(env.DOCKER_CONFIG ?? join(home, ".docker"), "config.json"));
  return files;
}

export function credentialsFromAuthFiles(registry: string, files: string[] = authFiles()): RegistryCredentials | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const found = credentialsFromAuthJson(text, registry);
    if (found) return found;
  }
  return undefined;
}

/** The `auths` entry for a registry (base64 `user:password`); credential helpers are not consulted. */
export function credentialsFromAuthJson(text: string, registry: string): RegistryCredentials | undefined {
  let auths: Record<string, { auth?: unknown }> | undefined;
  try {
    auths = (JSON.parse(text) as { auths?: Record<string, { auth?: unknown }> }).auths;
  } catch {
    return undefined;
  }
  const entry = auths?.[registry] ?? auths?.[`https://${registry}`] ?? auths?.[`http://${registry}`];
  if (typeof entry?.auth !== "string") return undefined;
  const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function bearerToken(challenge: string | null, credentials?: RegistryCredentials): Promise<string | undefined> {
  if (!challenge?.toLowerCase().startsWith("bearer ")) return undefined;
  const params = new Map<string, string>();
  for (const m of challenge.slice(7).matchAll(/(\w+)="([^"]*)"/g)) if (m[1] && m[2] !== undefined) params.set(m[1], m[2]);
  const realm = params.get("realm");
  if (!realm) return undefined;
  const url = new URL(realm);
  for (const key of ["service", "scope"]) {
    const value = params.get(key);
    if (value) url.searchParams.set(key, value);
  }
  const headers: Record<string, string> = {};
  if (credentials) headers.Authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(20_000) });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { token?: string; access_token?: string };
  return body.token ?? body.access_token;
}
