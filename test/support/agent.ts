// Starts the workspace agent for a test: on loopback, against the ground's API
// server and the S3 server named by AGENT_S3_* (the ground's, or a standalone
// one, see /work/coord/s3-ready.md). Every answer is checked against the
// agent's own /openapi.json: the schema of that path, method and status.
import { createHash, randomBytes } from "node:crypto";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { expect } from "vitest";
import { kubectl } from "./cluster.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { loadConfig } from "../../src/agent/config.js";
import { type RunningAgent, startAgent } from "../../src/agent/start.js";
import type { WorkspaceRecord } from "../../src/domain/workspace/observe.js";

export const S3_ENV = ["AGENT_S3_ENDPOINT", "AGENT_S3_ACCESS_KEY", "AGENT_S3_SECRET_KEY"] as const;

/** Why the agent's integration tests cannot run here, or undefined when they can. */
export function s3Missing(): string | undefined {
  const missing = S3_ENV.filter((name) => !process.env[name]);
  return missing.length
    ? `no S3 store: ${missing.join(", ")} unset (npm run -s ground -- env exports them once the ground has its S3 server)`
    : undefined;
}

export interface TestAgent {
  agent: RunningAgent;
  logger: MemoryLogger;
  namespace: string;
  prefix: string;
  key: string;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked against the served OpenAPI document at run time
  call<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export function uniqueSuffix(): string {
  return randomBytes(3).toString("hex");
}

/** A namespace enforcing Pod Security "restricted", so every pod the agent makes is checked by the API server. */
export async function createRestrictedNamespace(name: string): Promise<void> {
  await kubectl(["create", "namespace", name]);
  await kubectl([
    "label",
    "namespace",
    name,
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/enforce-version=latest",
  ]);
}

export async function startTestAgent(options: {
  namespace: string;
  prefix: string;
  bucket: string;
  env?: Record<string, string>;
  key?: string;
}): Promise<TestAgent> {
  const key = options.key ?? `agent-test-key-${randomBytes(12).toString("hex")}`;
  const config = loadConfig(
    {
      ...process.env,
      AGENT_SERVER_API_KEY: key,
      AGENT_S3_BUCKET: options.bucket,
      AGENT_KUBERNETES_NAMESPACE: options.namespace,
      AGENT_RUNTIME_RESOURCE_PREFIX: options.prefix,
      AGENT_RUNTIME_DEFAULT_IMAGE: process.env.AGENT_RUNTIME_DEFAULT_IMAGE ?? "ground/workspace-default:test",
      AGENT_RUNTIME_STORAGE_JOB_IMAGE: process.env.AGENT_RUNTIME_STORAGE_JOB_IMAGE ?? "ground/storage-job:test",
      AGENT_KUBERNETES_VOLUME_SIZE: "64Mi",
      ...options.env,
    },
    { host: "127.0.0.1", port: 0 },
  );
  const logger = new MemoryLogger();
  const agent = await startAgent(config, logger, { logLevel: "silent", jobWaitMs: 120_000 });
  const document = (await (await fetch(`${agent.url}/openapi.json`, { headers: { authorization: `Bearer ${key}` } })).json()) as OpenApi;
  const validate = responseValidator(document);
  return {
    agent,
    logger,
    namespace: options.namespace,
    prefix: options.prefix,
    key,
    async call(method, path, body, headers) {
      const res = await fetch(`${agent.url}${path}`, {
        method,
        headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      const parsed = res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
      validate(method, path, res.status, parsed);
      return { status: res.status, body: parsed };
    },
    close: () => agent.close(),
  };
}

export interface OpenApi {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: object }> }> }>>;
}

/** Throws when an answer's status is not documented for its route, or its body does not match the documented schema. */
export function responseValidator(document: OpenApi) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
    static: !template.includes("{"),
  }));
  return (method: string, path: string, status: number, body: unknown) => {
    const bare = path.split("?")[0] ?? path;
    // Static paths win over templates, as in the router.
    const match = templates.filter((t) => t.regex.test(bare)).sort((a, b) => Number(b.static) - Number(a.static))[0];
    if (!match) {
      if (status === 404) return;
      throw new Error(`${method} ${bare}: answered ${status} but no documented path matches`);
    }
    const operation = document.paths[match.template]?.[method.toLowerCase()];
    if (!operation) throw new Error(`${method} ${match.template}: not documented`);
    const response = operation.responses[String(status)];
    if (!response) throw new Error(`${method} ${match.template}: status ${status} is not documented (${JSON.stringify(body)})`);
    const schema = Object.values(response.content ?? {})[0]?.schema;
    if (schema && typeof body === "object" && !ajv.validate(schema, body)) {
      throw new Error(
        `${method} ${match.template} ${status}: body does not match the document: ${ajv.errorsText()} in ${JSON.stringify(body)}`,
      );
    }
  };
}

/**
 * The agent as its own process, through the CLI (`k8s-sandbox agent`), so a
 * test can kill it with SIGKILL. Resolves once it listens.
 */
export async function spawnCliAgent(env: Record<string, string>): Promise<{ url: string; kill(): void; output(): string }> {
  const { execa } = await import("execa");
  const { createServer } = await import("node:net");
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
  const { cliCommand } = await import("./cli.js");
  const [node, cli] = await cliCommand(["agent", "--host", "127.0.0.1", "--port", String(port)]);
  const child = execa(node, cli, {
    env: { ...process.env, ...env },
    reject: false,
    all: true,
  });
  let output = "";
  child.all?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes("workspace agent listening on")) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the agent did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url: `http://127.0.0.1:${port}`, kill: () => child.kill("SIGKILL"), output: () => output };
}

/** What the home-volume round trip needs from a runtime's test file. */
export interface HomeRoundTrip {
  agent: TestAgent;
  workspace: string;
  /** The workspace's key prefix in the store (the agent's resource prefix). */
  prefix: string;
  /** Runs a command in the workspace's running container. */
  exec(cmd: string[]): Promise<{ code: number; out: string }>;
  /** An object's bytes from the store. */
  object(key: string): Promise<Buffer>;
  /** Polls the workspace's observed record until fn returns a value. */
  waitFor<T>(what: string, fn: (w: WorkspaceRecord | undefined) => T | undefined | false): Promise<T>;
}

/**
 * The Agent API's round trip of a home volume, the same on every runtime: a
 * file (and a symlink) written in the running workspace survives stop ->
 * archive -> delete -> restore -> start, owned by 1000:1000, and each step is
 * seen the way the control plane sees it. Returns the archive's key.
 */
export async function homeSurvivesArchiveAndRestore(h: HomeRoundTrip, content: string): Promise<string> {
  try {
    return await roundTrip(h, content);
  } catch (error) {
    // The agent's own warnings say why a step it accepted did not happen.
    const warnings = h.agent.logger.lines.filter((l) => l.startsWith("warn") || l.startsWith("error") || l.includes(h.workspace));
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nthe agent's log:\n${warnings.slice(-30).join("\n")}`);
  }
}

async function roundTrip(h: HomeRoundTrip, content: string): Promise<string> {
  const { agent: a, workspace: ws, prefix } = h;
  const write = await h.exec([
    "sh",
    "-c",
    `mkdir -p /home/coder/project && printf '%s' "$0" > /home/coder/project/note.txt && ln -sf note.txt /home/coder/project/link`,
    content,
  ]);
  expect(write.code).toBe(0);

  expect((await a.call("POST", `/api/v1/workspaces/${ws}/stop`)).status).toBe(200);
  await h.waitFor("the container to be gone", (w) => w && w.container === null);

  const archived = await a.call("POST", `/api/v1/workspaces/${ws}/archive`, { archive_op_id: "arch-1" });
  expect(archived.status).toBe(200);
  const key = archived.body.archive_key as string;
  expect(key).toBe(`${prefix}${ws}/arch-1/home.tar.zst`);
  // What the control plane waits for: the observed archive_key contains /{op}/.
  await h.waitFor("the archive to be complete", (w) => w?.archive?.archive_key?.includes("/arch-1/"));
  const tar = await h.object(key);
  const meta = (await h.object(`${key}.meta`)).toString().split("\n")[0];
  expect(meta).toBe(`sha256:${createHash("sha256").update(tar).digest("hex")}`);
  expect(tar.subarray(0, 4).toString("hex")).toBe("28b52ffd"); // zstd frame magic

  expect((await a.call("DELETE", `/api/v1/workspaces/${ws}`)).status).toBe(200);
  await h.waitFor("the volume to be gone", (w) => w && w.volume === null && w.container === null);

  const restored = await a.call("POST", `/api/v1/workspaces/${ws}/restore`, { archive_key: key, restore_op_id: "rest-1" });
  expect(restored.body).toEqual({ status: "in_progress", workspace_id: ws, restore_marker: "rest-1" });
  // What the control plane waits for: restore.archive_key equals the key and the volume exists.
  const restore = await h.waitFor("the restore to be done", (w) => w?.restore?.archive_key === key && w?.volume?.exists && w.restore);
  expect(restore).toEqual({ restore_op_id: "rest-1", archive_key: key });
  const origin = JSON.parse((await h.object(`${prefix}${ws}/.volume_origin`)).toString());
  expect(origin).toMatchObject({ kind: "restored", source_archive_key: key, restore_op_id: "rest-1" });

  expect((await a.call("POST", `/api/v1/workspaces/${ws}/start`, { image: null })).status).toBe(200);
  await h.waitFor("the restored workspace to be healthy", (w) => w?.container?.healthy);
  const back = await h.exec([
    "sh",
    "-c",
    "cat /home/coder/project/note.txt; readlink /home/coder/project/link; stat -c %u:%g /home/coder/project/note.txt",
  ]);
  expect(back.code).toBe(0);
  // Runtimes differ in whether the final newline reaches us.
  expect(back.out.trimEnd()).toBe(`${content}note.txt\n1000:1000`);
  return key;
}
