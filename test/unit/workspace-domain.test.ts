import { describe, expect, it } from "vitest";
import { WorkspaceInputError } from "../../src/domain/workspace/errors.js";
import { protectedDirectories, selectGarbage } from "../../src/domain/workspace/gc.js";
import {
  deployment,
  service,
  storageJob,
  upstreamHost,
  volumeClaim,
  type WorkspaceRuntimeSettings,
} from "../../src/domain/workspace/manifests.js";
import {
  archiveKey,
  defaultNaming,
  jobName,
  parseArchiveKey,
  validateArchiveKey,
  validateImage,
  validateNaming,
  validateOpId,
  validateWorkspaceId,
  volumeName,
  workloadName,
  workspaceOfKey,
} from "../../src/domain/workspace/names.js";
import { containerRecord, type ObserveFacts, observeWorkspaces, type StoredObject } from "../../src/domain/workspace/observe.js";

const N = defaultNaming;
const WS = "0b0f4d7e-2a6c-4d1b-9a53-6f1c2e7d8a90";
const at = (minute: number) => new Date(Date.UTC(2026, 10, 26, 3, minute));
const obj = (key: string, minute: number): StoredObject => ({ key, lastModified: at(minute) });

describe("workspace ids and keys", () => {
  it.each([WS, "a", "ws-1", "0123456789012345678901234567890123456789"])("accepts the id %s", (id) => {
    expect(validateWorkspaceId(id)).toBe(id);
  });

  it.each([
    ["", "empty"],
    ["ABC", "upper case would not be a DNS name"],
    ["-a", "leading dash"],
    ["a-", "trailing dash"],
    ["a/b", "a slash would open another S3 directory"],
    ["../x", "path traversal"],
    ["a.b", "dots are not DNS-label safe"],
    ["a b", "space"],
    ["01234567890123456789012345678901234567890", "41 characters: the Service name would pass 63"],
    [42, "not a string"],
    [null, "null"],
  ] as Array<[unknown, string]>)("refuses the id %j (%s) with a message naming the field", (id) => {
    expect(() => validateWorkspaceId(id)).toThrow(WorkspaceInputError);
    expect(() => validateWorkspaceId(id)).toThrow(/^workspace_id: .* is not a workspace id/);
  });

  it.each(["op-1", "2026-11-26T03.00", "A_b.c", "x".repeat(63)])("accepts the op id %s", (op) => {
    expect(validateOpId(op, "archive_op_id")).toBe(op);
  });

  it.each(["", ".", "..", "a/b", "-a", "a ", "x".repeat(64), "a\nb", "é"])("refuses the op id %j", (op) => {
    expect(() => validateOpId(op, "archive_op_id")).toThrow(/^archive_op_id: /);
  });

  it("builds names within Kubernetes' limits from the longest id", () => {
    const id = "a".repeat(40);
    expect(workloadName(N, id).length).toBeLessThanOrEqual(63);
    expect(volumeName(N, WS)).toBe(`codehub-ws-${WS}-home`);
    expect(jobName(N, "archive", id, "x".repeat(63)).length).toBeLessThanOrEqual(63);
  });

  it("gives one Job name per (workspace, type, op) and different ones otherwise", () => {
    expect(jobName(N, "archive", WS, "op1")).toBe(jobName(N, "archive", WS, "op1"));
    expect(jobName(N, "archive", WS, "op1")).not.toBe(jobName(N, "archive", WS, "op2"));
    expect(jobName(N, "archive", WS, "op1")).not.toBe(jobName(N, "restore", WS, "op1"));
    // "a/bc" and "ab/c" must not collide: the separator is part of the digest input and ids cannot hold it.
    expect(jobName(N, "archive", "a", "bc")).not.toBe(jobName(N, "archive", "ab", "c"));
  });

  it("formats and parses the archive key of the contract, prefix without a slash", () => {
    expect(archiveKey(N, WS, "op1")).toBe(`codehub-ws-${WS}/op1/home.tar.zst`);
    expect(parseArchiveKey(N, archiveKey(N, WS, "op1"))).toEqual({ workspaceId: WS, opId: "op1" });
    expect(parseArchiveKey(N, `codehub-ws-${WS}/op1/home.tar.zst.meta`)).toBeUndefined();
    expect(parseArchiveKey(N, `${WS}/op1/home.tar.zst`)).toBeUndefined();
    expect(workspaceOfKey(N, `codehub-ws-${WS}/.restore_marker`)).toBe(WS);
    expect(workspaceOfKey(N, "other/x")).toBeUndefined();
  });

  it.each([
    "codehub-ws-a/../b/home.tar.zst",
    "codehub-ws-a/op/other.tar",
    "codehub-ws-a/op/x/home.tar.zst",
    "elsewhere/a/op/home.tar.zst",
    "codehub-ws-A/op/home.tar.zst",
  ])("refuses the archive key %s in a body", (key) => {
    expect(() => validateArchiveKey(N, key)).toThrow(/^archive_key: .* is not an archive key of this agent/);
  });

  it("accepts image references and refuses what is not one", () => {
    expect(validateImage("127.0.0.1:5000/ground/workspace:src-1@sha256:abc")).toBeTruthy();
    expect(() => validateImage("img\n--privileged")).toThrow(/image/);
    expect(() => validateImage("")).toThrow(/image/);
  });

  it("refuses a resource prefix that cannot start a Kubernetes name", () => {
    expect(() => validateNaming({ prefix: "Codehub/", archiveSuffix: "home.tar.zst" })).toThrow(/AGENT_RUNTIME_RESOURCE_PREFIX/);
    expect(() => validateNaming({ prefix: "ws-", archiveSuffix: "../x" })).toThrow(/AGENT_RUNTIME_ARCHIVE_SUFFIX/);
  });
});

describe("observe", () => {
  const empty: ObserveFacts = { workloads: [], volumes: [], jobs: [], objects: [], markers: new Map() };
  const pod = (running: boolean, ready: boolean, terminating = false) => ({ running, ready, terminating });

  it.each([
    ["no Deployment", undefined, null],
    ["scaled to zero, pods gone (Docker removes a stopped container)", { desiredReplicas: 0, pods: [] }, null],
    ["scaled to zero, pod terminating", { desiredReplicas: 0, pods: [pod(true, true, true)] }, { running: false, healthy: false }],
    ["started, pod pending", { desiredReplicas: 1, pods: [pod(false, false)] }, { running: false, healthy: false }],
    ["started, pod running but not ready", { desiredReplicas: 1, pods: [pod(true, false)] }, { running: true, healthy: false }],
    ["started, pod ready", { desiredReplicas: 1, pods: [pod(true, true)] }, { running: true, healthy: true }],
    ["started, only a terminating pod", { desiredReplicas: 1, pods: [pod(true, true, true)] }, { running: false, healthy: false }],
  ])("container: %s", (_what, workload, expected) => {
    expect(containerRecord(workload ? { workspaceId: WS, ...workload } : undefined)).toEqual(expected);
  });

  it("lists a workspace while any part exists, S3 leftovers included", () => {
    const records = observeWorkspaces(N, {
      ...empty,
      volumes: [{ workspaceId: "v", terminating: false }],
      workloads: [{ workspaceId: "w", desiredReplicas: 1, pods: [] }],
      jobs: [{ name: "j", workspaceId: "j", type: "archive", opId: "o", state: "running" }],
      objects: [obj("codehub-ws-s/op/.error", 1), obj("unrelated/key", 1), obj("codehub-ws-BAD/x/y", 1)],
    });
    expect(records.map((r) => r.workspace_id)).toEqual(["j", "s", "v", "w"]);
    expect(records.find((r) => r.workspace_id === "v")).toMatchObject({
      volume: { exists: true },
      container: null,
      archive: null,
      restore: null,
    });
  });

  it("a volume being deleted is no longer reported", () => {
    const [record] = observeWorkspaces(N, { ...empty, volumes: [{ workspaceId: WS, terminating: true }] });
    expect(record?.volume).toBeNull();
  });

  it("archive = the newest complete archive (tar AND .meta) by LastModified", () => {
    const p = `codehub-ws-${WS}`;
    const [record] = observeWorkspaces(N, {
      ...empty,
      objects: [
        obj(`${p}/old/home.tar.zst`, 1),
        obj(`${p}/old/home.tar.zst.meta`, 1),
        obj(`${p}/mid/home.tar.zst`, 5),
        obj(`${p}/mid/home.tar.zst.meta`, 5),
        obj(`${p}/half/home.tar.zst`, 9), // no .meta: still uploading or failed
        obj(`${p}/metaonly/home.tar.zst.meta`, 10),
      ],
    });
    expect(record?.archive).toEqual({ exists: true, archive_key: `${p}/mid/home.tar.zst` });
  });

  it("no complete archive: archive is null", () => {
    const [record] = observeWorkspaces(N, { ...empty, objects: [obj(`codehub-ws-${WS}/a/home.tar.zst`, 1)] });
    expect(record?.archive).toBeNull();
  });

  it("restore comes from the marker's content", () => {
    const marker = `codehub-ws-${WS}/.restore_marker`;
    const [record] = observeWorkspaces(N, {
      ...empty,
      objects: [obj(marker, 3)],
      markers: new Map([[marker, { restore_op_id: "r1", archive_key: "codehub-ws-x/a/home.tar.zst", restored_at: at(3).toISOString() }]]),
    });
    expect(record?.restore).toEqual({ restore_op_id: "r1", archive_key: "codehub-ws-x/a/home.tar.zst" });
  });

  it("an unreadable or malformed marker gives restore null, not a crash", () => {
    const marker = `codehub-ws-${WS}/.restore_marker`;
    const [record] = observeWorkspaces(N, { ...empty, objects: [obj(marker, 3)], markers: new Map([[marker, { restore_op_id: 7 }]]) });
    expect(record?.restore).toBeNull();
  });

  it("error: an archive .error marker is reported with its op", () => {
    const key = `codehub-ws-${WS}/op9/.error`;
    const [record] = observeWorkspaces(N, {
      ...empty,
      objects: [obj(key, 4)],
      markers: new Map([
        [key, { status: "Failed", operation: "archive", archive_op_id: "op9", error_code: 2, error_at: at(4).toISOString() }],
      ]),
    });
    expect(record?.error).toEqual({
      operation: "archive",
      error_code: 2,
      error_at: at(4).toISOString(),
      archive_op_id: "op9",
      restore_op_id: null,
    });
  });

  it("error: a restore error newer than the last restore is reported; an older one is superseded", () => {
    const p = `codehub-ws-${WS}`;
    const errorAt = (minute: number) => ({
      status: "Failed",
      operation: "restore",
      restore_op_id: "r1",
      archive_key: "k",
      error_code: 3,
      error_at: at(minute).toISOString(),
    });
    const facts = (errorMinute: number, restoredMinute: number): ObserveFacts => ({
      ...empty,
      objects: [obj(`${p}/.restore_error`, errorMinute), obj(`${p}/.restore_marker`, restoredMinute)],
      markers: new Map<string, unknown>([
        [`${p}/.restore_error`, errorAt(errorMinute)],
        [`${p}/.restore_marker`, { restore_op_id: "r0", archive_key: "k0", restored_at: at(restoredMinute).toISOString() }],
      ]),
    });
    expect(observeWorkspaces(N, facts(5, 2))[0]?.error).toMatchObject({ operation: "restore", restore_op_id: "r1", error_code: 3 });
    expect(observeWorkspaces(N, facts(2, 5))[0]?.error).toBeNull();
  });

  it("error: a Job that failed without writing a marker (deadline, image) is reported; one with a marker is not doubled", () => {
    const failed = {
      name: "j",
      workspaceId: WS,
      type: "archive" as const,
      opId: "op1",
      state: "failed" as const,
      finishedAt: at(7).toISOString(),
      exitCode: 137,
    };
    expect(observeWorkspaces(N, { ...empty, jobs: [failed] })[0]?.error).toEqual({
      operation: "archive",
      error_code: 137,
      error_at: at(7).toISOString(),
      archive_op_id: "op1",
      restore_op_id: null,
    });
    const key = `codehub-ws-${WS}/op1/.error`;
    const withMarker = observeWorkspaces(N, {
      ...empty,
      jobs: [failed],
      objects: [obj(key, 6)],
      markers: new Map([[key, { archive_op_id: "op1", error_code: 5, error_at: at(6).toISOString() }]]),
    });
    expect(withMarker[0]?.error?.error_code).toBe(5);
  });
});

describe("gc", () => {
  const p = (ws: string, op: string, name = "home.tar.zst") => `codehub-ws-${ws}/${op}/${name}`;
  const archive = (ws: string, op: string, minute: number) => [obj(p(ws, op), minute), obj(p(ws, op, "home.tar.zst.meta"), minute)];
  const five = ["a1", "a2", "a3", "a4", "a5"].flatMap((op, i) => archive("w", op, i + 1));
  const none = { archiveKeys: [], protectedWorkspaces: [] as Array<[string, string]>, retentionCount: 3 };

  it("keeps the newest N per workspace and purges the directories of the older ones", () => {
    expect(selectGarbage(N, five, none)).toEqual([
      p("w", "a1"),
      p("w", "a1", "home.tar.zst.meta"),
      p("w", "a2"),
      p("w", "a2", "home.tar.zst.meta"),
    ]);
  });

  it("N or fewer archives: nothing is deleted", () => {
    expect(selectGarbage(N, five.slice(0, 6), none)).toEqual([]);
    expect(selectGarbage(N, five, { ...none, retentionCount: 5 })).toEqual([]);
  });

  it("an archive_keys entry protects its whole directory (the archive a restore reads)", () => {
    expect(selectGarbage(N, five, { ...none, archiveKeys: [p("w", "a1")] })).toEqual([p("w", "a2"), p("w", "a2", "home.tar.zst.meta")]);
  });

  it("a protected (ws, op) pair protects its directory (an archive being written)", () => {
    expect(selectGarbage(N, five, { ...none, protectedWorkspaces: [["w", "a2"]] })).toEqual([
      p("w", "a1"),
      p("w", "a1", "home.tar.zst.meta"),
    ]);
    expect(protectedDirectories(N, { ...none, archiveKeys: [p("x", "o")], protectedWorkspaces: [["y", "q"]] })).toEqual(
      new Set(["x/o/", "y/q/"]),
    );
  });

  it("protection of one workspace does not leak to another with the same op id", () => {
    const objects = [...five, ...["a1", "a2", "a3", "a4"].flatMap((op, i) => archive("v", op, i + 1))];
    const garbage = selectGarbage(N, objects, { ...none, protectedWorkspaces: [["w", "a1"]] });
    expect(garbage).toContain(p("v", "a1"));
    expect(garbage).not.toContain(p("w", "a1"));
  });

  it("purges every object of an old directory (its .error, stray files) but never a .restore_marker", () => {
    const objects = [
      ...five,
      obj(p("w", "a1", ".error"), 1),
      obj(`codehub-ws-w/.restore_marker`, 0),
      obj(`codehub-ws-w/.volume_origin`, 0),
    ];
    const garbage = selectGarbage(N, objects, none);
    expect(garbage).toContain(p("w", "a1", ".error"));
    expect(garbage).not.toContain("codehub-ws-w/.restore_marker");
    expect(garbage).not.toContain("codehub-ws-w/.volume_origin");
  });

  it("counts a tar without .meta (the newest, still uploading) as an archive and keeps it", () => {
    const objects = [...five, obj(p("w", "a6"), 9)];
    const garbage = selectGarbage(N, objects, none);
    expect(garbage).not.toContain(p("w", "a6"));
    expect(garbage).toContain(p("w", "a3"));
  });

  it("never touches directories without a tar, nor keys outside the prefix", () => {
    const objects = [...five, obj(p("w", "failed", ".error"), 0), obj("other/w/a1/home.tar.zst", 0)];
    const garbage = selectGarbage(N, objects, none);
    expect(garbage).not.toContain(p("w", "failed", ".error"));
    expect(garbage).not.toContain("other/w/a1/home.tar.zst");
  });

  it("retention 0 purges every unprotected archive", () => {
    expect(selectGarbage(N, five, { ...none, retentionCount: 0, protectedWorkspaces: [["w", "a5"]] })).toHaveLength(8);
  });

  it("ties in LastModified are broken by key, so the result does not depend on listing order", () => {
    const tied = ["b", "a", "c", "d"].flatMap((op) => archive("w", op, 1));
    const reversed = [...tied].reverse();
    expect(selectGarbage(N, tied, none)).toEqual(selectGarbage(N, reversed, none));
  });
});

describe("manifests", () => {
  const s: WorkspaceRuntimeSettings = {
    namespace: "ws-ns",
    naming: N,
    uid: 1000,
    gid: 1000,
    containerPort: 8080,
    homePath: "/home/coder",
    storageClass: "",
    volumeSize: "1Gi",
    nodeSelector: {},
    tolerations: [],
    clusterDomain: "cluster.local",
    storageJobImage: "registry/storage-job:1",
    jobTimeoutSeconds: 600,
    jobTtlSeconds: 3600,
    jobBackoffLimit: 1,
    s3: { bucket: "b", internalEndpoint: "http://s3:8333", region: "us-east-1" },
    credentialsSecret: "codehub-ws-storage-credentials",
  };

  it("the workspace runs as 1000:1000 under the restricted profile, home mounted, one pod at a time", () => {
    const d = deployment(s, WS, "img:1", 1);
    const pod = d.spec?.template.spec;
    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod?.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(pod?.containers[0]?.args).toEqual(["--auth", "none", "--bind-addr", "0.0.0.0:8080"]);
    expect(pod?.containers[0]?.volumeMounts).toEqual([{ name: "home", mountPath: "/home/coder" }]);
    expect(pod?.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe(`codehub-ws-${WS}-home`);
    expect(d.spec?.strategy?.type).toBe("Recreate");
    expect(pod?.automountServiceAccountToken).toBe(false);
  });

  it("claims the cluster's default StorageClass unless one is named", () => {
    expect(volumeClaim(s, WS).spec?.storageClassName).toBeUndefined();
    expect(volumeClaim({ ...s, storageClass: "fast" }, WS).spec?.storageClassName).toBe("fast");
  });

  it("the Service selects the workspace pods; upstream is its cluster DNS name", () => {
    expect(service(s, WS).spec?.selector).toEqual(deployment(s, WS, "i", 1).spec?.selector?.matchLabels);
    expect(upstreamHost(s, WS)).toBe(`codehub-ws-${WS}.ws-ns.svc.cluster.local`);
  });

  it("a storage Job carries the contract's env, keys only by Secret reference, a deadline, a TTL and its labels", () => {
    const job = storageJob(s, { type: "restore", ws: WS, op: "r1", archiveKey: `codehub-ws-x/a/home.tar.zst` });
    const container = job.spec?.template.spec?.containers[0];
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? `secret:${e.valueFrom?.secretKeyRef?.key}`]));
    expect(env).toMatchObject({
      ARCHIVE_URL: "s3://b/codehub-ws-x/a/home.tar.zst",
      AWS_ENDPOINT_URL: "http://s3:8333",
      AWS_ACCESS_KEY_ID: "secret:AWS_ACCESS_KEY_ID",
      AWS_SECRET_ACCESS_KEY: "secret:AWS_SECRET_ACCESS_KEY",
      WORKSPACE_ID: WS,
      S3_PREFIX: "codehub-ws-",
      S3_BUCKET: "b",
      RESTORE_OP_ID: "r1",
      RESTORE_ARCHIVE_KEY: "codehub-ws-x/a/home.tar.zst",
    });
    expect(container?.command).toEqual(["/bin/sh", "-c", "/usr/local/bin/restore"]);
    expect(job.spec).toMatchObject({ activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 3600, backoffLimit: 1 });
    expect(job.metadata?.labels).toMatchObject({
      "codehub.workspace_id": WS,
      "codehub.job_type": "restore",
      "codehub.restore_op_id": "r1",
    });
    expect(container?.volumeMounts?.[0]).toMatchObject({ mountPath: "/data", readOnly: false });
    const archiveJob = storageJob(s, { type: "archive", ws: WS, op: "a1", archiveKey: archiveKey(N, WS, "a1") });
    expect(archiveJob.spec?.template.spec?.containers[0]?.volumeMounts?.[0]).toMatchObject({ mountPath: "/data", readOnly: true });
    expect(archiveJob.metadata?.labels?.["codehub.archive_op_id"]).toBe("a1");
  });
});
