// The workspace agent's storage job (images/storage-job) on the ground's real
// node, run as the agent runs it: a Job with the contract's environment
// (../shared/notes/agent-api.md sections 4-5), the home volume at /data, uid
// 1000, Pod Security restricted, read-only root file system, credentials
// from a Secret, against the ground's S3 store. Also the ground's default
// workspace image (the code-server stand-in) serving a restored home.
import { createHash, randomBytes } from "node:crypto";
import { lstatSync, readFileSync, readlinkSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  CopyObjectCommand,
  ListMultipartUploadsCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, groundEnv, kubectl, kubectlJson, uniqueName } from "../support/cluster.js";
import {
  apply,
  type ContainerSpec,
  createRestrictedNamespace,
  podSpec,
  pvc,
  runJob,
  runOnce,
  startJob,
  waitForJob,
} from "../support/pods.js";
import { execIn, realNodeMissing, requireRealNode } from "../support/real-node.js";

const PREFIX = "codehub-ws-";
const workspace = `sjtest-${randomBytes(4).toString("hex")}`;
const archiveKey = (op: string) => `${PREFIX}${workspace}/${op}/home.tar.zst`;
let namespace = "";
let s3: S3Client;

const bucket = () => groundEnv("AGENT_S3_BUCKET");
const image = () => groundEnv("AGENT_RUNTIME_STORAGE_JOB_IMAGE");

/** The env the agent gives a storage job (contract section 5); credentials from the Secret. */
function jobEnv(extra: Record<string, string>, secret = "s3"): ContainerSpec["env"] {
  return [
    { name: "AWS_ENDPOINT_URL", value: groundEnv("AGENT_S3_INTERNAL_ENDPOINT") },
    { name: "AWS_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: secret, key: "AWS_ACCESS_KEY_ID" } } },
    { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: secret, key: "AWS_SECRET_ACCESS_KEY" } } },
    { name: "WORKSPACE_ID", value: workspace },
    { name: "S3_PREFIX", value: PREFIX },
    { name: "S3_BUCKET", value: bucket() },
    ...Object.entries(extra).map(([name, value]) => ({ name, value })),
  ];
}

function archiveSpec(claim: string, op: string, secret = "s3"): ContainerSpec {
  return {
    image: image(),
    command: ["/bin/sh", "-c", "/usr/local/bin/archive"],
    env: jobEnv({ ARCHIVE_URL: `s3://${bucket()}/${archiveKey(op)}`, ARCHIVE_OP_ID: op }, secret),
    volumes: [{ claim, path: "/data", readOnly: true }],
  };
}

function archiveJob(name: string, claim: string, op: string, secret = "s3") {
  return runJob(namespace, name, archiveSpec(claim, op, secret));
}

function restoreJob(name: string, claim: string, op: string, key: string) {
  return runJob(namespace, name, {
    image: image(),
    command: ["/bin/sh", "-c", "/usr/local/bin/restore"],
    env: jobEnv({ ARCHIVE_URL: `s3://${bucket()}/${key}`, RESTORE_OP_ID: op, RESTORE_ARCHIVE_KEY: key }),
    volumes: [{ claim, path: "/data" }],
  });
}

/** Runs a shell script in /data of a volume as uid 1000 (the workspace's user). */
async function onVolume(name: string, claim: string, script: string): Promise<string> {
  return runOnce(namespace, name, { image: image(), command: ["/bin/sh", "-ec", script], volumes: [{ claim, path: "/data" }] });
}

async function getBytes(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
  return Buffer.from(await (got.Body?.transformToByteArray() ?? new Uint8Array()));
}

async function getJson(key: string): Promise<Record<string, unknown>> {
  return JSON.parse((await getBytes(key)).toString("utf8")) as Record<string, unknown>;
}

async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket(), Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
}

/** The ground's volumes are host directories: where a claim's data lives on this machine. */
async function hostPathOf(claim: string): Promise<string> {
  const volume = await eventually(`claim ${claim} to be bound`, async () => {
    const c = await kubectlJson<{ spec?: { volumeName?: string } }>(["-n", namespace, "get", "pvc", claim]);
    return c.spec?.volumeName;
  });
  const pv = await kubectlJson<{ spec?: { hostPath?: { path?: string } } }>(["get", "pv", volume]);
  const path = pv.spec?.hostPath?.path;
  if (!path) throw new Error(`volume ${volume} of ${claim} is not a host path`);
  return path;
}

/** Every entry below a directory: path -> [type, uid, gid, mode, content or link target]. */
function snapshot(root: string): Record<string, [string, number, number, string, string]> {
  const out: Record<string, [string, number, number, string, string]> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const at = `${rel}${name}`;
      const s = lstatSync(path);
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isDirectory()) {
        out[at] = ["dir", s.uid, s.gid, mode, ""];
        walk(path, `${at}/`);
      } else if (s.isSymbolicLink()) out[at] = ["link", s.uid, s.gid, "", readlinkSync(path)];
      else if (s.isSocket()) out[at] = ["socket", s.uid, s.gid, mode, ""];
      else if (s.isFIFO()) out[at] = ["fifo", s.uid, s.gid, mode, ""];
      else out[at] = ["file", s.uid, s.gid, mode, createHash("sha256").update(readFileSync(path)).digest("hex")];
    }
  };
  walk(root, "");
  return out;
}

// The home a workspace leaves behind: nested directories, a private file, a
// symlink, an empty directory, a named pipe, and two sockets (which are never
// archived).
const POPULATE = [
  "mkdir -p deep/a/b/c .config/code-server empty",
  "printf 'hello from the workspace\\n' > notes.txt",
  "printf 'nested content\\n' > deep/a/b/c/file.txt",
  "head -c 300000 /dev/urandom > deep/a/b/blob.bin",
  "printf 'bind-addr: 0.0.0.0:8080\\n' > .config/code-server/config.yaml",
  "chmod 600 notes.txt",
  "ln -s deep/a/b/c/file.txt shortcut",
  "mkfifo deep/pipe",
  'python3 -c \'import socket; socket.socket(socket.AF_UNIX).bind("agent.sock"); socket.socket(socket.AF_UNIX).bind("deep/ipc.socket")\'',
  "test -S agent.sock && test -S deep/ipc.socket",
].join("\n");

beforeAll(async () => {
  if (realNodeMissing()) return;
  s3 = new S3Client({
    endpoint: groundEnv("AGENT_S3_ENDPOINT"),
    region: groundEnv("AGENT_S3_REGION"),
    forcePathStyle: true,
    credentials: { accessKeyId: groundEnv("AGENT_S3_ACCESS_KEY"), secretAccessKey: groundEnv("AGENT_S3_SECRET_KEY") },
  });
  namespace = uniqueName("sjtest");
  await createRestrictedNamespace(namespace);
  for (const [name, secret] of [
    ["s3", groundEnv("AGENT_S3_SECRET_KEY")],
    ["s3-wrong", "w".repeat(40)],
  ]) {
    await kubectl([
      "-n",
      namespace,
      "create",
      "secret",
      "generic",
      name as string,
      `--from-literal=AWS_ACCESS_KEY_ID=${groundEnv("AGENT_S3_ACCESS_KEY")}`,
      `--from-literal=AWS_SECRET_ACCESS_KEY=${secret}`,
    ]);
  }
  await apply(
    pvc(namespace, "home-a"),
    pvc(namespace, "home-b"),
    pvc(namespace, "home-c"),
    pvc(namespace, "home-d"),
    pvc(namespace, "home-e"),
  );
  await onVolume("populate-a", "home-a", POPULATE);
}, 600_000);

afterAll(async () => {
  if (!namespace) return;
  await kubectl(["delete", "namespace", namespace, "--wait=false"], { reject: false });
  for (const key of await keysUnder(`${PREFIX}${workspace}/`)) await s3.send(new DeleteObjectCommand({ Bucket: bucket(), Key: key }));
  s3.destroy();
});

describe("archive", () => {
  it("uploads a zstd tar of the volume root and, last, a .meta with its sha256", async (ctx) => {
    requireRealNode(ctx);
    const outcome = await archiveJob("archive-1", "home-a", "op-1");
    expect(outcome.succeeded, outcome.logs).toBe(true);
    expect(await keysUnder(`${PREFIX}${workspace}/op-1/`)).toEqual([archiveKey("op-1"), `${archiveKey("op-1")}.meta`]);
    const archive = await getBytes(archiveKey("op-1"));
    const meta = (await getBytes(`${archiveKey("op-1")}.meta`)).toString("utf8");
    expect(meta).toBe(`sha256:${createHash("sha256").update(archive).digest("hex")}\n`);
    // zstd's magic number, then the members as tar lists them.
    expect(archive.subarray(0, 4).toString("hex")).toBe("28b52ffd");
    const { stdout } = await execa("sh", ["-c", "zstd -dc | tar -tv --numeric-owner"], { input: archive });
    const members = stdout.split("\n").map((line) => line.split(/\s+/));
    const names = members.map((m) => m[5]);
    for (const name of [
      "./",
      "./notes.txt",
      "./deep/a/b/c/file.txt",
      "./deep/a/b/blob.bin",
      "./.config/code-server/config.yaml",
      "./empty/",
    ]) {
      expect(names, name).toContain(name);
    }
    expect(names).toContain("./shortcut");
    expect(names.filter((n) => n?.endsWith(".sock") || n?.endsWith(".socket"))).toEqual([]);
    // Every member is the workspace user's (the job ran as 1000 and wrote as 1000).
    expect(new Set(members.filter((m) => m[5] !== "./").map((m) => m[1]))).toEqual(new Set(["1000/1000"]));
  });

  it("skips an archive whose object and .meta exist (a repeat of the same op)", async (ctx) => {
    requireRealNode(ctx);
    const before = await s3.send(new HeadObjectCommand({ Bucket: bucket(), Key: archiveKey("op-1") }));
    const outcome = await archiveJob("archive-1-again", "home-a", "op-1");
    expect(outcome.succeeded, outcome.logs).toBe(true);
    expect(outcome.logs).toContain("nothing to do");
    const after = await s3.send(new HeadObjectCommand({ Bucket: bucket(), Key: archiveKey("op-1") }));
    expect(after.ETag).toBe(before.ETag);
    expect(after.LastModified).toEqual(before.LastModified);
  });

  it("leaves .error and no archive when the volume cannot be read, and a later success removes .error", async (ctx) => {
    requireRealNode(ctx);
    await onVolume("populate-d", "home-d", `${POPULATE}\nprintf 'secret' > unreadable && chmod 000 unreadable`);
    const failed = await archiveJob("archive-unreadable", "home-d", "op-3");
    expect(failed.succeeded).toBe(false);
    expect(failed.logs).toMatch(/unreadable: Cannot open: Permission denied/);
    expect(await keysUnder(`${PREFIX}${workspace}/op-3/`)).toEqual([`${PREFIX}${workspace}/op-3/.error`]);
    const error = await getJson(`${PREFIX}${workspace}/op-3/.error`);
    expect(error).toEqual({ status: "Failed", operation: "archive", archive_op_id: "op-3", error_code: 4, error_at: expect.any(String) });
    expect(Number.isNaN(Date.parse(String(error.error_at)))).toBe(false);

    await onVolume("fix-d", "home-d", "chmod 600 unreadable");
    const retried = await archiveJob("archive-unreadable-again", "home-d", "op-3");
    expect(retried.succeeded, retried.logs).toBe(true);
    expect(await keysUnder(`${PREFIX}${workspace}/op-3/`)).toEqual([archiveKey("op-3"), `${archiveKey("op-3")}.meta`]);
  });

  it("with a wrong secret: fails with the store's 403 in its log, writes nothing (it cannot), exits non-zero", async (ctx) => {
    requireRealNode(ctx);
    const outcome = await archiveJob("archive-wrong-key", "home-a", "op-4", "s3-wrong");
    expect(outcome.succeeded).toBe(false);
    expect(outcome.logs).toContain("FAILED (archive, error_code 3)");
    expect(outcome.logs).toMatch(/403|SignatureDoesNotMatch/);
    expect(outcome.logs).toContain("could not write the failure marker either");
    expect(outcome.logs).not.toContain(groundEnv("AGENT_S3_SECRET_KEY"));
    expect(await keysUnder(`${PREFIX}${workspace}/op-4/`)).toEqual([]);
  });
});

describe("interruptions and an unreachable store", () => {
  it("an archive killed during its upload leaves neither the object nor .meta; the same op then completes", async (ctx) => {
    requireRealNode(ctx);
    // Incompressible, so the upload takes 20 parts of 16 MiB (about 4.5 s on
    // a quiet ground, against ~1 s from the upload's start to the kill), and
    // more than the 256 MiB that a job buffering the archive would need.
    await onVolume("populate-e", "home-e", "head -c 320000000 /dev/urandom > big.bin && echo small > small.txt");
    await startJob(namespace, "archive-killed", archiveSpec("home-e", "op-5"));
    // The multipart upload is under way: the store lists it, the object does not exist yet.
    await eventually(
      "the archive's multipart upload to start",
      async () => {
        const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket(), Prefix: archiveKey("op-5") }));
        return (uploads.Uploads ?? []).some((u) => u.Key === archiveKey("op-5"));
      },
      180_000,
      200,
    );
    await kubectl(["-n", namespace, "delete", "pod", "-l", "job=archive-killed", "--grace-period=0", "--force"]);
    const killed = await waitForJob(namespace, "archive-killed");
    expect(killed.succeeded).toBe(false);
    expect(await exists(archiveKey("op-5"))).toBe(false);
    expect(await exists(`${archiveKey("op-5")}.meta`)).toBe(false);

    const again = await archiveJob("archive-killed-again", "home-e", "op-5");
    expect(again.succeeded, again.logs).toBe(true);
    // 320 MB streamed in 16 MiB parts: memory stays bounded whatever the volume's size.
    const peak = Number(/peak memory (\d+) MiB/.exec(again.logs)?.[1]);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(256);
    const meta = (await getBytes(`${archiveKey("op-5")}.meta`)).toString("utf8");
    expect(meta).toBe(
      `sha256:${createHash("sha256")
        .update(await getBytes(archiveKey("op-5")))
        .digest("hex")}\n`,
    );
  }, 600_000);

  it("with the store unreachable: the log says where and why, the job fails, nothing is written", async (ctx) => {
    requireRealNode(ctx);
    const spec = archiveSpec("home-a", "op-6");
    spec.env = (spec.env ?? []).map((e) => (e.name === "AWS_ENDPOINT_URL" ? { name: e.name, value: "http://10.88.0.1:9" } : e));
    const outcome = await runJob(namespace, "archive-unreachable", spec);
    expect(outcome.succeeded).toBe(false);
    expect(outcome.logs).toContain("FAILED (archive, error_code 3)");
    expect(outcome.logs).toContain("http://10.88.0.1:9");
    expect(outcome.logs).toMatch(/Could not connect to the endpoint URL/);
    expect(await keysUnder(`${PREFIX}${workspace}/op-6/`)).toEqual([]);
  });
});

describe("restore", () => {
  it("restores into a fresh volume: files, content, modes and owner back, extras removed, markers written", async (ctx) => {
    requireRealNode(ctx);
    await onVolume(
      "populate-b",
      "home-b",
      "mkdir -p stale/dir deep/a && echo old > stale/dir/f && echo old > deep/a/old.txt && echo old > notes.txt",
    );
    const outcome = await restoreJob("restore-1", "home-b", "restore-1", archiveKey("op-1"));
    expect(outcome.succeeded, outcome.logs).toBe(true);

    const expected = snapshot(await hostPathOf("home-a"));
    delete expected["agent.sock"];
    delete expected["deep/ipc.socket"];
    const restored = snapshot(await hostPathOf("home-b"));
    expect(restored).toEqual(expected);
    expect(restored["notes.txt"]?.slice(0, 4)).toEqual(["file", 1000, 1000, "600"]);
    expect(restored["deep/pipe"]?.[0]).toBe("fifo");

    const marker = await getJson(`${PREFIX}${workspace}/.restore_marker`);
    expect(marker).toEqual({ restore_op_id: "restore-1", archive_key: archiveKey("op-1"), restored_at: expect.any(String) });
    expect(await getJson(`${PREFIX}${workspace}/.volume_origin`)).toEqual({
      kind: "restored",
      source_archive_key: archiveKey("op-1"),
      restore_op_id: "restore-1",
      restored_at: marker.restored_at,
    });
    expect(await exists(`${PREFIX}${workspace}/.restore_error`)).toBe(false);
  });

  it("skips a restore whose op id the marker already holds", async (ctx) => {
    requireRealNode(ctx);
    await onVolume("touch-b", "home-b", "echo 'written after the restore' > after.txt");
    const outcome = await restoreJob("restore-1-again", "home-b", "restore-1", archiveKey("op-1"));
    expect(outcome.succeeded, outcome.logs).toBe(true);
    expect(outcome.logs).toContain("nothing to do");
    // Nothing was synced: a file written since is still there.
    expect(readFileSync(join(await hostPathOf("home-b"), "after.txt"), "utf8")).toBe("written after the restore\n");
  });

  it("refuses an archive whose bytes differ from its .meta: .restore_error, the volume untouched", async (ctx) => {
    requireRealNode(ctx);
    // A copy of the archive under another op with one byte changed, beside the original .meta.
    const bytes = await getBytes(archiveKey("op-1"));
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8((bytes.readUInt8(middle) ^ 0xff) & 0xff, middle);
    await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: archiveKey("op-corrupt"), Body: bytes }));
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket(),
        Key: `${archiveKey("op-corrupt")}.meta`,
        CopySource: `${bucket()}/${archiveKey("op-1")}.meta`,
      }),
    );
    await onVolume("populate-c", "home-c", "echo 'the volume as it was' > sentinel.txt");
    const outcome = await restoreJob("restore-corrupt", "home-c", "restore-2", archiveKey("op-corrupt"));
    expect(outcome.succeeded).toBe(false);
    expect(outcome.logs).toContain("checksum mismatch");
    expect(await getJson(`${PREFIX}${workspace}/.restore_error`)).toEqual({
      status: "Failed",
      operation: "restore",
      restore_op_id: "restore-2",
      archive_key: archiveKey("op-corrupt"),
      error_code: 5,
      error_at: expect.any(String),
    });
    const volume = snapshot(await hostPathOf("home-c"));
    expect(Object.keys(volume)).toEqual(["sentinel.txt"]);
    // The marker still names the last restore that happened.
    expect((await getJson(`${PREFIX}${workspace}/.restore_marker`)).restore_op_id).toBe("restore-1");
  });
});

describe("the ground's default workspace image (code-server stand-in)", () => {
  it("runs as 1000:1000 under Pod Security restricted, is ready on 8080 and serves the restored home", async (ctx) => {
    requireRealNode(ctx);
    const spec = podSpec(
      { image: groundEnv("AGENT_RUNTIME_DEFAULT_IMAGE"), volumes: [{ claim: "home-b", path: "/home/coder" }] },
      "Always",
    );
    const container = spec.containers[0];
    if (!container) throw new Error("no container");
    Object.assign(container, {
      args: ["--auth", "none", "--bind-addr", "0.0.0.0:8080"],
      env: [{ name: "HOME", value: "/home/coder" }],
      ports: [{ name: "http", containerPort: 8080 }],
      readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 2 },
    });
    await apply({ apiVersion: "v1", kind: "Pod", metadata: { namespace, name: "workspace", labels: { app: "workspace" } }, spec });
    await kubectl(["-n", namespace, "wait", "--for=condition=Ready", "pod/workspace", "--timeout=180s"]);
    const id = await execIn(namespace, "workspace", "main", ["id"]);
    expect(id.out).toMatch(/^uid=1000\(coder\) gid=1000\(coder\)/);
    const health = await execIn(namespace, "workspace", "main", ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]);
    expect(JSON.parse(health.out)).toMatchObject({ status: "alive" });
    const file = await execIn(namespace, "workspace", "main", ["curl", "-fsS", "http://127.0.0.1:8080/files/notes.txt"]);
    // execa trims the final newline of what curl printed.
    expect(file.out).toBe("hello from the workspace");
    const listing = await execIn(namespace, "workspace", "main", ["curl", "-fsS", "http://127.0.0.1:8080/files/"]);
    const entries = JSON.parse(listing.out) as { name: string; uid: number; gid: number }[];
    expect(entries.find((e) => e.name === "notes.txt")).toMatchObject({ uid: 1000, gid: 1000 });
    const outside = await execIn(namespace, "workspace", "main", [
      "curl",
      "-sS",
      "--path-as-is",
      "http://127.0.0.1:8080/files/../../etc/passwd",
    ]);
    expect(outside.out).toContain("outside the home directory");
  });
});
