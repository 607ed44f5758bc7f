import { describe, expect, it } from "vitest";
import { InputError } from "../../src/domain/errors.js";
import { DEFAULT_TTL_MS } from "../../src/domain/expiry.js";
import { sandboxIdentity } from "../../src/domain/identity.js";
import { checkUserValues, sandboxValues, setKeyPaths } from "../../src/domain/values.js";

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
    expect(values.sandbox.local).toEqual(local && { ...local, allowedHostPaths: [] });
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

describe("setKeyPaths (Helm's --set syntax)", () => {
  it.each([
    { set: "odoo.logLevel=debug", paths: [["odoo", "logLevel"]] },
    {
      set: "sandbox.mode=local,sandbox.local.addonsHostPath=/",
      paths: [
        ["sandbox", "mode"],
        ["sandbox", "local", "addonsHostPath"],
      ],
    },
    { set: "a.b=x\\,y,c=1", paths: [["a", "b"], ["c"]] },
    { set: "list={a,b,c},sandbox.key=x", paths: [["list"], ["sandbox", "key"]] },
    {
      set: "odoo.init.modules[0]=sale,odoo.extraEnv[1].name=X",
      paths: [
        ["odoo", "init", "modules", "[0]"],
        ["odoo", "extraEnv", "[1]", "name"],
      ],
    },
    { set: "odoo\\.image=x", paths: [["odoo.image"]] },
    {
      set: "ingress.annotations.cert-manager\\.io/cluster-issuer=le",
      paths: [["ingress", "annotations", "cert-manager.io/cluster-issuer"]],
    },
    { set: "a=", paths: [["a"]] },
    { set: "a=b=c", paths: [["a"]] },
  ])("$set", ({ set, paths }) => {
    expect(setKeyPaths(set)).toEqual(paths);
  });

  it.each(["novalue", "a=1,b", "x[0=1"])("refuses %s", (set) => {
    expect(() => setKeyPaths(set)).toThrow(InputError);
  });
});

describe("checkUserValues: what only the engine may set", () => {
  const refused = [
    {
      name: "the issue's exploit",
      sets: ["sandbox.mode=local,sandbox.local.addonsHostPath=/"],
      engineSetsImage: false,
      error: /sandbox\.mode/,
    },
    {
      name: "a later pair of one --set",
      sets: ["odoo.logLevel=debug,sandbox.local.addonsHostPath=/"],
      engineSetsImage: false,
      error: /sandbox\.local\.addonsHostPath/,
    },
    { name: "the whole sandbox map", sets: ["sandbox=null"], engineSetsImage: false, error: /sets sandbox,/ },
    { name: "an index under sandbox", sets: ["sandbox[0]=x"], engineSetsImage: false, error: /sandbox/ },
    {
      name: "the built image",
      sets: ["odoo.image=evil/odoo:latest"],
      engineSetsImage: true,
      error: /odoo\.image is the image the engine built/,
    },
    { name: "the odoo map (image with it)", sets: ["odoo=null"], engineSetsImage: true, error: /odoo/ },
  ];
  it.each(refused)("refuses $name", ({ sets, engineSetsImage, error }) => {
    const check = () => checkUserValues({ sets, files: [], engineSetsImage });
    expect(check).toThrow(InputError);
    expect(check).toThrow(error);
    expect(check).toThrow(/^set: /);
  });

  it.each([
    { name: "ordinary values", sets: ["odoo.logLevel=debug", "nginx.replicas=2"], engineSetsImage: true },
    { name: "the image when the engine builds none", sets: ["odoo.image=registry.example/odoo:18"], engineSetsImage: false },
    { name: "another image", sets: ["postgres.image=postgres:17"], engineSetsImage: true },
    { name: "a key that only starts like sandbox", sets: ["sandboxes.x=1"], engineSetsImage: true },
  ])("accepts $name", ({ sets, engineSetsImage }) => {
    expect(checkUserValues({ sets, files: [], engineSetsImage })).toEqual([]);
  });

  it("refuses a values file that sets sandbox, naming the file", () => {
    const files = [{ name: "preview.yaml", values: { sandbox: { local: { addonsHostPath: "/" } } } }];
    expect(() => checkUserValues({ sets: [], files, engineSetsImage: true })).toThrow(/^values: "preview\.yaml" sets sandbox/);
  });

  it("warns that a values file's odoo.image gives way to the built image, and accepts it otherwise", () => {
    const files = [
      { name: "v.yaml", values: { odoo: { image: "odoo:18.0", logLevel: "debug" } } },
      { name: "empty.yaml", values: null },
    ];
    expect(checkUserValues({ sets: [], files, engineSetsImage: true })).toEqual([
      "v.yaml sets odoo.image; the image the engine built replaces it",
    ]);
    expect(checkUserValues({ sets: [], files, engineSetsImage: false })).toEqual([]);
  });

  it("refuses a values file that is not a map", () => {
    expect(() => checkUserValues({ sets: [], files: [{ name: "list.yaml", values: [1, 2] }], engineSetsImage: false })).toThrow(
      /not a map of values/,
    );
  });
});

describe("sandboxValues in local mode", () => {
  it("passes the allowed host paths to the chart beside the mount", () => {
    const values = sandboxValues({
      identity: main,
      mode: "local",
      ttl: DEFAULT_TTL_MS,
      localAddonsPath: "/home/dev/shop/addons",
      allowedHostPaths: ["/home/dev"],
    });
    expect(values.sandbox.local).toEqual({ addonsHostPath: "/home/dev/shop/addons", allowedHostPaths: ["/home/dev"] });
  });
});
