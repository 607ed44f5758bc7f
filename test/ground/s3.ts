// The ground's S3 store: SeaweedFS (`weed server`, built from Go modules by
// build-binaries.sh) with master, volume server, filer and S3 gateway in one
// process, data under the ground's state directory, an identity with an access
// key and secret made once per state directory (a request signed with any
// other key gets 403), and the bucket the workspace agent uses.
//
// Every SeaweedFS port binds 127.0.0.1. Pods on the real node reach the S3
// API through a TCP relay on the bridge address (NODE_IP), same port number:
// `weed` would bind the S3 gateway's gRPC port (identity management, no
// authentication) on the same address as its HTTP port, and pods must see
// nothing but the signed S3 API.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { groundSourceDir } from "./paths.js";
import { freePort, isAlive, isPortFree, startDaemon, stopProcess, waitFor } from "./processes.js";

/** The agent's bucket (contract: AGENT_S3_BUCKET=codehub-archives). */
export const S3_BUCKET = "codehub-archives";
export const S3_REGION = "us-east-1";

const PORT_NAMES = ["s3", "s3Grpc", "master", "masterGrpc", "volume", "volumeGrpc", "filer", "filerGrpc"] as const;
type S3Ports = Record<(typeof PORT_NAMES)[number], number>;

export interface S3State {
  version: string;
  /** `weed server`. */
  pid?: number;
  /** The relay on the bridge address, when the ground has a real node. */
  relayPid?: number;
  ports: S3Ports;
  /** For the host: http://127.0.0.1:PORT */
  endpoint: string;
  /** For pods on the real node: http://NODE_IP:PORT (the loopback one without a real node). */
  internalEndpoint: string;
  bucket: string;
  region: string;
  /** 0600 JSON {accessKey, secretKey}; the secret is not kept in state.json. */
  credentialsFile: string;
  dataDir: string;
}

export interface S3Credentials {
  accessKey: string;
  secretKey: string;
}

export function readS3Credentials(s3: S3State): S3Credentials {
  return JSON.parse(readFileSync(s3.credentialsFile, "utf8")) as S3Credentials;
}

export function s3Alive(s3: S3State | undefined, bridged: boolean): boolean {
  if (!s3) return false;
  return isAlive(s3.pid) && (!bridged || isAlive(s3.relayPid));
}

/** The access key and secret of this state directory, made on first use. */
function ensureCredentials(dir: string): string {
  const file = join(dir, "credentials.json");
  if (!existsSync(file)) {
    const credentials: S3Credentials = {
      // AWS-shaped: 20 upper-case alphanumerics, 40 base64-ish characters.
      accessKey: `GROUND${randomBytes(10).toString("hex").toUpperCase().slice(0, 14)}`,
      secretKey: randomBytes(30).toString("base64url").slice(0, 40),
    };
    writeFileSync(file, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  }
  return file;
}

/** SeaweedFS's identity file (-s3.config): the one identity, allowed everything on every bucket. */
function writeIdentityConfig(dir: string, credentials: S3Credentials): string {
  const file = join(dir, "identities.json");
  const config = {
    identities: [
      {
        name: "ground",
        credentials: [{ accessKey: credentials.accessKey, secretKey: credentials.secretKey }],
        actions: ["Admin", "Read", "Write", "List", "Tagging"],
      },
    ],
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

export function weedArgs(options: { dataDir: string; ports: S3Ports; identities: string }): string[] {
  const { ports } = options;
  return [
    "server",
    `-dir=${options.dataDir}`,
    // Everything on loopback; -ip.bind on a loopback address opens no second listener.
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    `-master.port=${ports.master}`,
    `-master.port.grpc=${ports.masterGrpc}`,
    // No calls home from a test ground (the default sends anonymous statistics).
    "-master.telemetry=false",
    // Small volumes: a test ground stores megabytes, not terabytes.
    "-master.volumeSizeLimitMB=256",
    "-master.volumePreallocate=false",
    `-volume.port=${ports.volume}`,
    `-volume.port.grpc=${ports.volumeGrpc}`,
    "-volume.max=0",
    "-filer",
    `-filer.port=${ports.filer}`,
    `-filer.port.grpc=${ports.filerGrpc}`,
    "-s3",
    `-s3.port=${ports.s3}`,
    `-s3.port.grpc=${ports.s3Grpc}`,
    // The Iceberg and Lance catalogs are not part of S3; off.
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    `-s3.config=${options.identities}`,
    // Buckets are created on purpose (here, and by the agent at startup).
    "-s3.autoCreateBucket=false",
    "-webdav=false",
  ];
}

/**
 * Starts the S3 store if it is not running (or runs another version), and
 * makes sure the bucket exists. `bridgeIp` is the real node's bridge address,
 * undefined without a real node.
 */
export async function ensureS3(options: {
  groundDir: string;
  weed: string;
  version: string;
  previous: S3State | undefined;
  bridgeIp: string | undefined;
  log: (message: string) => void;
}): Promise<S3State> {
  const { previous, bridgeIp, log } = options;
  const bridged = bridgeIp !== undefined;
  if (previous && previous.version === options.version && s3Alive(previous, bridged) && (await s3Answers(previous))) {
    await ensureBucket(previous);
    return previous;
  }
  if (previous) await stopS3(previous);
  const dir = join(options.groundDir, "s3");
  await stopStrays(dir);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir, { recursive: true });
  const credentialsFile = ensureCredentials(dir);
  const credentials = JSON.parse(readFileSync(credentialsFile, "utf8")) as S3Credentials;
  const identities = writeIdentityConfig(dir, credentials);
  const ports = await choosePorts(dir, previous?.ports);
  const logFile = join(options.groundDir, "logs", "seaweedfs.log");
  const started = Date.now();
  const state: S3State = {
    version: options.version,
    ports,
    endpoint: `http://127.0.0.1:${ports.s3}`,
    internalEndpoint: bridged ? `http://${bridgeIp}:${ports.s3}` : `http://127.0.0.1:${ports.s3}`,
    bucket: S3_BUCKET,
    region: S3_REGION,
    credentialsFile,
    dataDir,
  };
  state.pid = startDaemon(options.weed, weedArgs({ dataDir, ports, identities }), logFile);
  recordPids(dir, state);
  try {
    if (bridged) {
      state.relayPid = startDaemon(
        process.execPath,
        ["--import", "tsx", join(groundSourceDir, "tcp-relay.ts"), `${bridgeIp}:${ports.s3}`, `127.0.0.1:${ports.s3}`],
        join(options.groundDir, "logs", "s3-relay.log"),
      );
      recordPids(dir, state);
    }
    await waitFor("the S3 gateway", () => s3Answers(state), 120_000, logFile);
    await waitFor(
      "the S3 bucket",
      async () => {
        await ensureBucket(state);
        return true;
      },
      60_000,
      logFile,
    );
  } catch (error) {
    await stopS3(state);
    throw error;
  }
  log(
    `S3 (SeaweedFS ${options.version}) up in ${((Date.now() - started) / 1000).toFixed(1)}s: ${state.endpoint}, pods: ${state.internalEndpoint}, bucket ${state.bucket}`,
  );
  return state;
}

export async function stopS3(s3: S3State): Promise<void> {
  // SeaweedFS flushes and says "Shut down successfully" within a fraction of
  // a second of TERM, then lingers ~11 s before it exits (measured): 3 s, then KILL.
  await Promise.all([s3.relayPid ? stopProcess(s3.relayPid) : undefined, s3.pid ? stopProcess(s3.pid, 3_000) : undefined]);
}

/**
 * The pids of the store are also kept beside its data: a state.json written
 * without them (a crash, or a ground restarted by code that does not know the
 * store) must not leave a `weed` holding the data directory and the ports.
 */
function recordPids(dir: string, s3: S3State): void {
  writeFileSync(join(dir, "pids.json"), `${JSON.stringify({ weed: s3.pid, relay: s3.relayPid, dataDir: s3.dataDir })}\n`);
}

/** Stops a store left running from this directory, checking each pid is still that process. */
async function stopStrays(dir: string): Promise<void> {
  const file = join(dir, "pids.json");
  if (!existsSync(file)) return;
  const recorded = JSON.parse(readFileSync(file, "utf8")) as { weed?: number; relay?: number; dataDir?: string };
  const commandLine = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      return "";
    }
  };
  if (recorded.relay && isAlive(recorded.relay) && commandLine(recorded.relay).includes("tcp-relay.ts")) await stopProcess(recorded.relay);
  if (recorded.weed && isAlive(recorded.weed) && recorded.dataDir && commandLine(recorded.weed).includes(`-dir=${recorded.dataDir}`)) {
    await stopProcess(recorded.weed, 20_000);
  }
}

/** The same ports as last time when they are still free (the endpoint in a pod's env stays right). */
async function choosePorts(dir: string, previous: S3Ports | undefined): Promise<S3Ports> {
  const file = join(dir, "ports.json");
  const last = previous ?? (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<S3Ports>) : undefined);
  const ports = {} as S3Ports;
  const taken = new Set<number>();
  for (const name of PORT_NAMES) {
    const wanted = last?.[name];
    ports[name] = wanted && !taken.has(wanted) && (await isPortFree(wanted)) ? wanted : await freePort();
    taken.add(ports[name]);
  }
  writeFileSync(file, `${JSON.stringify(ports)}\n`);
  return ports;
}

/** The gateway's health path answers without credentials. */
async function s3Answers(s3: S3State): Promise<boolean> {
  try {
    const response = await fetch(`${s3.endpoint}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

export function s3Client(s3: S3State, endpoint = s3.endpoint): S3Client {
  const { accessKey, secretKey } = readS3Credentials(s3);
  return new S3Client({
    endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
  });
}

async function ensureBucket(s3: S3State): Promise<void> {
  const client = s3Client(s3);
  try {
    try {
      await client.send(new HeadBucketCommand({ Bucket: s3.bucket }));
      return;
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw error;
    }
    await client.send(new CreateBucketCommand({ Bucket: s3.bucket }));
  } finally {
    client.destroy();
  }
}
