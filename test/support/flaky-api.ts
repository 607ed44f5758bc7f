// A TLS-terminating proxy in front of the API server that can go dark: it
// sees each request (so an outage can start at a chosen one, e.g. the first
// DELETE), drops every open connection when it does, and refuses new ones
// for a while. Refusals are counted where they happen, in the connection
// handler, so a test learns how often the client really came back. It can
// also go dark at once for a while (an API server gone for 30 s), and let a
// request through but lose its answer (a write applied, the client never
// told).
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request as httpsRequest, type RequestOptions, type Server } from "node:https";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { execa } from "execa";
import { parse, stringify } from "yaml";

export interface FlakyApi {
  /** A kubeconfig (content) whose cluster is the proxy; same user as the original. */
  kubeconfig: string;
  /** Connections refused while the API was dark. */
  readonly refused: number;
  /** Requests that went through to the API server, as "METHOD path". */
  readonly forwarded: readonly string[];
  /** When the outage started (undefined: not yet). */
  readonly outageStartedAt: number | undefined;
  /** Go dark for `ms` at the first request `matches` accepts; that request is dropped, not forwarded. */
  outageOn(matches: (method: string, path: string) => boolean, ms: number): void;
  /** Go dark now for `ms`: open connections are dropped, new ones refused. */
  cut(ms: number): void;
  /** Whether the outage of cut() or outageOn() still lasts. */
  readonly dark: boolean;
  /**
   * Forward the first request `matches` accepts to the API server, then drop
   * its connection instead of relaying the answer: the API server did it, the
   * client never hears so.
   */
  loseAnswerOf(matches: (method: string, path: string) => boolean): void;
  close(): Promise<void>;
}

export async function startFlakyApi(kubeconfigPath: string): Promise<FlakyApi> {
  const upstreamConfig = new KubeConfig();
  upstreamConfig.loadFromFile(kubeconfigPath);
  const upstream = new URL(upstreamConfig.getCurrentCluster()?.server ?? "");
  const credentials: RequestOptions = {};
  await upstreamConfig.applyToHTTPSOptions(credentials);

  // The proxy's own certificate, for 127.0.0.1, trusted only by the kubeconfig we hand out.
  const dir = await mkdtemp(join(tmpdir(), "flaky-api-"));
  await execa("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
  ]);
  const cert = await readFile(join(dir, "cert.pem"));
  const key = await readFile(join(dir, "key.pem"));

  const sockets = new Set<Socket>();
  const forwarded: string[] = [];
  let down = false;
  let refused = 0;
  let outageStartedAt: number | undefined;
  let trigger: { matches: (method: string, path: string) => boolean; ms: number } | undefined;
  let loseAnswer: ((method: string, path: string) => boolean) | undefined;

  const goDark = (ms: number) => {
    down = true;
    outageStartedAt = Date.now();
    for (const socket of sockets) socket.destroy();
    setTimeout(() => {
      down = false;
    }, ms).unref();
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    if (trigger?.matches(method, path)) {
      const ms = trigger.ms;
      trigger = undefined;
      goDark(ms); // this request dies with its connection, unanswered
      return;
    }
    forwarded.push(`${method} ${path}`);
    const lost = loseAnswer?.(method, path) ?? false;
    if (lost) loseAnswer = undefined;
    const headers = { ...req.headers, ...(credentials.headers as Record<string, string> | undefined), host: upstream.host };
    const out = httpsRequest({ ...credentials, hostname: upstream.hostname, port: upstream.port, method, path, headers }, (answer) => {
      if (lost) {
        answer.resume();
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      // At once, as a real proxy does: a watch's headers come long before its first event.
      res.flushHeaders();
      answer.pipe(res);
    });
    out.on("error", () => res.destroy());
    req.pipe(out);
  };

  const server: Server = createServer({ cert, key }, forward);
  server.on("connection", (socket: Socket) => {
    if (down) {
      refused++;
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  const config = parse(await readFile(kubeconfigPath, "utf8"));
  const current = config.contexts.find((c: { name: string }) => c.name === config["current-context"]) ?? config.contexts[0];
  const cluster = config.clusters.find((c: { name: string }) => c.name === current.context.cluster);
  cluster.cluster = { server: `https://127.0.0.1:${port}`, "certificate-authority-data": cert.toString("base64") };

  return {
    kubeconfig: stringify(config),
    get refused() {
      return refused;
    },
    forwarded,
    get outageStartedAt() {
      return outageStartedAt;
    },
    outageOn(matches, ms) {
      trigger = { matches, ms };
    },
    cut(ms) {
      goDark(ms);
    },
    get dark() {
      return down;
    },
    loseAnswerOf(matches) {
      loseAnswer = matches;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
