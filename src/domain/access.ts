// What the engine may do on a cluster, as pure rules. The rights themselves
// ship as charts/sandbox-access (docs/permissions.md): a ClusterRole for the
// namespaces, a ClusterRole the engine binds to itself in each sandbox
// namespace it creates, and, only where the cluster's admin opts in, rights
// on host-path volumes under directories the admin names.
import { createHash } from "node:crypto";
import { InputError, quoteInput } from "./errors.js";
import { MANAGED_BY_VALUE } from "./metadata.js";

/** The ClusterRole charts/sandbox-access grants inside each sandbox (its default name). */
export const DEFAULT_SANDBOX_ROLE = `${MANAGED_BY_VALUE}:sandbox`;
/** Where the cluster's admin allows local mode's host paths (charts/sandbox-access, localVolumes). */
export const DEFAULT_LOCAL_VOLUMES_CONFIG = `${MANAGED_BY_VALUE}-system/${MANAGED_BY_VALUE}-local-volumes`;
/** The key of that ConfigMap listing the allowed directories, one per line. */
export const ALLOWED_HOST_PATHS_KEY = "allowedHostPaths";

const SERVICE_ACCOUNT = /^system:serviceaccount:([a-z0-9][a-z0-9.-]*):([a-z0-9][a-z0-9.-]*)$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export interface BindingSubject {
  kind: "ServiceAccount" | "User";
  name: string;
  namespace?: string;
  apiGroup?: string;
}

/**
 * The RoleBinding that gives an identity the sandbox role in one namespace:
 * named after the identity, so a CLI user and the CI account can both hold
 * one in the same sandbox without taking each other's.
 */
export function sandboxBinding(username: string): { name: string; subject: BindingSubject } {
  if (!username) throw new InputError("the cluster did not say who we are (empty user name)", { input: "kubeconfig" });
  const digest = createHash("sha256").update(username).digest("hex").slice(0, 10);
  const name = `${MANAGED_BY_VALUE}-${digest}`;
  const sa = SERVICE_ACCOUNT.exec(username);
  if (sa) return { name, subject: { kind: "ServiceAccount", namespace: sa[1] as string, name: sa[2] as string } };
  return { name, subject: { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: username } };
}

/** A ClusterRole name to bind, or undefined for none (empty). */
export function validateSandboxRole(text: string | undefined, input: string): string | undefined {
  const role = (text ?? "").trim();
  if (role === "") return undefined;
  if (!/^[A-Za-z0-9:._-]{1,253}$/.test(role) || role === "." || role === "..") {
    throw new InputError(`${quoteInput(role)} is not a ClusterRole name`, { input });
  }
  return role;
}

/** "namespace/name" of a ConfigMap. */
export function parseObjectRef(text: string, input: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = text.trim().split("/");
  if (!namespace || !name || rest.length > 0 || !DNS_NAME.test(namespace) || !DNS_NAME.test(name)) {
    throw new InputError(`${quoteInput(text)} is not namespace/name`, { input });
  }
  return { namespace, name };
}

/**
 * The admin's allowed directories: absolute, normalized, never "/" (that
 * would hand out the node's whole filesystem, the very thing to prevent).
 */
export function parseAllowedHostPaths(text: string | undefined): { roots: string[]; problems: string[] } {
  const roots: string[] = [];
  const problems: string[] = [];
  for (const raw of (text ?? "").split(/[\n,]/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const root = line.length > 1 ? line.replace(/\/+$/, "") : line;
    if (!isCleanAbsolute(root)) problems.push(`${quoteInput(line)} is not an absolute path without . or .. segments`);
    else if (root === "/") problems.push(`"/" would allow the node's whole filesystem`);
    else roots.push(root);
  }
  return { roots, problems };
}

/** Whether `path` is one of `roots` or inside one, segment by segment ("/home/dev2" is not inside "/home/dev"). */
export function isAllowedHostPath(path: string, roots: readonly string[]): boolean {
  if (!isCleanAbsolute(path)) return false;
  const clean = path.length > 1 ? path.replace(/\/+$/, "") : path;
  return roots.some((root) => root !== "/" && isCleanAbsolute(root) && (clean === root || clean.startsWith(`${root}/`)));
}

function isCleanAbsolute(path: string): boolean {
  if (!path.startsWith("/") || /[\n\r,]/.test(path)) return false;
  return !path
    .split("/")
    .slice(1)
    .some((segment, index, all) => segment === "." || segment === ".." || (segment === "" && index < all.length - 1));
}
