// The engine's retry of Kubernetes calls: which failures are worth another
// try (network drops, 5xx, 429) and which are answers (4xx), and how often
// it tries before giving up.
import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { describeKubeError, isTransient, withRetry } from "../../src/adapters/kubernetes/client.js";

const api = (code: number, body: unknown = "") => new ApiException(code, `HTTP ${code}`, body, {});
const network = (code: string) => Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error(code), { code }) });

describe("isTransient", () => {
  it.each([
    { name: "429 too many requests", error: api(429), transient: true },
    { name: "500", error: api(500), transient: true },
    { name: "503 (API server starting)", error: api(503), transient: true },
    { name: "504", error: api(504), transient: true },
    { name: "400", error: api(400), transient: false },
    { name: "401", error: api(401), transient: false },
    { name: "403 forbidden", error: api(403), transient: false },
    { name: "404", error: api(404), transient: false },
    { name: "409 conflict", error: api(409), transient: false },
    { name: "422 invalid", error: api(422), transient: false },
    { name: "fetch failed, connection refused", error: network("ECONNREFUSED"), transient: true },
    { name: "fetch failed, connection reset", error: network("ECONNRESET"), transient: true },
    { name: "socket hang up", error: new Error("socket hang up"), transient: true },
    { name: "undici: other side closed", error: new Error("other side closed"), transient: true },
    { name: "a DNS hiccup", error: new Error("getaddrinfo EAI_AGAIN api.example"), transient: true },
    { name: "a programming error", error: new TypeError("cannot read properties of undefined"), transient: false },
    { name: "a string", error: "nope", transient: false },
  ])("$name: $transient", ({ error, transient }) => {
    expect(isTransient(error)).toBe(transient);
  });
});

describe("withRetry", () => {
  /** A call that fails with the given errors in turn, then answers "ok". */
  function flaky(errors: unknown[]) {
    let calls = 0;
    const fn = async () => {
      const error = errors[calls++];
      if (error !== undefined) throw error;
      return "ok";
    };
    return { fn, calls: () => calls };
  }

  it("answers at once when the call works", async () => {
    const call = flaky([]);
    expect(await withRetry(call.fn, { baseMs: 1 })).toBe("ok");
    expect(call.calls()).toBe(1);
  });

  it("retries transient failures until the call works, reporting each", async () => {
    const call = flaky([network("ECONNREFUSED"), api(503), api(429)]);
    const retries: number[] = [];
    expect(await withRetry(call.fn, { baseMs: 1, onRetry: (_e, attempt) => retries.push(attempt) })).toBe("ok");
    expect(call.calls()).toBe(4);
    expect(retries).toEqual([1, 2, 3]);
  });

  it("gives a final answer (4xx) back at once", async () => {
    const call = flaky([api(403)]);
    await expect(withRetry(call.fn, { baseMs: 1 })).rejects.toMatchObject({ code: 403 });
    expect(call.calls()).toBe(1);
  });

  it("gives up after the given number of attempts with the last error", async () => {
    const call = flaky([api(503), api(502), api(500), api(500)]);
    await expect(withRetry(call.fn, { attempts: 3, baseMs: 1 })).rejects.toMatchObject({ code: 500 });
    expect(call.calls()).toBe(3);
  });

  it("backs off exponentially", async () => {
    const call = flaky([api(503), api(503), api(503)]);
    const started = Date.now();
    await withRetry(call.fn, { baseMs: 20 });
    // 20 + 40 + 80 ms of waiting between four calls.
    expect(Date.now() - started).toBeGreaterThanOrEqual(135);
  });
});

describe("describeKubeError", () => {
  it.each([
    { body: JSON.stringify({ message: 'namespaces "kube-system" is forbidden' }), text: 'HTTP 403: namespaces "kube-system" is forbidden' },
    { body: { message: "denied by policy" }, text: "HTTP 422: denied by policy" },
    { body: "plain text", text: "HTTP 500: plain text" },
  ])("$text", ({ body, text }) => {
    const code = Number(/HTTP (\d+)/.exec(text)?.[1]);
    expect(describeKubeError(api(code, body))).toBe(text);
  });
});

describe("describeKubeError on network failures", () => {
  it("names the cause fetch hides", () => {
    expect(describeKubeError(network("ECONNREFUSED"))).toBe("fetch failed: ECONNREFUSED");
  });
});
