// The controller's acknowledgement path through fastify's inject: signatures
// over the exact bytes, the body limit before parsing, malformed bodies,
// redeliveries, opt-in, and that only a verified delivery about a sandbox of
// an opted-in repository is queued. Payloads are @octokit/webhooks-examples.
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Intake } from "../../src/controller/intake.js";
import { JsonLogger } from "../../src/controller/logger.js";
import { ControllerMetrics } from "../../src/controller/metrics.js";
import { parseRepositories } from "../../src/controller/repositories.js";
import { buildServer, WEBHOOK_PATH } from "../../src/controller/server.js";
import type { Delivery } from "../../src/controller/worker.js";
import { loadWebhookExample, webhookHeaders, withBranch, withPullRequest, withRepository } from "../support/github/examples.js";

const SECRET = "unit-test-webhook-secret-0123456789";
const REPO = "acme/shop";
const catalog = parseRepositories(`${REPO}:\n  baseDomain: preview.example.test\n`);

let queued: { id: string; key: string; kind: string; payload: Delivery }[];
let gained: string[][];
let logLines: string[];
let metrics: ControllerMetrics;
let server: ReturnType<typeof buildServer>;

beforeEach(() => {
  queued = [];
  gained = [];
  logLines = [];
  metrics = new ControllerMetrics();
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const logger = JsonLogger.create({ destination });
  const intake = new Intake({
    secret: SECRET,
    catalog: { get: (r) => catalog.get(r.toLowerCase()) },
    submit: (item) => queued.push(item),
    metrics,
    logger,
    onAccessGained: (repositories) => gained.push(repositories),
  });
  server = buildServer({ intake, metrics, readiness: async () => "no cluster in a unit test", bodyLimit: 64 * 1024 });
});

afterEach(async () => {
  await server.close();
});

function push(branch = "feature/x") {
  return withRepository(withBranch(loadWebhookExample("push"), branch), REPO);
}

async function deliver(
  event: string,
  payload: unknown,
  /** Edits the headers in place; a string it returns is sent instead of the signed body. */
  change: (headers: Record<string, string>, body: string) => unknown = () => undefined,
) {
  const body = JSON.stringify(payload);
  const headers = webhookHeaders(event, body, SECRET);
  const changed = change(headers, body);
  const sent = typeof changed === "string" ? changed : body;
  return server.inject({ method: "POST", url: WEBHOOK_PATH, headers, payload: sent });
}

async function counted(result: string): Promise<number> {
  const metric = await metrics.deliveries.get();
  return metric.values.filter((v) => v.labels.result === result).reduce((sum, v) => sum + v.value, 0);
}

describe("POST /api/github/webhooks", () => {
  it("acknowledges a signed push of an opted-in repository with 202 once it is queued", async () => {
    const response = await deliver("push", push());
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({ result: "queued" });
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ key: "acme/shop#branch:feature/x", kind: "deploy" });
    expect(queued[0]?.payload).toMatchObject({ event: "push", repository: REPO });
  });

  it("refuses an unsigned delivery with 401 and queues nothing", async () => {
    const response = await deliver("push", push(), (headers) => {
      delete headers["x-hub-signature-256"];
    });
    expect(response.statusCode).toBe(401);
    expect(queued).toHaveLength(0);
    expect(await counted("refused")).toBe(1);
  });

  it("refuses a delivery signed with another secret, and one whose body changed after signing (401)", async () => {
    const other = await deliver("push", push(), (headers, body) => {
      Object.assign(headers, webhookHeaders("push", body, "another-secret-entirely-0000"));
    });
    expect(other.statusCode).toBe(401);
    // One byte of whitespace: the same JSON, other bytes. The signature is over the bytes.
    const reformatted = await deliver("push", push(), (_headers, body) => `${body} `);
    expect(reformatted.statusCode).toBe(401);
    expect(queued).toHaveLength(0);
  });

  it("refuses a delivery without event or delivery id headers (400)", async () => {
    const noEvent = await deliver("push", push(), (headers) => {
      delete headers["x-github-event"];
    });
    expect(noEvent.statusCode).toBe(400);
    const badId = await deliver("push", push(), (headers) => {
      headers["x-github-delivery"] = "../../etc/passwd";
    });
    expect(badId.statusCode).toBe(400);
    expect(queued).toHaveLength(0);
  });

  it("refuses a signed body that is not a JSON object (400)", async () => {
    for (const body of ["{not json", "[1,2]", "null", "42"]) {
      const response = await server.inject({
        method: "POST",
        url: WEBHOOK_PATH,
        headers: webhookHeaders("push", body, SECRET),
        payload: body,
      });
      expect(response.statusCode, body).toBe(400);
    }
    expect(queued).toHaveLength(0);
  });

  it("refuses an oversized delivery with 413 before parsing or verifying it", async () => {
    const big = push();
    big.padding = "x".repeat(70 * 1024);
    const response = await deliver("push", big);
    expect(response.statusCode).toBe(413);
    expect(queued).toHaveLength(0);
    expect(await counted("refused")).toBe(1);
  });

  it("refuses a content type other than JSON (415)", async () => {
    const body = `payload=${encodeURIComponent(JSON.stringify(push()))}`;
    const headers = { ...webhookHeaders("push", body, SECRET), "content-type": "application/x-www-form-urlencoded" };
    const response = await server.inject({ method: "POST", url: WEBHOOK_PATH, headers, payload: body });
    expect(response.statusCode).toBe(415);
    expect(queued).toHaveLength(0);
  });

  it("acknowledges a redelivery (same delivery id) as a duplicate and queues it once", async () => {
    const body = JSON.stringify(push());
    const headers = webhookHeaders("push", body, SECRET);
    const first = await server.inject({ method: "POST", url: WEBHOOK_PATH, headers, payload: body });
    const again = await server.inject({ method: "POST", url: WEBHOOK_PATH, headers, payload: body });
    expect([first.statusCode, again.statusCode]).toEqual([202, 202]);
    expect(again.json()).toMatchObject({ result: "duplicate" });
    expect(queued).toHaveLength(1);
    expect(await counted("duplicate")).toBe(1);
  });

  it("ignores (202) what does not concern a sandbox: another repository, other events, tags, edited comments", async () => {
    const cases: [string, unknown][] = [
      ["push", withRepository(withBranch(loadWebhookExample("push"), "x"), "someone/else")],
      ["star", withRepository(loadWebhookExample("star"), REPO)],
      ["installation", loadWebhookExample("installation")],
      ["push", { ...push(), ref: "refs/tags/v1" }],
      ["issue_comment", withRepository(withPullRequest(loadWebhookExample("issue_comment.edited"), { number: 3 }), REPO)],
    ];
    for (const [event, payload] of cases) {
      const response = await deliver(event, payload);
      expect(response.statusCode, event).toBe(202);
      expect(response.json().result, event).toBe("ignored");
    }
    expect(queued).toHaveLength(0);
    expect(await counted("ignored")).toBe(cases.length);
  });

  it("queues a fork's pull request as the Action's pull_request_target: closing it destroys, opening it does nothing", async () => {
    const pr = (action: string) =>
      withPullRequest(withRepository(loadWebhookExample(`pull_request.${action}`), REPO), {
        number: 9,
        fork: true,
        state: action === "closed" ? "closed" : "open",
      });
    expect((await deliver("pull_request", pr("opened"))).json().result).toBe("ignored");
    expect((await deliver("pull_request", pr("closed"))).json().result).toBe("queued");
    expect(queued.map((q) => [q.key, q.kind])).toEqual([["acme/shop#pr:9", "destroy"]]);
  });

  it("never writes the secret or the signature into a log line", async () => {
    await deliver("push", push());
    await deliver("push", push(), (headers) => {
      headers["x-hub-signature-256"] = `sha256=${"0".repeat(64)}`;
    });
    const text = logLines.join("");
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("sha256=");
    expect(logLines.length).toBeGreaterThan(1);
    for (const line of logLines) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe("health, readiness, metrics", () => {
  it("/healthz answers without a cluster; /readyz says why it is not ready", async () => {
    expect((await server.inject({ url: "/healthz" })).statusCode).toBe(200);
    const ready = await server.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().reason).toContain("no cluster");
  });

  it("/metrics exposes the delivery counter by event and result", async () => {
    await deliver("push", push());
    await deliver("push", push(), (headers) => {
      delete headers["x-hub-signature-256"];
    });
    const text = (await server.inject({ url: "/metrics" })).body;
    expect(text).toContain('k8s_sandbox_webhook_deliveries_total{event="push",result="refused"} 1');
    expect(text).toContain("k8s_sandbox_queue_depth");
    expect(text).toContain("k8s_sandbox_operation_duration_seconds");
  });

  it("labels an unknown or hostile event name as other", async () => {
    await deliver("push", push(), (headers) => {
      headers["x-github-event"] = 'evil"} 1\nfake_metric{a="';
      delete headers["x-hub-signature-256"];
    });
    const text = (await server.inject({ url: "/metrics" })).body;
    expect(text).toContain('k8s_sandbox_webhook_deliveries_total{event="other",result="refused"} 1');
    expect(text).not.toContain("fake_metric");
  });
});

describe("the App given access to repositories", () => {
  /** An installation example whose repositories (added, or all) are these. */
  function installation(event: "installation" | "installation_repositories", action: string, names: string[]) {
    const payload = loadWebhookExample(`${event}.${action}`);
    const list = names.map((full_name, n) => ({
      id: 1000 + n,
      node_id: `R_${n}`,
      name: full_name.split("/")[1],
      full_name,
      private: true,
    }));
    if (event === "installation") payload.repositories = list;
    else if (action === "added") payload.repositories_added = list;
    else payload.repositories_removed = list;
    return payload;
  }

  it("asks for a reconcile of the opted-in ones it was given, and queues no sandbox work itself", async () => {
    for (const [event, action] of [
      ["installation_repositories", "added"],
      ["installation", "created"],
      ["installation", "unsuspend"],
    ] as const) {
      const response = await deliver(event, installation(event, action, ["acme/other", "Acme/Shop"]));
      expect(response.statusCode, `${event}.${action}`).toBe(202);
      expect(response.json(), `${event}.${action}`).toMatchObject({ result: "queued", message: "reconcile of acme/shop asked for" });
    }
    expect(gained).toEqual([["acme/shop"], ["acme/shop"], ["acme/shop"]]);
    expect(queued).toEqual([]);
    expect(await counted("processed")).toBe(3);
  });

  it("ignores access to repositories none of which is opted in, and every loss of access", async () => {
    const cases = [
      ["installation_repositories", "added", ["acme/other"]],
      ["installation_repositories", "removed", [REPO]],
      ["installation", "deleted", [REPO]],
      ["installation", "suspend", [REPO]],
    ] as const;
    for (const [event, action, names] of cases) {
      const response = await deliver(event, installation(event, action, [...names]));
      expect(response.json(), `${event}.${action}`).toMatchObject({ result: "ignored" });
    }
    expect(gained).toEqual([]);
    expect(queued).toEqual([]);
    expect(await counted("ignored")).toBe(cases.length);
  });

  it("takes hostile repository lists as no access gained", async () => {
    for (const list of ["acme/shop", [null, 7, { full_name: 7 }], { full_name: REPO }]) {
      const payload = loadWebhookExample("installation_repositories.added");
      payload.repositories_added = list;
      expect((await deliver("installation_repositories", payload)).json()).toMatchObject({ result: "ignored" });
    }
    expect(gained).toEqual([]);
  });
});
