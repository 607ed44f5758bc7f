import { describe, expect, it } from "vitest";
import { InputError } from "../../src/domain/errors.js";
import { DEFAULT_TTL_MS } from "../../src/domain/expiry.js";
import { sandboxIdentity } from "../../src/domain/identity.js";
import { sandboxValues } from "../../src/domain/values.js";

const SHA = "a".repeat(40);
const pr42 = sandboxIdentity({ branch: "feature/Login", pullRequest: 42, baseDomain: "preview.example.com" });
const main = sandboxIdentity({ branch: "main", baseDomain: "preview.example.com" });

describe("sandboxValues", () => {
  it("matches the DESIGN values contract", () => {
    const image = "registry.example.com/acme/shop-sandbox:abc";
    expect(sandboxValues({ identity: pr42, mode: "ci", commit: SHA, ttl: DEFAULT_TTL_MS, image })).toEqual({
      sandbox: {
        key: pr42.key,
        mode: "ci",
        branch: "feature/Login",
        pullRequest: 42,
        commit: SHA,
        host: pr42.host,
        url: pr42.url,
        ttl: "7d",
      },
      odoo: { image },
    });
  });

  it.each([
    {
      name: "branch without PR",
      input: { identity: main, mode: "local" as const, ttl: 36 * 3600_000 },
      pullRequest: null,
      ttl: "1d12h",
      commit: undefined,
      odoo: undefined,
    },
    {
      name: "PR override",
      input: { identity: main, mode: "ci" as const, ttl: DEFAULT_TTL_MS, pullRequest: 9 },
      pullRequest: 9,
      ttl: "7d",
      commit: undefined,
      odoo: undefined,
    },
    {
      name: "PR cleared",
      input: { identity: pr42, mode: "ci" as const, ttl: DEFAULT_TTL_MS, pullRequest: null },
      pullRequest: null,
      ttl: "7d",
      commit: undefined,
      odoo: undefined,
    },
    {
      name: "empty image left out",
      input: { identity: main, mode: "ci" as const, ttl: DEFAULT_TTL_MS, image: "", commit: SHA },
      pullRequest: null,
      ttl: "7d",
      commit: SHA,
      odoo: undefined,
    },
  ])("$name", ({ input, pullRequest, ttl, commit, odoo }) => {
    const values = sandboxValues(input);
    expect(values.sandbox.pullRequest).toBe(pullRequest);
    expect(values.sandbox.ttl).toBe(ttl);
    expect(values.sandbox.commit).toBe(commit);
    expect("commit" in values.sandbox).toBe(commit !== undefined);
    expect(values.odoo).toEqual(odoo);
    expect(values.sandbox.mode).toBe(input.mode);
  });

  it.each([
    { mode: "local" as const, path: "/home/dev/shop/addons", local: { addonsHostPath: "/home/dev/shop/addons" } },
    { mode: "ci" as const, path: "/home/dev/shop/addons", local: undefined },
    { mode: "local" as const, path: undefined, local: undefined },
  ])("mounts the worktree only in local mode ($mode, $path)", ({ mode, path, local }) => {
    const values = sandboxValues({ identity: main, mode, ttl: DEFAULT_TTL_MS, localAddonsPath: path, repo: "acme/shop" });
    expect(values.sandbox.local).toEqual(local);
    expect(values.sandbox.repo).toBe("acme/shop");
  });

  it("refuses a relative worktree path", () => {
    expect(() => sandboxValues({ identity: main, mode: "local", ttl: DEFAULT_TTL_MS, localAddonsPath: "addons" })).toThrow(InputError);
  });

  it.each([
    { mode: "prod", ttl: DEFAULT_TTL_MS },
    { mode: "ci", ttl: 0 },
    { mode: "ci", ttl: -1 },
    { mode: "ci", ttl: Number.NaN },
  ])("rejects mode $mode ttl $ttl", ({ mode, ttl }) => {
    expect(() => sandboxValues({ identity: main, mode: mode as "ci", ttl })).toThrow(InputError);
  });
});
