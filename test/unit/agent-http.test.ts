// The HTTP shape of the agent without a cluster: auth, 422 for bad input,
// the contract's error bodies, the config refusal. The adapters point at
// closed loopback ports (real connection failures, nothing mocked); only
// requests refused before any operation runs, or failing at the store, are
// asked here. Everything else is in test/integration/agent-*.test.ts.
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../src/adapters/kubernetes/client.js";
import { KubernetesRuntime } from "../../src/adapters/kubernetes/workspace-runtime.js";
import { WorkspaceObjects } from "../../src/adapters/kubernetes/workspaces.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { ObjectStore } from "../../src/adapters/s3/store.js";
import { loadConfig } from "../../src/agent/config.js";
import { buildServer } from "../../src/agent/server.js";
import { WorkspaceOperations } from "../../src/operations/workspace/operations.js";

const KEY = "test-key-0123456789";
const WS = "0b0f4d7e-2a6c-4d1b-9a53-6f1c2e7d8a90";
const DEAD_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: dead, context: {cluster: dead, user: u}}]
current-context: dead
`;

let app: FastifyInstance;
const logger = new MemoryLogger();

beforeAll(async () => {
  const config = loadConfig({
    AGENT_SERVER_API_KEY: KEY,
    AGENT_S3_ENDPOINT: "http://127.0.0.1:1",
    AGENT_S3_ACCESS_KEY: "a",
    AGENT_S3_SECRET_KEY: "b",
  });
  const store = new ObjectStore(config.s3);
  const objects = new WorkspaceObjects(connect({ kubeconfigContent: DEAD_KUBECONFIG }), "ns", config.agent.naming);
  app = await buildServer({
    operations: new WorkspaceOperations({ runtime: new KubernetesRuntime(objects, config.agent), store, settings: config.agent, logger }),
    apiKey: KEY,
    logger,
    logLevel: "silent",
  });
});
afterAll(async () => app?.close());

const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

describe("auth", () => {
  it.each(["/health", "/metrics", "/health?x=1"])("%s is open", async (url) => {
    const res = await app.inject({ method: "GET", url });
    expect(res.statusCode).toBe(200);
  });

  it.each([
    ["no header", {}],
    ["another key", { authorization: "Bearer wrong" }],
    ["the key without Bearer", { authorization: KEY }],
    ["lower-case scheme", { authorization: `bearer ${KEY}` }],
    ["the key with a suffix", { authorization: `Bearer ${KEY}x` }],
  ])("%s: 401 with the contract's body", async (_what, headers) => {
    const res = await app.inject({ method: "GET", url: "/api/v1/workspaces", headers });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ detail: "Invalid API key" });
  });

  it.each(["/health/", "/healthz", "/metrics/x", "/openapi.json", "/api/v1/instances", "/nope"])("%s is not open", async (url) => {
    const res = await app.inject({ method: "GET", url });
    expect(res.statusCode).toBe(401);
  });

  it("is checked before the body is read (an unauthenticated bad body is 401, not 422)", async () => {
    const res = await app.inject({
      method: "POST",
      url: `/api/v1/workspaces/${WS}/archive`,
      payload: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(res.statusCode).toBe(401);
  });

  it("health answers the contract's body", async () => {
    expect((await app.inject({ method: "GET", url: "/health" })).json()).toEqual({ status: "healthy", version: "0.2.1" });
  });
});

describe("422 for bad input", () => {
  it.each([
    ["archive without archive_op_id", "POST", `/api/v1/workspaces/${WS}/archive`, {}],
    ["archive_op_id not a string", "POST", `/api/v1/workspaces/${WS}/archive`, { archive_op_id: 5 }],
    ["archive_op_id with a slash", "POST", `/api/v1/workspaces/${WS}/archive`, { archive_op_id: "../x" }],
    ["restore without restore_op_id", "POST", `/api/v1/workspaces/${WS}/restore`, { archive_key: `codehub-ws-${WS}/a/home.tar.zst` }],
    ["restore of a foreign key", "POST", `/api/v1/workspaces/${WS}/restore`, { archive_key: "../../etc/passwd", restore_op_id: "r" }],
    ["start with a numeric image", "POST", `/api/v1/workspaces/${WS}/start`, { image: 7 }],
    ["start with a newline in the image", "POST", `/api/v1/workspaces/${WS}/start`, { image: "a\nb" }],
    ["gc without its lists", "POST", "/api/v1/workspaces/gc", {}],
    ["gc with a negative retention", "POST", "/api/v1/workspaces/gc", { archive_keys: [], protected_workspaces: [], retention_count: -1 }],
    ["gc with a pair of three", "POST", "/api/v1/workspaces/gc", { archive_keys: [], protected_workspaces: [["a", "b", "c"]] }],
    ["a hostile workspace id", "POST", "/api/v1/workspaces/UPPER..x/provision", undefined],
    ["an id too long for a Kubernetes name", "DELETE", `/api/v1/workspaces/${"a".repeat(41)}`, undefined],
    ["delete-archive without its key", "DELETE", "/api/v1/workspaces/archives", undefined],
    ["delete-archive of a key outside the prefix", "DELETE", "/api/v1/workspaces/archives?archive_key=secrets%2Fx", undefined],
    ["earlier job without op_id", "POST", "/api/v1/jobs/archive", { workspace_id: WS }],
    ["earlier gc without protected", "POST", "/api/v1/storage/gc", {}],
  ])("%s", async (_what, method, url, payload) => {
    const res = await app.inject({
      method: method as "POST",
      url,
      headers: auth,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().detail).toBeInstanceOf(Array);
  });

  it("a body that is not JSON is 422", async () => {
    const res = await app.inject({ method: "POST", url: `/api/v1/workspaces/${WS}/archive`, headers: auth, payload: "{oops" });
    expect(res.statusCode).toBe(422);
  });
});

describe("other answers", () => {
  it("an unknown route is 404 {detail}", async () => {
    const res = await app.inject({ method: "GET", url: "/api/v1/nothing", headers: auth });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ detail: "Not Found" });
  });

  it("a store that cannot be reached gives 500 with the contract's body, and the log says why", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/workspaces/gc",
      headers: auth,
      payload: { archive_keys: [], protected_workspaces: [] },
    });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ detail: "Internal server error" });
    expect(logger.lines.join("\n")).toMatch(/S3 store http:\/\/127\.0\.0\.1:1, bucket codehub-archives: could not list codehub-ws-/);
  });

  it("requests are counted by route template and code, never by id", async () => {
    const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
    expect(text).toMatch(/agent_http_requests_total\{method="GET",route="\/api\/v1\/workspaces",code="401"\} \d+/);
    expect(text).toMatch(/route="\/api\/v1\/workspaces\/:workspace_id\/archive",code="422"/);
    expect(text).not.toContain(WS);
  });
});

describe("configuration", () => {
  it("refuses to start without a key unless told to run without one", () => {
    expect(() => loadConfig({})).toThrow(/AGENT_SERVER_API_KEY is empty: .* --insecure-no-auth/);
    expect(loadConfig({}, { insecure: true }).apiKey).toBe("");
    expect(loadConfig({ AGENT_SERVER_INSECURE: "1" }).insecure).toBe(true);
  });

  it("reads the contract's names and defaults", () => {
    const c = loadConfig({ AGENT_SERVER_API_KEY: "k" });
    expect(c).toMatchObject({
      host: "0.0.0.0",
      port: 8081,
      s3: { endpoint: "http://minio:9000", bucket: "codehub-archives", region: "us-east-1" },
    });
    expect(c.agent).toMatchObject({
      uid: 1000,
      gid: 1000,
      containerPort: 8080,
      jobTimeoutSeconds: 600,
      defaultImage: "cagojeiger/code-server:latest",
    });
    expect(c.agent.s3.internalEndpoint).toBe("http://minio:9000");
    expect(c.agent.naming).toEqual({ prefix: "codehub-ws-", archiveSuffix: "home.tar.zst" });
  });

  it.each([
    ["AGENT_SERVER_PORT", "http"],
    ["AGENT_KUBERNETES_NAMESPACE", "Bad_NS"],
    ["AGENT_KUBERNETES_NODE_SELECTOR", "[1]"],
    ["AGENT_KUBERNETES_VOLUME_SIZE", "ten"],
    ["AGENT_RUNTIME_RESOURCE_PREFIX", "x/"],
    ["AGENT_LOGGING_LEVEL", "LOUD"],
  ])("names the bad setting %s", (name, value) => {
    expect(() => loadConfig({ AGENT_SERVER_API_KEY: "k", [name]: value })).toThrow(name);
  });
});
