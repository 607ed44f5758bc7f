// Who may read the dashboard: whoever presents its one credential, either as
// a bearer token (scripts, a proxy in front) or as the password of HTTP
// basic auth (a browser's own prompt). There is no default credential and
// no anonymous access: without one configured the dashboard is off.
import { createHash, timingSafeEqual } from "node:crypto";

export interface DashboardCredential {
  /** The basic-auth user name; a bearer token needs none. */
  user: string;
  /** The token, also the basic-auth password. */
  token: string;
}

/** The shortest token accepted: a guessable dashboard would show every sandbox's URL and errors. */
export const MIN_TOKEN_LENGTH = 16;

/** Why a configured credential is not usable, or undefined. */
export function credentialProblem(credential: DashboardCredential): string | undefined {
  if (credential.token.length < MIN_TOKEN_LENGTH) return `the dashboard token is shorter than ${MIN_TOKEN_LENGTH} characters`;
  if (credential.user === "" || credential.user.includes(":")) return "the dashboard user must be non-empty and hold no colon";
  return undefined;
}

/**
 * Whether an Authorization header carries the credential. Compared in
 * constant time (over SHA-256 digests, so lengths do not leak either), and
 * both the user and the token are always compared.
 */
export function authorized(header: string | undefined, credential: DashboardCredential): boolean {
  if (!header) return false;
  const space = header.indexOf(" ");
  if (space < 0) return false;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer") return same(value, credential.token);
  if (scheme !== "basic") return false;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  const userOk = same(decoded.slice(0, colon), credential.user);
  const tokenOk = same(decoded.slice(colon + 1), credential.token);
  return userOk && tokenOk;
}

function same(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
