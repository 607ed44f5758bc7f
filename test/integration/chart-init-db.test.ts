// The chart's database init step (files/init-db.sh, run by the Odoo pod's
// init container on every start) against a real PostgreSQL: kwok never runs
// containers, so this is where its decisions are proven. `odoo` is a stand-in
// that records its arguments and does what `odoo -i base` does to the schema
// the script inspects (ir_module_module, ir_config_parameter).
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, execaSync } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chartDir, repoRoot } from "../support/helm.js";

const PG_BIN = process.env.PG_BIN ?? join("/usr/lib/postgresql", readdirSync("/usr/lib/postgresql").sort().at(-1) ?? "", "bin");
const SCRIPT = join(chartDir, "files", "init-db.sh");
const ADDONS = join(repoRoot, "examples", "sample-addons");

let dir = "";
let socketDir = "";
let odooLog = "";
let server: ReturnType<typeof execa> | undefined;

/** Runs a PostgreSQL tool as the postgres user when we are root (PostgreSQL refuses root). */
function asPostgres(bin: string, args: string[]) {
  const path = join(PG_BIN, bin);
  return process.getuid?.() === 0 ? execa("runuser", ["-u", "postgres", "--", path, ...args]) : execa(path, args);
}

const FAKE_ODOO = `#!/bin/bash
# Stand-in for the odoo CLI: records its arguments; --init with base on a
# database without Odoo's tables creates them with base installed.
set -euo pipefail
echo "$*" >> "$ODOO_LOG"
db="" init=""
for arg in "$@"; do
  case "$arg" in
    --database=*) db=\${arg#--database=} ;;
    --init=*) init=\${arg#--init=} ;;
  esac
done
[[ -n "\${FAIL_ODOO:-}" ]] && { echo "odoo failed" >&2; exit 3; }
if [[ ",$init," == *",base,"* ]]; then
  psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 || createdb "$db"
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE TABLE IF NOT EXISTS ir_module_module (name varchar PRIMARY KEY, state varchar);
CREATE TABLE IF NOT EXISTS ir_config_parameter (id serial, key varchar UNIQUE NOT NULL, value text, create_date timestamp, write_date timestamp);
INSERT INTO ir_module_module VALUES ('base', 'installed') ON CONFLICT (name) DO UPDATE SET state = 'installed';
SQL
fi
`;

async function initDb(env: Record<string, string>): Promise<{ exitCode: number; stderr: string; odooCalls: string[] }> {
  writeFileSync(odooLog, "");
  const result = await execa("bash", [SCRIPT], {
    reject: false,
    env: {
      PATH: `${join(dir, "bin")}:${PG_BIN}:${process.env.PATH}`,
      PGHOST: socketDir,
      PGPORT: "5439",
      PGUSER: "postgres",
      ODOO_BIN: join(dir, "bin", "odoo"),
      ODOO_RC: "/nonexistent/odoo.conf",
      ODOO_LOG: odooLog,
      ODOO_DATABASE: "sandbox",
      ODOO_ADDONS_PATHS: `${ADDONS},/nonexistent`,
      INIT_MODULES: "",
      DISCOVER_ADDONS: "true",
      UPDATE_ON_REVISION_CHANGE: "true",
      REVISION: "odoo:18.0@1111111",
      WAIT_SECONDS: "20",
      ...env,
    },
  });
  const odooCalls = readFileSync(odooLog, "utf8").split("\n").filter(Boolean);
  return { exitCode: result.exitCode ?? -1, stderr: result.stderr, odooCalls };
}

async function psql(db: string, sql: string): Promise<string> {
  const result = await execa(join(PG_BIN, "psql"), [
    "-X",
    "-q",
    "-t",
    "-A",
    "-h",
    socketDir,
    "-p",
    "5439",
    "-U",
    "postgres",
    "-d",
    db,
    "-c",
    sql,
  ]);
  return result.stdout.trim();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chart-init-db-"));
  chmodSync(dir, 0o755);
  socketDir = join(dir, "socket");
  const data = join(dir, "data");
  for (const d of [socketDir, data]) {
    mkdirSync(d, { recursive: true });
    if (process.getuid?.() === 0) {
      chownSync(d, Number(execaSync("id", ["-u", "postgres"]).stdout), Number(execaSync("id", ["-g", "postgres"]).stdout));
    }
  }
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "odoo"), FAKE_ODOO, { mode: 0o755 });
  odooLog = join(dir, "odoo.log");
  await asPostgres("initdb", ["-D", data, "--auth=trust", "--username=postgres", "--no-sync"]);
  server = asPostgres("postgres", ["-D", data, "-k", socketDir, "-p", "5439", "-c", "listen_addresses=", "-c", "fsync=off"]);
  server.catch(() => {});
  for (let i = 0; i < 50; i++) {
    const ready = await execa(join(PG_BIN, "pg_isready"), ["-h", socketDir, "-p", "5439"], { reject: false });
    if (ready.exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("PostgreSQL did not start");
}, 60_000);

afterAll(async () => {
  if (server?.pid) {
    // The postmaster runs under runuser: stop it by its data directory.
    await asPostgres("pg_ctl", ["stop", "-D", join(dir, "data"), "-m", "immediate"]).catch(() => {});
    await server.catch(() => {});
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("init-db.sh", () => {
  it("initializes a missing database with base and the discovered addons", async () => {
    const run = await initDb({});
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.odooCalls).toHaveLength(1);
    expect(run.odooCalls[0]).toContain("--init=base,sandbox_hello");
    expect(run.odooCalls[0]).toContain("--database=sandbox");
    expect(run.odooCalls[0]).toContain("--stop-after-init");
    expect(await psql("sandbox", "SELECT value FROM ir_config_parameter WHERE key = 'k8s_dev_sandbox.revision'")).toBe("odoo:18.0@1111111");
  });

  it("does nothing on a restart: an existing database is never initialized again", async () => {
    const run = await initDb({});
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.odooCalls).toEqual([]);
    expect(run.stderr).toMatch(/already initialized/);
  });

  it("installs/updates the repository's modules once for a new revision", async () => {
    const first = await initDb({ REVISION: "odoo:18.0@2222222" });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.odooCalls).toHaveLength(1);
    expect(first.odooCalls[0]).toContain("--init=sandbox_hello");
    expect(first.odooCalls[0]).toContain("--update=sandbox_hello");
    expect(first.odooCalls[0]).not.toMatch(/--init=(base,|\S*,base\b)/);
    const again = await initDb({ REVISION: "odoo:18.0@2222222" });
    expect(again.odooCalls).toEqual([]);
  });

  it("leaves an existing database alone when updates are off", async () => {
    const run = await initDb({ REVISION: "odoo:18.0@3333333", UPDATE_ON_REVISION_CHANGE: "false" });
    expect(run.exitCode).toBe(0);
    expect(run.odooCalls).toEqual([]);
  });

  it("stores a hostile revision string as data, not SQL", async () => {
    const revision = "x'); DROP TABLE ir_module_module; --";
    const run = await initDb({ REVISION: revision });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await psql("sandbox", "SELECT value FROM ir_config_parameter WHERE key = 'k8s_dev_sandbox.revision'")).toBe(revision);
    expect(await psql("sandbox", "SELECT state FROM ir_module_module WHERE name = 'base'")).toBe("installed");
  });

  it("initializes a database that exists but is empty (e.g. made by POSTGRES_DB)", async () => {
    await psql("postgres", "CREATE DATABASE empty_db");
    const run = await initDb({ ODOO_DATABASE: "empty_db", INIT_MODULES: " sale_management ,base", DISCOVER_ADDONS: "false" });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/not initialized \(empty\)/);
    expect(run.odooCalls[0]).toContain("--init=base,sale_management");
  });

  it("fails, and says why, when Odoo fails", async () => {
    const run = await initDb({ ODOO_DATABASE: "broken_db", FAIL_ODOO: "1" });
    expect(run.exitCode).not.toBe(0);
    expect(await psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'broken_db'")).toBe("0");
  });

  it("gives up with a message when PostgreSQL does not answer", async () => {
    const run = await initDb({ PGPORT: "5438", WAIT_SECONDS: "3" });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/did not answer within 3s/);
    expect(run.odooCalls).toEqual([]);
  });
});
