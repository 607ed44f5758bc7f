// Asks an OCI registry whether a tag exists, through the Distribution API
// (HEAD /v2/<name>/manifests/<tag>) with the bearer-token dance registries
// such as GHCR and Docker Hub require. No docker/buildah call needed, so the
// check is the same on every runner and takes one round trip.

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

/** Loopback registries speak plain HTTP; everything else must use TLS. */
export function isInsecureRegistry(registry: string): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(registry);
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
  const scheme = isInsecureRegistry(image.registry) ? "http" : "https";
  const url = `${scheme}://${image.registry}/v2/${image.repository}/manifests/${image.tag}`;
  const headers: Record<string, string> = { Accept: MANIFEST_TYPES };
  let response = await fetch(url, { method: "HEAD", headers, signal: AbortSignal.timeout(20_000) });
  if (response.status === 401) {
    const token = await bearerToken(response.headers.get("www-authenticate"), credentials);
    if (token)
      response = await fetch(url, {
        method: "HEAD",
        headers: { ...headers, Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(20_000),
      });
  }
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  throw new Error(`registry ${image.registry} answered ${response.status} for ${image.repository}:${image.tag}`);
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
