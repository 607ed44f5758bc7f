// Which sandbox a branch or pull request gets: its key, namespace, host and
// URL. Branch names are hostile input (unicode, 300 characters, shell
// metacharacters), and the key ends up in a namespace name, a DNS label and a
// Helm release, so the mapping must be total, valid and injective.
import { createHash } from "node:crypto";
import { InputError, quoteInput } from "./errors.js";

export const DEFAULT_PREFIX = "dev-sandbox-";
/** Each sandbox has its own namespace, so one constant release name is unique enough and never changes. */
export const RELEASE_NAME = "sandbox";
/** DNS-1123 label limit, for the namespace name and the host's first label. */
export const LABEL_MAX = 63;
/** A prefix must leave the key at least this much room. */
export const MIN_KEY_LENGTH = 16;
const HASH_LENGTH = 6;

// Keys start with a letter (stricter than DNS-1123, which allows a digit):
// the key also names Services and Helm objects, which need RFC 1035 labels.
const KEY = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
const DOMAIN_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// Shapes a plain (unhashed) branch key must not take, so plain keys can never
// equal a hashed key or a fork's key: those two families own these shapes.
const HASHED_SHAPE = /-[0-9a-f]{6}$/;
const FORK_SHAPE = /^pr-\d+$/;

export interface SandboxIdentity {
  key: string;
  namespace: string;
  host: string;
  url: string;
  releaseName: string;
  /** The branch name, `refs/heads/` stripped, otherwise untouched. */
  branch: string;
  pullRequest: number | null;
}

export interface IdentityInput {
  branch: string;
  pullRequest?: number | null;
  /** A pull request from a fork: keyed `pr-<n>`, since its branch name is someone else's namespace. */
  fork?: boolean;
  prefix?: string;
  baseDomain: string;
  scheme?: "https" | "http";
}

export function sandboxIdentity(input: IdentityInput): SandboxIdentity {
  const prefix = validatePrefix(input.prefix ?? DEFAULT_PREFIX);
  const baseDomain = validateBaseDomain(input.baseDomain);
  const scheme = input.scheme ?? "https";
  if (scheme !== "https" && scheme !== "http") {
    throw new InputError(`${quoteInput(scheme)} is not a URL scheme we serve; use https or http`, { input: "url-scheme" });
  }
  if (typeof input.branch !== "string") throw new InputError("the branch name must be text", { input: "branch" });
  const branch = stripRef(input.branch);
  const pullRequest = validatePullRequest(input.pullRequest);

  let key: string;
  if (input.fork) {
    if (pullRequest === null)
      throw new InputError("a fork's sandbox is keyed by its pull request number, and none was given", { input: "pull-request" });
    key = `pr-${pullRequest}`;
  } else {
    if (branch === "") throw new InputError("the branch name is empty", { input: "branch" });
    key = branchKey(branch, maxKeyLength(prefix));
  }
  const host = `${key}.${baseDomain}`;
  return { key, namespace: prefix + key, host, url: `${scheme}://${host}`, releaseName: RELEASE_NAME, branch, pullRequest };
}

/** The longest key a prefix leaves room for. */
export function maxKeyLength(prefix: string): number {
  return Math.min(LABEL_MAX, LABEL_MAX - prefix.length);
}

/**
 * The key for a branch of the repository itself. A name that is already a
 * valid key is kept as is; any other name is slugged and gets `-<6 hex>` of
 * the SHA-256 of the full original name, so case changes, replaced
 * characters and truncation can never make two branches share a key.
 */
export function branchKey(branch: string, maxLength: number = maxKeyLength(DEFAULT_PREFIX)): string {
  if (maxLength < MIN_KEY_LENGTH || maxLength > LABEL_MAX) throw new RangeError(`key length ${maxLength} out of range`);
  const name = stripRef(branch);
  if (name.length <= maxLength && KEY.test(name) && !HASHED_SHAPE.test(name) && !FORK_SHAPE.test(name)) return name;

  const hash = createHash("sha256").update(name, "utf8").digest("hex").slice(0, HASH_LENGTH);
  // Only the first few hundred characters can survive truncation; the hash
  // still covers the whole name.
  let slug = name
    .slice(0, 4 * LABEL_MAX)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (slug === "") slug = "b";
  else if (!/^[a-z]/.test(slug)) slug = `b-${slug}`;
  slug = slug.slice(0, maxLength - HASH_LENGTH - 1).replace(/-+$/, "");
  const key = `${slug}-${hash}`;
  // "PR" would give pr-<hash>, which is a fork's key when the hash is all digits.
  return FORK_SHAPE.test(key) ? `${slug}-b-${hash}` : key;
}

/** The key of a namespace that follows our naming, or undefined for any other name. */
export function keyFromNamespace(namespace: string, prefix: string = DEFAULT_PREFIX): string | undefined {
  if (typeof namespace !== "string" || !namespace.startsWith(prefix)) return undefined;
  const key = namespace.slice(prefix.length);
  return isValidKey(key) && namespace.length <= LABEL_MAX ? key : undefined;
}

export function isValidKey(key: string): boolean {
  return typeof key === "string" && key.length <= LABEL_MAX && KEY.test(key);
}

/** `refs/heads/x` and `x` are the same branch; other refs are left alone. */
export function stripRef(ref: string): string {
  return ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
}

export function validatePrefix(prefix: string): string {
  const max = LABEL_MAX - MIN_KEY_LENGTH;
  if (typeof prefix !== "string" || !/^[a-z][a-z0-9-]*-$/.test(prefix) || prefix.length > max) {
    throw new InputError(
      `${quoteInput(prefix)} is not a valid namespace prefix: lowercase letters, digits and '-', starting with a letter, ending with '-', at most ${max} characters`,
      { input: "namespace-prefix" },
    );
  }
  return prefix;
}

/** A DNS name sandboxes live under; lowercased, and short enough for any key in front of it. */
export function validateBaseDomain(domain: string): string {
  const lower = typeof domain === "string" ? domain.toLowerCase() : "";
  const max = 253 - LABEL_MAX - 1;
  const labels = lower.split(".");
  if (lower === "" || lower.length > max || !labels.every((label) => DOMAIN_LABEL.test(label))) {
    throw new InputError(
      `${quoteInput(domain)} is not a valid base domain: dot-separated labels of letters, digits and '-' (punycode for international names), no trailing dot, at most ${max} characters`,
      { input: "base-domain", hint: "e.g. preview.example.com or 127.0.0.1.nip.io" },
    );
  }
  return lower;
}

function validatePullRequest(value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InputError(`${quoteInput(value)} is not a pull request number`, { input: "pull-request" });
  }
  return value;
}
