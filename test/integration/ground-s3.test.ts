// The ground's S3 store (SeaweedFS, test/ground/s3.ts): up after `up`, named
// by the ground's env, authentication enforced (403s for a wrong secret, an
// unknown key and no signature), the agent's bucket present, the object
// calls the agent makes working, only the S3 API on the bridge address, and
// reachable with the ground's key from a pod on the real node.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroundState } from "../ground/ground.js";
import { NODE_IP } from "../ground/node-config.js";
import { groundEnv, kubectl, uniqueName } from "../support/cluster.js";
import { createRestrictedNamespace, runJob } from "../support/pods.js";
import { realNodeMissing, requireRealNode } from "../support/real-node.js";

const prefix = `ground-s3-test/${randomBytes(4).toString("hex")}/`;

function client(options: { endpoint?: string; accessKey?: string; secretKey?: string } = {}): S3Client {
  return new S3Client({
    endpoint: options.endpoint ?? groundEnv("AGENT_S3_ENDPOINT"),
    region: groundEnv("AGENT_S3_REGION"),
    forcePathStyle: true,
    credentials: {
      accessKeyId: options.accessKey ?? groundEnv("AGENT_S3_ACCESS_KEY"),
      secretAccessKey: options.secretKey ?? groundEnv("AGENT_S3_SECRET_KEY"),
    },
    maxAttempts: 1,
  });
}

/** The HTTP status and S3 error code a failed call got. */
async function refusal(call: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  try {
    await call;
  } catch (error) {
    const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    return { status: e.$metadata?.httpStatusCode, code: e.Code ?? e.name };
  }
  throw new Error("the call succeeded; it should have been refused");
}

const bucket = () => groundEnv("AGENT_S3_BUCKET");

afterAll(async () => {
  const s3 = client();
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket(), Prefix: prefix }));
  for (const object of listed.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucket(), Key: object.Key }));
  s3.destroy();
});

describe("the ground's S3 store", () => {
  it("is named by the ground's env: a loopback endpoint for the host, the bridge address for pods", () => {
    expect(groundEnv("AGENT_S3_ENDPOINT")).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const internal = groundEnv("AGENT_S3_INTERNAL_ENDPOINT");
    if (process.env.GROUND_REAL_NODE === "1") expect(internal).toBe(`http://${NODE_IP}:${new URL(groundEnv("AGENT_S3_ENDPOINT")).port}`);
    expect(groundEnv("AGENT_S3_BUCKET")).toBe("codehub-archives");
    expect(groundEnv("AGENT_S3_REGION")).toBe("us-east-1");
    expect(groundEnv("AGENT_S3_ACCESS_KEY")).toMatch(/^[A-Z0-9]{20}$/);
    expect(groundEnv("AGENT_S3_SECRET_KEY").length).toBe(40);
    // The images are built with the real node (they run only there).
    if (process.env.GROUND_REAL_NODE === "1") {
      expect(groundEnv("AGENT_RUNTIME_DEFAULT_IMAGE")).toMatch(/\/ground\/code-server-standin:src-[0-9a-f]{20}$/);
      expect(groundEnv("AGENT_RUNTIME_STORAGE_JOB_IMAGE")).toMatch(/\/ground\/storage-job:src-[0-9a-f]{20}$/);
    }
  });

  it("has the agent's bucket", async () => {
    const s3 = client();
    const head = await s3.send(new HeadBucketCommand({ Bucket: bucket() }));
    expect(head.$metadata.httpStatusCode).toBe(200);
    s3.destroy();
  });

  it("puts, gets, lists and deletes objects with the ground's key", async () => {
    const s3 = client();
    const key = `${prefix}hello.txt`;
    await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: "hello from the host\n" }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
    expect(await got.Body?.transformToString()).toBe("hello from the host\n");
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket(), Prefix: prefix }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toContain(key);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket(), Key: key }));
    expect((await refusal(s3.send(new GetObjectCommand({ Bucket: bucket(), Key: key })))).status).toBe(404);
    s3.destroy();
  });

  it("refuses a wrong secret, an unknown key and an unsigned request with 403", async () => {
    const wrongSecret = client({ secretKey: "x".repeat(40) });
    expect(await refusal(wrongSecret.send(new ListObjectsV2Command({ Bucket: bucket() })))).toEqual({
      status: 403,
      code: "SignatureDoesNotMatch",
    });
    const unknownKey = client({ accessKey: "NOSUCHKEY00000000000" });
    expect(await refusal(unknownKey.send(new PutObjectCommand({ Bucket: bucket(), Key: `${prefix}x`, Body: "x" })))).toEqual({
      status: 403,
      code: "InvalidAccessKeyId",
    });
    const anonymous = await fetch(`${groundEnv("AGENT_S3_ENDPOINT")}/${bucket()}?list-type=2`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain("<Code>AccessDenied</Code>");
    wrongSecret.destroy();
    unknownKey.destroy();
  });

  it("keeps its credentials in a file only root can read, and its data under the ground's state directory", () => {
    const state = JSON.parse(readFileSync(join(groundEnv("GROUND_DIR"), "state.json"), "utf8")) as GroundState;
    expect(state.s3?.dataDir.startsWith(`${groundEnv("GROUND_DIR")}/`)).toBe(true);
    expect(state.s3?.dataDir.startsWith(process.cwd())).toBe(false);
    const credentials = state.s3?.credentialsFile ?? "";
    expect(JSON.parse(readFileSync(credentials, "utf8"))).toEqual({
      accessKey: groundEnv("AGENT_S3_ACCESS_KEY"),
      secretKey: groundEnv("AGENT_S3_SECRET_KEY"),
    });
    expect(JSON.stringify(state)).not.toContain(groundEnv("AGENT_S3_SECRET_KEY"));
  });
});

describe("from the real node's pods", () => {
  let namespace = "";

  beforeAll(async () => {
    if (realNodeMissing()) return;
    namespace = uniqueName("grounds3");
    await createRestrictedNamespace(namespace);
    await kubectl([
      "-n",
      namespace,
      "create",
      "secret",
      "generic",
      "s3",
      `--from-literal=AWS_ACCESS_KEY_ID=${groundEnv("AGENT_S3_ACCESS_KEY")}`,
      `--from-literal=AWS_SECRET_ACCESS_KEY=${groundEnv("AGENT_S3_SECRET_KEY")}`,
    ]);
  });

  afterAll(async () => {
    if (namespace) await kubectl(["delete", "namespace", namespace, "--wait=false"], { reject: false });
  });

  it("only the S3 API listens on the bridge address: SeaweedFS's other ports stay on loopback", async (ctx) => {
    requireRealNode(ctx);
    const state = JSON.parse(readFileSync(join(groundEnv("GROUND_DIR"), "state.json"), "utf8")) as GroundState;
    const ports = state.s3?.ports;
    expect(ports).toBeDefined();
    const open = (host: string, port: number) =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, host);
        const answer = (value: boolean) => {
          socket.destroy();
          resolve(value);
        };
        socket.setTimeout(2_000);
        socket.once("connect", () => answer(true));
        socket.once("error", () => answer(false));
        socket.once("timeout", () => answer(false));
      });
    for (const [name, port] of Object.entries(ports ?? {})) {
      expect(await open("127.0.0.1", port), `${name} on loopback`).toBe(true);
      expect(await open(NODE_IP, port), `${name} on ${NODE_IP}`).toBe(name === "s3");
    }
  });

  it("a pod writes and reads an object through the internal endpoint, and a wrong key gets 403 there too", async (ctx) => {
    requireRealNode(ctx);
    const key = `${prefix}from-pod.txt`;
    const script = [
      "import boto3, os, sys",
      "from botocore.config import Config",
      "from botocore.exceptions import ClientError",
      "cfg = Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1})",
      "s3 = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name='us-east-1', config=cfg)",
      "b, k = os.environ['BUCKET'], os.environ['KEY']",
      "s3.put_object(Bucket=b, Key=k, Body=b'written by a pod on the real node')",
      "print('read back:', s3.get_object(Bucket=b, Key=k)['Body'].read().decode())",
      "bad = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name='us-east-1', config=cfg,",
      "                   aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'], aws_secret_access_key='x' * 40)",
      "try:",
      "    bad.get_object(Bucket=b, Key=k); print('wrong key: allowed')",
      "except ClientError as e:",
      "    print('wrong key:', e.response['ResponseMetadata']['HTTPStatusCode'], e.response['Error']['Code'])",
    ].join("\n");
    const outcome = await runJob(namespace, "s3-from-pod", {
      image: groundEnv("AGENT_RUNTIME_STORAGE_JOB_IMAGE"),
      command: ["python3", "-c", script],
      env: [
        { name: "AWS_ENDPOINT_URL", value: groundEnv("AGENT_S3_INTERNAL_ENDPOINT") },
        { name: "AWS_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: "s3", key: "AWS_ACCESS_KEY_ID" } } },
        { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "s3", key: "AWS_SECRET_ACCESS_KEY" } } },
        { name: "BUCKET", value: bucket() },
        { name: "KEY", value: key },
      ],
    });
    expect(outcome.logs).toContain("read back: written by a pod on the real node");
    expect(outcome.logs).toContain("wrong key: 403 SignatureDoesNotMatch");
    expect(outcome.succeeded).toBe(true);
    const s3 = client();
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
    expect(await got.Body?.transformToString()).toBe("written by a pod on the real node");
    s3.destroy();
  });
});
