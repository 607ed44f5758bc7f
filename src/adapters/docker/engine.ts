// A small Docker Engine API client (the subset the workspace runtime uses)
// over node:http: a unix socket (unix:///var/run/docker.sock, Podman's
// `podman system service`) or plain HTTP (tcp://host:port). JSON in, JSON
// out; a non-2xx answer becomes a DockerEngineError carrying the engine's own
// message, the method and the path, so a log says which call failed and why.
import { request } from "node:http";

/** The API version asked for: Docker 20.10 and Podman 4 both serve it. */
export const API_VERSION = "v1.41";

export class DockerEngineError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly engineMessage: string,
  ) {
    super(`Docker Engine API ${method} ${path.split("?")[0]}: ${status} ${engineMessage}`);
    this.name = "DockerEngineError";
  }
}

export interface EngineAnswer {
  status: number;
  body: unknown;
  text: string;
}

export interface EngineEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

/** unix:///path or tcp://host:port (http://host:port is accepted too). */
export function parseDockerHost(value: string): EngineEndpoint {
  if (value.startsWith("unix://")) {
    const socketPath = value.slice("unix://".length);
    if (!socketPath.startsWith("/")) throw new Error(`AGENT_DOCKER_HOST=${JSON.stringify(value)}: a unix socket needs an absolute path`);
    return { socketPath };
  }
  const match = /^(?:tcp|http):\/\/([^:/]+):(\d+)\/?$/.exec(value);
  if (match?.[1] && match[2]) return { host: match[1], port: Number(match[2]) };
  throw new Error(`AGENT_DOCKER_HOST=${JSON.stringify(value)}: expected unix:///path/to/docker.sock or tcp://host:port`);
}

export class DockerEngine {
  constructor(
    private readonly endpoint: EngineEndpoint,
    private readonly timeoutMs = 30_000,
  ) {}

  /** For messages: where the engine is. */
  get address(): string {
    return this.endpoint.socketPath ? `unix://${this.endpoint.socketPath}` : `tcp://${this.endpoint.host}:${this.endpoint.port}`;
  }

  /** The raw call: any status comes back, transport failures throw. */
  call(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<EngineAnswer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...(this.endpoint.socketPath ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.host, port: this.endpoint.port }),
          method,
          path: `/${API_VERSION}${path}`,
          headers: {
            host: "docker",
            ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const raw = Buffer.concat(chunks);
            const text = res.headers["content-type"]?.includes("json") ? raw.toString("utf8") : raw.toString("latin1");
            let parsed: unknown = text;
            if (res.headers["content-type"]?.includes("application/json") && text.trim()) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer from ${this.address} within ${Math.round(timeoutMs / 1000)} s`)));
      req.on("error", (error) =>
        reject(new Error(`Docker Engine API ${method} ${path.split("?")[0]} at ${this.address}: ${error.message}`)),
      );
      req.end(payload);
    });
  }

  /** A call that must answer 2xx (or one of `accept`); anything else throws with the engine's message. */
  async expect(method: string, path: string, body?: unknown, accept: number[] = [], timeoutMs?: number): Promise<EngineAnswer> {
    const answer = await this.call(method, path, body, timeoutMs);
    if ((answer.status >= 200 && answer.status < 300) || accept.includes(answer.status)) return answer;
    throw new DockerEngineError(answer.status, method, path, engineMessage(answer));
  }
}

function engineMessage(answer: EngineAnswer): string {
  const body = answer.body as { message?: unknown; cause?: unknown } | string;
  if (body && typeof body === "object" && typeof body.message === "string") return body.message;
  return answer.text.slice(0, 300).trim();
}

/** Query strings for the Engine API: filters are JSON of arrays. */
export function query(values: Record<string, string | number | boolean | Record<string, string[]> | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    params.set(key, typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * The log endpoint multiplexes stdout and stderr when the container has no
 * TTY: frames of an 8-byte header (stream, 0, 0, 0, big-endian length) and
 * the bytes. Returns the text of both streams in order.
 */
export function demuxLogs(raw: Buffer): string {
  let offset = 0;
  const parts: Buffer[] = [];
  while (offset + 8 <= raw.length) {
    const stream = raw[offset];
    const length = raw.readUInt32BE(offset + 4);
    if ((stream !== 0 && stream !== 1 && stream !== 2) || offset + 8 + length > raw.length) {
      // Not multiplexed (a TTY container): the bytes as they are.
      return raw.toString("utf8");
    }
    parts.push(raw.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString("utf8");
}
