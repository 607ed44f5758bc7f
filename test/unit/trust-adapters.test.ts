// The adapters behind the trust rules: git's HEAD of a build context, the
// builders' extra commit tag and archive output, registry credentials from
// the login files, and an engine that refuses to fall back to ambient
// cluster credentials unless asked.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { createRunner } from "../../src/adapters/exec.js";
import { headCommit } from "../../src/adapters/git.js";
import { buildahArchiveArgs, buildahBuildArgs, dockerBuildArgs, extraRefs } from "../../src/adapters/image/builders.js";
import { credentialsFromAuthFiles, credentialsFromAuthJson } from "../../src/adapters/image/registry.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { SandboxError } from "../../src/domain/errors.js";
import { createEngine, kubeconfigDirOf } from "../../src/wiring/create-engine.js";
import { groundSettings } from "../support/engine.js";

const run = createRunner(new MemoryLogger());

describe("headCommit", () => {
  it("reads the commit a checkout (or a directory inside it) is at", async () => {
    const dir = mkdtempSync(join(tmpdir(), "head-"));
    const git = (...args: string[]) => execa("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.test", ...args]);
    await git("init", "-q");
    writeFileSync(join(dir, "a"), "a");
    await git("add", "a");
    await git("commit", "-q", "-m", "a");
    const { stdout } = await git("rev-parse", "HEAD");
    expect(await headCommit(run, dir)).toBe(stdout.trim());
  });

  it("is undefined outside a checkout or in an empty repository", async () => {
    expect(await headCommit(run, mkdtempSync(join(tmpdir(), "plain-")))).toBeUndefined();
    const empty = mkdtempSync(join(tmpdir(), "empty-"));
    await execa("git", ["-C", empty, "init", "-q"]);
    expect(await headCommit(run, empty)).toBeUndefined();
  });
});

describe("builders", () => {
  const req = {
    context: "/w",
    dockerfile: "/w/Dockerfile.dev",
    image: "ghcr.io/acme/shop-sandbox:src-1",
    buildArgs: {},
    labels: { "org.opencontainers.image.revision": "abc" },
    alsoTags: ["sha-abc"],
  };

  it("tag the image with the commit's tag as well", () => {
    expect(extraRefs(req)).toEqual(["ghcr.io/acme/shop-sandbox:sha-abc"]);
    expect(buildahBuildArgs(req)).toEqual(
      expect.arrayContaining(["--tag", "ghcr.io/acme/shop-sandbox:src-1", "--tag", "ghcr.io/acme/shop-sandbox:sha-abc"]),
    );
    expect(extraRefs({ image: "127.0.0.1:5000/x:src-1" })).toEqual([]);
  });

  it("write an OCI archive instead of pushing when asked", () => {
    expect(buildahArchiveArgs(req.image, "/tmp/image.tar")).toEqual(["push", req.image, `oci-archive:/tmp/image.tar:${req.image}`]);
    const docker = dockerBuildArgs({ ...req, archive: "/tmp/image.tar" });
    expect(docker).toContain("--output=type=oci,dest=/tmp/image.tar");
    expect(docker).not.toContain("--push");
    expect(dockerBuildArgs(req)).toContain("--push");
  });
});

describe("registry credentials from login files", () => {
  const auth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");

  it.each([
    { name: "docker login", json: { auths: { "ghcr.io": { auth: auth("octo", "p:ss") } } }, found: { username: "octo", password: "p:ss" } },
    {
      name: "an https:// key",
      json: { auths: { "https://ghcr.io": { auth: auth("octo", "pw") } } },
      found: { username: "octo", password: "pw" },
    },
    { name: "another registry", json: { auths: { "docker.io": { auth: auth("octo", "pw") } } }, found: undefined },
    { name: "a credential helper only", json: { credsStore: "desktop", auths: { "ghcr.io": {} } }, found: undefined },
    { name: "no colon", json: { auths: { "ghcr.io": { auth: Buffer.from("nocolon").toString("base64") } } }, found: undefined },
  ])("$name", ({ json, found }) => {
    expect(credentialsFromAuthJson(JSON.stringify(json), "ghcr.io")).toEqual(found);
  });

  it("reads the first file that has the registry, skipping missing and broken ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "auth-"));
    writeFileSync(join(dir, "broken.json"), "{");
    writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { "ghcr.io": { auth: auth("u", "p") } } }));
    const files = [join(dir, "missing.json"), join(dir, "broken.json"), join(dir, "config.json")];
    expect(credentialsFromAuthFiles("ghcr.io", files)).toEqual({ username: "u", password: "p" });
  });
});

describe("cluster credentials", () => {
  const settings = groundSettings("unit-sandbox-", "preview.example.test");

  it("an Action without a kubeconfig fails with what to do, instead of using the runner's", () => {
    const engine = createEngine({ settings, logger: new MemoryLogger(), ambientCredentials: false });
    expect(() => engine.kube).toThrow(SandboxError);
    expect(() => engine.namespaces).toThrow(/no kubeconfig: pass the cluster's kubeconfig as a secret.*ambient-credentials: true/);
  });

  it("writes the kubeconfig helm needs into the given directory, readable by the owner only", async () => {
    const temp = mkdtempSync(join(tmpdir(), "runner-temp-"));
    const content = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n";
    const engine = createEngine({ settings, logger: new MemoryLogger(), kubeconfigContent: content, tempDir: temp });
    const dir = kubeconfigDirOf(engine) as string;
    expect(dir.startsWith(join(temp, "k8s-sandbox-kube-"))).toBe(true);
    const { stdout } = await execa("stat", ["-c", "%a", join(dir, "config")]);
    expect(stdout.trim()).toBe("600");
  });
});
