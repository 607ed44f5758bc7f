// The test ground's Odoo stand-in (test/ground/images/odoo-standin), run
// directly with /usr/bin/python3 against a real PostgreSQL (Debian's, as the
// postgres user, password authentication on a free loopback port): its
// configuration and loud failures, database creation, the chart's
// init-db.sh driving it end to end, its HTTP endpoints, websocket ports,
// proxy_mode, --test-enable with Odoo's log lines and exit codes, and its
// entrypoint. The image itself is built and run on the real node elsewhere.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, execaSync } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chartDir, repoRoot } from "../support/helm.js";

const PG_BIN = process.env.PG_BIN ?? join("/usr/lib/postgresql", readdirSync("/usr/lib/postgresql").sort().at(-1) ?? "", "bin");
const PYTHON = "/usr/bin/python3";
const STANDIN_DIR = join(repoRoot, "test", "ground", "images", "odoo-standin");
const ODOO = join(STANDIN_DIR, "odoo");
const ENTRYPOINT = join(STANDIN_DIR, "entrypoint.sh");
const FIXTURE_ADDONS = join(repoRoot, "test", "fixtures", "odoo-standin-addons");
const SAMPLE_ADDONS = join(repoRoot, "examples", "sample-addons");
const INIT_DB = join(chartDir, "files", "init-db.sh");
const ROLE = "odoo";
const ROLE_PASSWORD = "odoo-secret";

let dir = "";
let socketDir = "";
let pgPort = 0;
let postgres: ReturnType<typeof execa> | undefined;
const servers: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL tool as the postgres user when we are root (PostgreSQL refuses root). */
function asPostgres(bin: string, args: string[]) {
  const path = join(PG_BIN, bin);
  return process.getuid?.() === 0 ? execa("runuser", ["-u", "postgres", "--", path, ...args]) : execa(path, args);
}

/** SQL as the superuser, through the socket. */
async function psql(db: string, sql: string): Promise<string> {
  const result = await execa(join(PG_BIN, "psql"), [
    "-X",
    "-q",
    "-t",
    "-A",
    "-h",
    socketDir,
    "-p",
    String(pgPort),
    "-U",
    "postgres",
    "-d",
    db,
    "-c",
    sql,
  ]);
  return result.stdout.trim();
}

/** An odoo.conf like the chart's (_odoo-conf.tpl): `key = value` lines, no db_password. */
function writeConf(name: string, options: Record<string, string | undefined> = {}): string {
  const defaults: Record<string, string> = {
    admin_passwd: "master-secret",
    db_host: "127.0.0.1",
    db_port: String(pgPort),
    db_user: ROLE,
    list_db: "False",
    proxy_mode: "True",
    data_dir: join(dir, `data-${name}`),
    addons_path: FIXTURE_ADDONS,
    without_demo: "all",
    workers: "0",
    max_cron_threads: "1",
    log_level: "info",
  };
  const lines = Object.entries({ ...defaults, ...options })
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([key, value]) => `${key} = ${value}`);
  const path = join(dir, `${name}.conf`);
  writeFileSync(path, `[options]\n${lines.join("\n")}\n`);
  return path;
}

/** The environment the stand-in sees: nothing from this machine but PATH, fast installs, and libpq's password. */
function standinEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${STANDIN_DIR}:${PG_BIN}:/usr/bin:/bin`,
    HOME: dir,
    PYTHONDONTWRITEBYTECODE: "1",
    ODOO_STANDIN_INSTALL_SECONDS: "0.05",
    ODOO_STANDIN_LOAD_SECONDS: "0.05",
    PGPASSWORD: ROLE_PASSWORD,
    ...extra,
  };
}

async function runOdoo(args: string[], env: Record<string, string> = {}) {
  const result = await execa(PYTHON, [ODOO, ...args], { reject: false, extendEnv: false, env: standinEnv(env) });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

interface RunningOdoo {
  log: () => string;
  waitForLog: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  stop: () => Promise<number | null>;
}

/** Starts a long-running stand-in (directly, or through the entrypoint) and collects its log. */
async function startOdoo(command: string[], env: Record<string, string> = {}): Promise<RunningOdoo> {
  const child = spawn(command[0] ?? PYTHON, command.slice(1), { env: standinEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  servers.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitForLog = async (pattern: RegExp, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (child.exitCode !== null) throw new Error(`stand-in exited (${child.exitCode}) before ${pattern}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    log: () => output,
    waitForLog,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers, redirect: "manual" });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
    redirect: "manual",
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** The name=value part of a Set-Cookie header. */
function sessionCookie(headers: Headers): string {
  const cookie = headers.get("set-cookie") ?? "";
  expect(cookie).toMatch(/^session_id=[\w-]+;.*HttpOnly/);
  return cookie.split(";")[0] ?? "";
}

interface WebsocketAnswer {
  statusLine: string;
  headers: Record<string, string>;
  socket: import("node:net").Socket;
  rest: Buffer;
}

/** A raw RFC 6455 opening handshake on /websocket. */
async function websocketHandshake(port: number, key = randomBytes(16).toString("base64"), version = "13"): Promise<WebsocketAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.removeAllListeners("data");
      const [statusLine = "", ...lines] = received.subarray(0, end).toString().split("\r\n");
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]),
      );
      resolve({ statusLine, headers, socket, rest: received.subarray(end + 4) });
    });
    socket.write(
      `GET /websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${version}\r\n\r\n`,
    );
  });
}

/** A masked client frame (RFC 6455 5.3). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

/** The next server frame: [opcode, payload] (payloads under 126 bytes or 16-bit lengths). */
async function serverFrame(socket: import("node:net").Socket, already: Buffer = Buffer.alloc(0)): Promise<[number, Buffer]> {
  let buffer = already;
  for (;;) {
    if (buffer.length >= 2) {
      const short = (buffer[1] ?? 0) & 0x7f;
      const headerLength = short === 126 ? 4 : 2;
      const length = short === 126 ? buffer.readUInt16BE(2) : short;
      if (buffer.length >= headerLength + length) return [(buffer[0] ?? 0) & 0x0f, buffer.subarray(headerLength, headerLength + length)];
    }
    buffer = Buffer.concat([buffer, await new Promise<Buffer>((resolve) => socket.once("data", resolve))]);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "odoo-standin-"));
  chmodSync(dir, 0o755);
  socketDir = join(dir, "socket");
  const data = join(dir, "pgdata");
  for (const d of [socketDir, data]) {
    mkdirSync(d, { recursive: true });
    if (process.getuid?.() === 0) {
      chownSync(d, Number(execaSync("id", ["-u", "postgres"]).stdout), Number(execaSync("id", ["-g", "postgres"]).stdout));
    }
  }
  pgPort = await freePort();
  // Trust on the socket (for this test's own checks), passwords over TCP (what Odoo uses).
  await asPostgres("initdb", ["-D", data, "--auth-local=trust", "--auth-host=scram-sha-256", "--username=postgres", "--no-sync"]);
  postgres = asPostgres("postgres", [
    "-D",
    data,
    "-k",
    socketDir,
    "-p",
    String(pgPort),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
  ]);
  postgres.catch(() => {});
  for (let i = 0; i < 100; i++) {
    const ready = await execa(join(PG_BIN, "pg_isready"), ["-h", socketDir, "-p", String(pgPort)], { reject: false });
    if (ready.exitCode === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  // The chart's PostgreSQL gives Odoo a role that may create databases (never the superuser `postgres`).
  await psql("postgres", `CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${ROLE_PASSWORD}'`);
}, 60_000);

afterAll(async () => {
  for (const child of servers) if (child.exitCode === null) child.kill("SIGKILL");
  if (postgres?.pid) {
    // The postmaster runs under runuser: stop it by its data directory.
    await asPostgres("pg_ctl", ["stop", "-D", join(dir, "pgdata"), "-m", "immediate"]).catch(() => {});
    await postgres.catch(() => {});
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("command line and configuration", () => {
  it("prints its version like Odoo, saying it is the stand-in", async () => {
    const run = await runOdoo(["--version"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe("Odoo Server 18.0 (k8s-dev-sandbox stand-in)");
  });

  it("rejects an unknown option like Odoo's optparse: usage, error, exit 2", async () => {
    const run = await runOdoo(["--no-such-option"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("Usage: odoo server [options]");
    expect(run.stderr).toContain("odoo server: error: no such option: --no-such-option");
  });

  it("refuses the postgres role, from db_user or from PGUSER when db_user is unset", async () => {
    const fromFile = await runOdoo(["-c", writeConf("postgres-user", { db_user: "postgres" }), "--stop-after-init"]);
    expect(fromFile.exitCode).toBe(1);
    expect(fromFile.stderr).toContain("Using the database user 'postgres' is a security risk, aborting.");
    const fromEnv = await runOdoo(["-c", writeConf("pguser", { db_user: undefined }), "--stop-after-init"], { PGUSER: "postgres" });
    expect(fromEnv.exitCode).toBe(1);
    expect(fromEnv.stderr).toContain("Using the database user 'postgres' is a security risk, aborting.");
  });

  it("fails loudly on a missing -c file, a bad value in the file and a bad --addons-path", async () => {
    const missing = await runOdoo(["-c", join(dir, "absent.conf")]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("selected with -c/--config doesn't exist or is not readable");

    const badInteger = await runOdoo(["-c", writeConf("bad-int", { http_port: "eighty" }), "--stop-after-init"]);
    expect(badInteger.exitCode).toBe(1);
    expect(badInteger.stderr).toContain("optparse.OptionValueError: option http_port: invalid integer value: 'eighty'");

    const badLevel = await runOdoo(["-c", writeConf("bad-level", { log_level: "loud" }), "--stop-after-init"]);
    expect(badLevel.exitCode).toBe(1);
    expect(badLevel.stderr).toContain("option log_level: invalid choice: 'loud'");

    const noDirectory = await runOdoo(["-c", writeConf("addons"), "--addons-path", join(dir, "nowhere")]);
    expect(noDirectory.exitCode).toBe(2);
    expect(noDirectory.stderr).toContain(`odoo server: error: option --addons-path: no such directory: '${join(dir, "nowhere")}'`);
    const notAddons = await runOdoo(["-c", writeConf("addons"), "--addons-path", dir]);
    expect(notAddons.exitCode).toBe(2);
    expect(notAddons.stderr).toContain("is not a valid addons directory");
  });

  it("lets the command line win over the file", async () => {
    const run = await runOdoo(["-c", writeConf("precedence", { log_level: "info" }), "--log-level=warn", "--stop-after-init", "--no-http"]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).not.toMatch(/ INFO /);
  });

  it("connects with the configured password only: PGPASSWORD does not replace a wrong db_password", async () => {
    const run = await runOdoo([
      "-c",
      writeConf("wrong-password", { db_password: "not-the-password" }),
      "-d",
      "never_created",
      "--stop-after-init",
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`password authentication failed for user "${ROLE}"`);
    expect(await psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'never_created'")).toBe("0");
  });
});

describe("databases", () => {
  it("creates a missing database on -d and installs base (UTF8, C collation, owned by the role)", async () => {
    const run = await runOdoo([
      "-c",
      writeConf("create", { without_demo: "False" }),
      "-d",
      "created",
      "-i",
      "base",
      "--stop-after-init",
      "--no-http",
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/INFO created odoo\.modules\.loading: init db $/m);
    expect(
      await psql(
        "postgres",
        "SELECT pg_encoding_to_char(encoding), datcollate, pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'created'",
      ),
    ).toBe(`UTF8|C|${ROLE}`);
    expect(await psql("created", "SELECT state, demo FROM ir_module_module WHERE name = 'base'")).toBe("installed|t");
    expect(await psql("created", "SELECT login FROM res_users WHERE active ORDER BY id")).toBe("admin");
    expect(await psql("created", "SELECT password LIKE '$pbkdf2-sha512$600000$%' FROM res_users WHERE login = 'admin'")).toBe("t");
    expect(
      await psql("created", "SELECT count(*) FROM ir_config_parameter WHERE key IN ('database.secret', 'database.uuid', 'web.base.url')"),
    ).toBe("3");
  });

  it("warns about module names it cannot find and still succeeds, like Odoo", async () => {
    const run = await runOdoo([
      "-c",
      writeConf("unknown-module"),
      "-d",
      "unknown_module",
      "-i",
      "base,no_such_module",
      "--stop-after-init",
      "--no-http",
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/WARNING unknown_module odoo\.modules\.loading: invalid module names, ignored: no_such_module/);
  });

  describe("driven by the chart's init-db.sh", () => {
    async function initDb(env: Record<string, string>) {
      const conf = writeConf("init-db", { db_name: "sandbox", dbfilter: "^sandbox$", addons_path: `${SAMPLE_ADDONS},${FIXTURE_ADDONS}` });
      const result = await execa("bash", [INIT_DB], {
        reject: false,
        extendEnv: false,
        env: standinEnv({
          PGHOST: "127.0.0.1",
          PGPORT: String(pgPort),
          PGUSER: ROLE,
          ODOO_BIN: ODOO,
          ODOO_RC: conf,
          ODOO_DATABASE: "sandbox",
          ODOO_ADDONS_PATHS: SAMPLE_ADDONS,
          INIT_MODULES: "",
          DISCOVER_ADDONS: "true",
          UPDATE_ON_REVISION_CHANGE: "true",
          REVISION: "odoo:18.0@1111111",
          WAIT_SECONDS: "20",
          ...env,
        }),
      });
      return { exitCode: result.exitCode ?? -1, stderr: result.stderr };
    }
    const operations = () => psql("sandbox", "SELECT string_agg(operation || ' ' || module, ', ' ORDER BY id) FROM odoo_standin_operation");

    it("initializes the database with base and the repository's addons", async () => {
      const run = await initDb({});
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toContain("[init-db] running: odoo --init=base,sandbox_hello");
      expect(await psql("sandbox", "SELECT state FROM ir_module_module WHERE name = 'sandbox_hello'")).toBe("installed");
      expect(await psql("sandbox", "SELECT value FROM ir_config_parameter WHERE key = 'k8s_dev_sandbox.revision'")).toBe(
        "odoo:18.0@1111111",
      );
      expect(await operations()).toMatch(/^install base, install sandbox_hello, /);
    });

    it("does nothing on a restart, and updates the repository's modules once per new revision", async () => {
      const restart = await initDb({});
      expect(restart.exitCode, restart.stderr).toBe(0);
      expect(restart.stderr).toContain("already initialized");
      expect(restart.stderr).not.toContain("running: odoo");

      const before = await operations();
      const newRevision = await initDb({ REVISION: "odoo:18.0@2222222" });
      expect(newRevision.exitCode, newRevision.stderr).toBe(0);
      expect(newRevision.stderr).toContain("--init=sandbox_hello --update=sandbox_hello");
      expect(await operations()).toBe(`${before}, update sandbox_hello`);
      expect(await psql("sandbox", "SELECT value FROM ir_config_parameter WHERE key = 'k8s_dev_sandbox.revision'")).toBe(
        "odoo:18.0@2222222",
      );
    });

    it("initializes a database that exists but is empty", async () => {
      await psql("postgres", `CREATE DATABASE empty_one OWNER ${ROLE}`);
      const run = await initDb({ ODOO_DATABASE: "empty_one", DISCOVER_ADDONS: "false" });
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toContain("not initialized (empty)");
      expect(await psql("empty_one", "SELECT state FROM ir_module_module WHERE name = 'base'")).toBe("installed");
    });

    it("fails, keeping the old revision, when an addon's Python code cannot be imported", async () => {
      const run = await initDb({ REVISION: "odoo:18.0@3333333", INIT_MODULES: "standin_broken_code" });
      expect(run.exitCode).not.toBe(0);
      expect(run.stderr).toMatch(/CRITICAL sandbox odoo\.modules\.module: Couldn't load module standin_broken_code/);
      expect(run.stderr).toMatch(/CRITICAL sandbox odoo\.service\.server: Failed to initialize database `sandbox`\./);
      expect(await psql("sandbox", "SELECT state FROM ir_module_module WHERE name = 'standin_broken_code'")).toBe("uninstalled");
      expect(await psql("sandbox", "SELECT value FROM ir_config_parameter WHERE key = 'k8s_dev_sandbox.revision'")).toBe(
        "odoo:18.0@2222222",
      );
    });
  });
});

describe("HTTP", () => {
  it("serves /web/health, and makes requests for the database wait while it installs", async () => {
    const port = await freePort();
    const conf = writeConf("health", { db_name: "health", dbfilter: "^health$" });
    const odoo = await startOdoo([PYTHON, ODOO, "-c", conf, "--http-port", String(port), "--http-interface", "127.0.0.1"], {
      ODOO_STANDIN_INSTALL_SECONDS: "0.3",
    });
    await odoo.waitForLog(/HTTP service \(werkzeug\) running on 127\.0\.0\.1:\d+/);
    await odoo.waitForLog(/init db/);
    const during = await get(`http://127.0.0.1:${port}/web/health`);
    // The answer only comes once the registry is loaded: a probe sees the install take time.
    expect(odoo.log()).toContain("Registry loaded in");
    expect(during.status).toBe(200);
    expect(during.headers.get("content-type")).toBe("application/json");
    expect(during.headers.get("cache-control")).toBe("no-store");
    expect(JSON.parse(during.body)).toEqual({ status: "pass" });
    expect(during.headers.get("set-cookie")).toBeNull();

    const withDb = await get(`http://127.0.0.1:${port}/web/health?db_server_status=1`);
    expect(withDb.status).toBe(200);
    expect(JSON.parse(withDb.body)).toEqual({ status: "pass", db_server_status: true });
    await odoo.waitForLog(/INFO health werkzeug: 127\.0\.0\.1 - - \[[^\]]+\] "GET \/web\/health HTTP\/1\.1" 200 - \d+ [\d.]+ [\d.]+/);

    expect(await odoo.stop()).toBe(0);
    expect(odoo.log()).toContain("odoo.service.server: Initiating shutdown");
  });

  it("answers 500 on db_server_status=1 when PostgreSQL cannot be reached", async () => {
    const port = await freePort();
    const conf = writeConf("no-postgres", { db_port: String(await freePort()) });
    const odoo = await startOdoo([PYTHON, ODOO, "-c", conf, "--http-port", String(port), "--http-interface", "127.0.0.1"]);
    await odoo.waitForLog(/HTTP service \(werkzeug\) running/);
    expect((await get(`http://127.0.0.1:${port}/web/health`)).status).toBe(200);
    const down = await get(`http://127.0.0.1:${port}/web/health?db_server_status=1`);
    expect(down.status).toBe(500);
    expect(JSON.parse(down.body)).toEqual({ status: "fail", db_server_status: false });
    await odoo.stop();
  });

  describe("a threaded server (workers = 0) with proxy_mode", () => {
    let port = 0;
    let odoo: RunningOdoo;
    const base = () => `http://127.0.0.1:${port}`;

    beforeAll(async () => {
      port = await freePort();
      const conf = writeConf("web", { db_name: "web", dbfilter: "^web$", addons_path: SAMPLE_ADDONS });
      odoo = await startOdoo([PYTHON, ODOO, "-c", conf, "--http-port", String(port), "--http-interface", "127.0.0.1"]);
      await odoo.waitForLog(/Registry loaded in/);
    });
    afterAll(async () => {
      await odoo?.stop();
    });

    it("serves /web/login: a form with a CSRF token, then a session on a right password only", async () => {
      const form = await get(`${base()}/web/login`);
      expect(form.status).toBe(200);
      expect(form.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      const cookie = sessionCookie(form.headers);
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(form.body)?.[1] ?? "";
      expect(csrf).toMatch(/^[0-9a-f]{40}o\d+$/);

      const withoutToken = await postForm(`${base()}/web/login`, { login: "admin", password: "admin" }, { Cookie: cookie });
      expect(withoutToken.status).toBe(400);
      expect(withoutToken.body).toContain("Session expired (invalid CSRF token)");

      const wrong = await postForm(`${base()}/web/login`, { login: "admin", password: "nope", csrf_token: csrf }, { Cookie: cookie });
      expect(wrong.status).toBe(200);
      expect(wrong.body).toContain("Wrong login/password");
      expect(odoo.log()).toContain("Login failed for db:web login:admin from 127.0.0.1");

      const right = await postForm(`${base()}/web/login`, { login: "admin", password: "admin", csrf_token: csrf }, { Cookie: cookie });
      expect(right.status).toBe(303);
      expect(right.headers.get("location")).toBe("/odoo");
      const loggedIn = sessionCookie(right.headers);
      expect(loggedIn).not.toBe(cookie);
      expect((await get(`${base()}/odoo`, { Cookie: loggedIn })).status).toBe(200);
      const anonymous = await get(`${base()}/odoo`);
      expect(anonymous.status).toBe(303);
      expect(anonymous.headers.get("location")).toBe("/web/login?redirect=%2Fodoo%3F");
    });

    it("honours X-Forwarded-* (with X-Forwarded-Host) in the logged address and in web.base.url", async () => {
      const form = await get(`${base()}/web/login`);
      const cookie = sessionCookie(form.headers);
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(form.body)?.[1] ?? "";
      const forwarded = {
        "X-Forwarded-Host": "sbx.example.com",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "198.51.100.1, 203.0.113.7",
      };
      const login = await postForm(
        `${base()}/web/login`,
        { login: "admin", password: "admin", csrf_token: csrf },
        { Cookie: cookie, ...forwarded },
      );
      expect(login.status).toBe(303);
      expect(odoo.log()).toContain("Login successful for db:web login:admin from 203.0.113.7");
      // werkzeug logs a request once its answer is sent.
      await odoo.waitForLog(/werkzeug: 203\.0\.113\.7 - - \[[^\]]+\] "POST \/web\/login HTTP\/1\.1" 303/);
      expect(await psql("web", "SELECT value FROM ir_config_parameter WHERE key = 'web.base.url'")).toBe("https://sbx.example.com");

      // Without X-Forwarded-Host, Odoo 18 applies none of them.
      await get(`${base()}/web/health?probe=no-forwarded-host`, { "X-Forwarded-For": "192.0.2.99", "X-Forwarded-Proto": "https" });
      await odoo.waitForLog(/"GET \/web\/health\?probe=no-forwarded-host HTTP\/1\.1" 200/);
      expect(odoo.log()).toMatch(/werkzeug: 127\.0\.0\.1 - - \[[^\]]+\] "GET \/web\/health\?probe=no-forwarded-host HTTP/);
    });

    it("answers the websocket handshake on the HTTP port, echoes and closes", async () => {
      const key = randomBytes(16).toString("base64");
      const answer = await websocketHandshake(port, key);
      expect(answer.statusLine).toBe("HTTP/1.1 101 Switching Protocols");
      expect(answer.headers.upgrade).toBe("websocket");
      const expected = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      expect(answer.headers["sec-websocket-accept"]).toBe(expected);

      answer.socket.write(clientFrame(0x1, Buffer.from(JSON.stringify({ event_name: "ping_me", data: 42 }))));
      const [opcode, payload] = await serverFrame(answer.socket, answer.rest);
      expect(opcode).toBe(0x1);
      expect(JSON.parse(payload.toString())).toEqual([
        { id: 1, message: { type: "standin.echo", payload: { event_name: "ping_me", data: 42 } } },
      ]);

      const close = Buffer.alloc(2);
      close.writeUInt16BE(1000);
      answer.socket.write(clientFrame(0x8, close));
      const [closeOpcode, closePayload] = await serverFrame(answer.socket);
      expect(closeOpcode).toBe(0x8);
      expect(closePayload.readUInt16BE(0)).toBe(1000);
      answer.socket.destroy();
    });

    it("refuses a bad websocket handshake like Odoo (400, 426)", async () => {
      const shortKey = await websocketHandshake(port, Buffer.from("short").toString("base64"));
      expect(shortKey.statusLine).toBe("HTTP/1.1 400 Bad Request");
      shortKey.socket.destroy();
      const oldVersion = await websocketHandshake(port, undefined, "8");
      expect(oldVersion.statusLine).toBe("HTTP/1.1 426 Upgrade Required");
      expect(oldVersion.headers["sec-websocket-version"]).toBe("13");
      oldVersion.socket.destroy();
    });

    it("keeps the database manager closed when list_db is False", async () => {
      const page = await get(`${base()}/web/database/manager`);
      expect(page.status).toBe(200);
      expect(page.body).toContain("The database manager has been disabled by the administrator");
      const create = await postForm(`${base()}/web/database/create`, { master_pwd: "master-secret", name: "another" });
      expect(create.body).toContain("Database creation error: Access Denied");
      expect(odoo.log()).toContain("ERROR web odoo.service.db: Database management functions blocked, admin disabled database listing");
      expect(await psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'another'")).toBe("0");
    });
  });

  it("without proxy_mode, ignores X-Forwarded-* entirely", async () => {
    const port = await freePort();
    const conf = writeConf("no-proxy", { db_name: "web", dbfilter: "^web$", proxy_mode: "False", addons_path: SAMPLE_ADDONS });
    const odoo = await startOdoo([PYTHON, ODOO, "-c", conf, "--http-port", String(port), "--http-interface", "127.0.0.1"]);
    await odoo.waitForLog(/Registry loaded in/);
    await get(`http://127.0.0.1:${port}/web/health`, { "X-Forwarded-Host": "sbx.example.com", "X-Forwarded-For": "203.0.113.8" });
    await odoo.waitForLog(/"GET \/web\/health HTTP\/1\.1" 200/);
    expect(odoo.log()).toMatch(/werkzeug: 127\.0\.0\.1 - - \[[^\]]+\] "GET \/web\/health HTTP\/1\.1" 200/);
    expect(odoo.log()).not.toContain("203.0.113.8");
    await odoo.stop();
  });

  it("with workers > 0, serves /websocket on the gevent port only", async () => {
    const [port, geventPort] = [await freePort(), await freePort()];
    const conf = writeConf("prefork", {
      db_name: "web",
      dbfilter: "^web$",
      workers: "2",
      gevent_port: String(geventPort),
      addons_path: SAMPLE_ADDONS,
    });
    const odoo = await startOdoo([PYTHON, ODOO, "-c", conf, "--http-port", String(port), "--http-interface", "127.0.0.1"]);
    await odoo.waitForLog(/Evented Service \(longpolling\) running on 127\.0\.0\.1:\d+/);
    expect((await get(`http://127.0.0.1:${port}/web/health`)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${geventPort}/web/health`)).status).toBe(200);

    const onHttpPort = await websocketHandshake(port);
    expect(onHttpPort.statusLine).toBe("HTTP/1.1 500 Internal Server Error");
    onHttpPort.socket.destroy();
    expect(odoo.log()).toContain("RuntimeError: Couldn't bind the websocket. Is the connection opened on the evented port (8072)?");

    const onGeventPort = await websocketHandshake(geventPort);
    expect(onGeventPort.statusLine).toBe("HTTP/1.1 101 Switching Protocols");
    onGeventPort.socket.destroy();
    expect(await odoo.stop()).toBe(0);
  });
});

describe("--test-enable", () => {
  async function runTests(db: string, modules: string, extra: string[] = []) {
    const conf = writeConf(`tests-${db}`, { dbfilter: `^${db}$` });
    return runOdoo([
      "-c",
      conf,
      "-d",
      db,
      "-i",
      modules,
      "--test-enable",
      "--stop-after-init",
      "--http-port",
      String(await freePort()),
      ...extra,
    ]);
  }

  it("runs passing tests at install and post install, with Odoo's lines, and exits 0", async () => {
    const run = await runTests("t_pass", "standin_tests_pass");
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /INFO t_pass odoo\.addons\.standin_tests_pass\.tests\.test_pass: Starting TestPass\.test_arithmetic \.\.\. $/m,
    );
    expect(run.stderr).toMatch(
      /INFO t_pass odoo\.addons\.standin_tests_pass\.tests\.test_pass: Starting TestHealthOverHttp\.test_health \.\.\./,
    );
    expect(run.stderr).toMatch(/INFO t_pass odoo\.service\.server: Starting post tests/);
    expect(run.stderr).toMatch(/Starting TestAfterInstall\.test_after_everything \.\.\./);
    expect(run.stderr).toMatch(/INFO t_pass odoo\.service\.server: 1 post-tests in [\d.]+s, \d+ queries/);
    expect(run.stderr).toMatch(/INFO t_pass odoo\.tests\.stats: standin_tests_pass: 4 tests [\d.]+s \d+ queries/);
    expect(run.stderr).toMatch(/INFO t_pass odoo\.tests\.result: 0 failed, 0 error\(s\) of 4 tests when loading database 't_pass' $/m);
    expect(run.stderr).not.toContain("TestSlow");
  });

  it("selects tests with --test-tags", async () => {
    const run = await runTests("t_tags", "standin_tests_pass", ["--test-tags", "slow"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain("Starting TestSlow.test_slow ...");
    expect(run.stderr).not.toContain("Starting TestPass.");
    expect(run.stderr).toContain("0 failed, 0 error(s) of 1 tests when loading database 't_tags'");
  });

  it("reports a failing test like Odoo and exits 1 (one database with failures)", async () => {
    const run = await runTests("t_fail", "standin_tests_fail");
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/INFO t_fail odoo\.addons\.standin_tests_fail\.tests\.test_fail: ={70} $/m);
    expect(run.stderr).toMatch(/ERROR t_fail odoo\.addons\.standin_tests_fail\.tests\.test_fail: FAIL: TestFail\.test_fails\nTraceback/);
    expect(run.stderr).toContain("AssertionError: 2 != 3 : arithmetic is broken");
    expect(run.stderr).toMatch(/ERROR t_fail odoo\.modules\.loading: Module standin_tests_fail: 1 failures, 0 errors of 2 tests/);
    expect(run.stderr).toMatch(/ERROR t_fail odoo\.modules\.loading: At least one test failed when loading the modules\./);
    expect(run.stderr).toMatch(/ERROR t_fail odoo\.tests\.result: 1 failed, 0 error\(s\) of 2 tests when loading database 't_fail'/);
  });

  it("reports erroring tests, including one that needs the ORM, and exits 1", async () => {
    const run = await runTests("t_error", "standin_tests_error");
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/ERROR t_error odoo\.addons\.standin_tests_error\.tests\.test_error: ERROR: TestError\.test_raises\n/);
    expect(run.stderr).toContain("ValueError: something unexpected");
    expect(run.stderr).toContain("StandinHasNoOrm: the k8s-dev-sandbox Odoo stand-in has no ORM: env is not available");
    expect(run.stderr).toContain("0 failed, 2 error(s) of 2 tests when loading database 't_error'");
  });

  it("stops loading when the tests cannot be imported, and exits 255 as Odoo does", async () => {
    const run = await runTests("t_import", "standin_tests_import_error");
    expect(run.exitCode).toBe(255);
    expect(run.stderr).toMatch(/CRITICAL t_import odoo\.service\.server: Failed to initialize database `t_import`\. \nTraceback/);
    expect(run.stderr).toContain("ModuleNotFoundError: No module named 'a_python_module_that_does_not_exist'");
    expect(await psql("t_import", "SELECT state FROM ir_module_module WHERE name = 'standin_tests_import_error'")).toBe("uninstalled");
  });
});

describe("entrypoint", () => {
  it("adds the database settings missing from odoo.conf from HOST/PORT/USER/PASSWORD_FILE and waits for PostgreSQL", async () => {
    const port = await freePort();
    const passwordFile = join(dir, "db-password");
    writeFileSync(passwordFile, ROLE_PASSWORD);
    const conf = writeConf("entrypoint", { db_name: "web", dbfilter: "^web$", addons_path: SAMPLE_ADDONS });
    const odoo = await startOdoo([ENTRYPOINT, "odoo", "--http-port", String(port), "--http-interface", "127.0.0.1"], {
      ODOO_RC: conf,
      HOST: "not-used-db-host-is-in-the-file",
      PASSWORD_FILE: passwordFile,
      PGPASSWORD: "",
    });
    await odoo.waitForLog(/Registry loaded in/);
    expect((await get(`http://127.0.0.1:${port}/web/health`)).status).toBe(200);
    expect(await odoo.stop()).toBe(0);
  });

  it("runs any other command as given", async () => {
    const run = await execa(ENTRYPOINT, ["echo", "as given"], { extendEnv: false, env: standinEnv() });
    expect(run.stdout).toBe("as given");
  });
});
