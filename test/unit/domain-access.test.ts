// The pure rules behind the engine's rights: whom it binds in a sandbox, and
// which host paths local mode may mount.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_LOCAL_VOLUMES_CONFIG,
  DEFAULT_SANDBOX_ROLE,
  isAllowedHostPath,
  parseAllowedHostPaths,
  parseObjectRef,
  sandboxBinding,
  validateSandboxRole,
} from "../../src/domain/access.js";
import { InputError } from "../../src/domain/errors.js";

describe("sandboxBinding", () => {
  it.each([
    {
      username: "system:serviceaccount:k8s-dev-sandbox-system:k8s-dev-sandbox",
      subject: { kind: "ServiceAccount", namespace: "k8s-dev-sandbox-system", name: "k8s-dev-sandbox" },
    },
    { username: "alice@example.com", subject: { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "alice@example.com" } },
    { username: "kubernetes-admin", subject: { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "kubernetes-admin" } },
    // Not a service account: a user whose name merely looks like one is still a user.
    {
      username: "system:serviceaccount:Bad_NS:x",
      subject: { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "system:serviceaccount:Bad_NS:x" },
    },
  ])("$username", ({ username, subject }) => {
    const binding = sandboxBinding(username);
    expect(binding.subject).toEqual(subject);
    expect(binding.name).toMatch(/^k8s-dev-sandbox-[0-9a-f]{10}$/);
  });

  it("names each identity's binding differently, and the same identity's the same", () => {
    expect(sandboxBinding("alice").name).toBe(sandboxBinding("alice").name);
    expect(sandboxBinding("alice").name).not.toBe(sandboxBinding("bob").name);
  });

  it("refuses an empty user name", () => {
    expect(() => sandboxBinding("")).toThrow(InputError);
  });
});

describe("parseAllowedHostPaths", () => {
  it.each([
    { text: "/home\n/srv/src/\n", roots: ["/home", "/srv/src"], problems: 0 },
    { text: "# developers' trees\n/home/dev , /opt/work", roots: ["/home/dev", "/opt/work"], problems: 0 },
    { text: "/", roots: [], problems: 1 },
    { text: "///", roots: [], problems: 1 },
    { text: "home/dev", roots: [], problems: 1 },
    { text: "/home/../etc", roots: [], problems: 1 },
    { text: "/home/./dev", roots: [], problems: 1 },
    { text: "", roots: [], problems: 0 },
    { text: undefined, roots: [], problems: 0 },
  ])("$text", ({ text, roots, problems }) => {
    const parsed = parseAllowedHostPaths(text);
    expect(parsed.roots).toEqual(roots);
    expect(parsed.problems).toHaveLength(problems);
  });
});

describe("isAllowedHostPath", () => {
  const roots = ["/home/dev", "/srv"];
  it.each([
    { path: "/home/dev", allowed: true },
    { path: "/home/dev/", allowed: true },
    { path: "/home/dev/shop/addons", allowed: true },
    { path: "/srv/x", allowed: true },
    { path: "/", allowed: false },
    { path: "/home", allowed: false },
    { path: "/home/dev2/addons", allowed: false },
    { path: "/home/dev/../../etc", allowed: false },
    { path: "/home/dev/./x", allowed: false },
    { path: "/home//dev/x", allowed: false },
    { path: "relative/dev", allowed: false },
    { path: "/etc/kubernetes", allowed: false },
  ])("$path: $allowed", ({ path, allowed }) => {
    expect(isAllowedHostPath(path, roots)).toBe(allowed);
  });

  it("allows nothing under a root of /", () => {
    expect(isAllowedHostPath("/etc", ["/"])).toBe(false);
  });
});

describe("settings", () => {
  it("has defaults that charts/sandbox-access makes", () => {
    expect(DEFAULT_SANDBOX_ROLE).toBe("k8s-dev-sandbox:sandbox");
    expect(parseObjectRef(DEFAULT_LOCAL_VOLUMES_CONFIG, "x")).toEqual({
      namespace: "k8s-dev-sandbox-system",
      name: "k8s-dev-sandbox-local-volumes",
    });
  });

  it.each(["", "  "])("an empty sandbox role means none (%j)", (text) => {
    expect(validateSandboxRole(text, "sandbox-role")).toBeUndefined();
  });

  it.each(["a/b", "..", "has space"])("refuses the sandbox role %j", (text) => {
    expect(() => validateSandboxRole(text, "sandbox-role")).toThrow(/^sandbox-role: /);
  });

  it.each(["ns", "ns/name/x", "NS/name", "/name"])("refuses the ConfigMap reference %j", (text) => {
    expect(() => parseObjectRef(text, "--local-volumes")).toThrow(/^--local-volumes: /);
  });
});
