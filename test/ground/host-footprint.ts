// What the real node changes on the host, recorded before it starts and put
// back after it stops, so `down` leaves the machine as `up` found it: kernel
// settings the kubelet and kube-proxy tune, iptables chains and ipsets that
// kube-proxy, kube-router and the CNI plugins create, network namespaces,
// the bridge, cgroups and mounts under the kubelet's root.
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";

/** Every kernel setting the node's parts are known to write (see docs/test-ground.md). */
export const TOUCHED_SYSCTLS = [
  "net/ipv4/ip_forward",
  "net/bridge/bridge-nf-call-iptables",
  "net/bridge/bridge-nf-call-ip6tables",
  "net/ipv4/conf/all/route_localnet",
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
  "net/netfilter/nf_conntrack_tcp_timeout_established",
  "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
  "net/netfilter/nf_conntrack_tcp_be_liberal",
];

export interface HostSnapshot {
  sysctls: Record<string, string>;
  iptablesChains: Record<string, string[]>;
  ipsets: string[];
}

const IPTABLES = ["iptables", "ip6tables"] as const;
const TABLES = ["filter", "nat", "mangle", "raw"] as const;

function readSysctl(key: string): string | undefined {
  const file = join("/proc/sys", key);
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

export function writeSysctl(key: string, value: string): void {
  writeFileSync(join("/proc/sys", key), `${value}\n`);
}

async function chainsOf(tool: string, table: string): Promise<string[]> {
  const { stdout, exitCode } = await execa(tool, ["-w", "-t", table, "-S"], { reject: false });
  if (exitCode !== 0) return [];
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("-N "))
    .map((line) => line.slice(3).trim());
}

async function ipsetNames(): Promise<string[]> {
  const { stdout, exitCode } = await execa("ipset", ["list", "-n"], { reject: false });
  return exitCode === 0 ? stdout.split("\n").filter(Boolean) : [];
}

export async function snapshotHost(): Promise<HostSnapshot> {
  const sysctls: Record<string, string> = {};
  for (const key of TOUCHED_SYSCTLS) {
    const value = readSysctl(key);
    if (value !== undefined) sysctls[key] = value;
  }
  const iptablesChains: Record<string, string[]> = {};
  for (const tool of IPTABLES) for (const table of TABLES) iptablesChains[`${tool}/${table}`] = await chainsOf(tool, table);
  return { sysctls, iptablesChains, ipsets: await ipsetNames() };
}

/**
 * Removes the chains that did not exist in the snapshot (and every rule that
 * jumps to them), destroys the ipsets that did not exist, and writes the
 * kernel settings back. Safe to run twice.
 */
export async function restoreHost(before: HostSnapshot): Promise<string[]> {
  const done: string[] = [];
  for (const tool of IPTABLES) {
    for (const table of TABLES) {
      const known = new Set(before.iptablesChains[`${tool}/${table}`] ?? []);
      const added = (await chainsOf(tool, table)).filter((chain) => !known.has(chain));
      if (added.length === 0) continue;
      const addedSet = new Set(added);
      // Rules in chains we keep that jump into chains we remove go first.
      const { stdout } = await execa(tool, ["-w", "-t", table, "-S"], { reject: false });
      const jumps: { chain: string; rule: string }[] = [];
      for (const rule of stdout.split("\n")) {
        const match = /^-A (\S+) (.*-j (\S+).*)$/.exec(rule);
        if (!match?.[1] || !match[2] || !match[3]) continue;
        if (addedSet.has(match[1]) || !addedSet.has(match[3])) continue;
        jumps.push({ chain: match[1], rule: match[2] });
      }
      // One iptables-restore for the table (-S prints rules in its syntax):
      // a command per rule and chain was some 400 processes per CI run.
      const script = [
        `*${table}`,
        ...jumps.map((j) => `-D ${j.chain} ${j.rule}`),
        ...added.map((chain) => `-F ${chain}`),
        ...added.map((chain) => `-X ${chain}`),
        "COMMIT",
        "",
      ].join("\n");
      const batch = await execa(`${tool}-restore`, ["-w", "--noflush"], { input: script, reject: false });
      if (batch.exitCode !== 0) {
        // All or nothing: one command at a time instead, each tolerating what is already gone.
        for (const j of jumps) await execa(tool, ["-w", "-t", table, "-D", j.chain, ...splitRule(j.rule)], { reject: false });
        for (const chain of added) await execa(tool, ["-w", "-t", table, "-F", chain], { reject: false });
        for (const chain of added) await execa(tool, ["-w", "-t", table, "-X", chain], { reject: false });
      }
      done.push(`${tool} ${table}: removed ${added.length} chains`);
    }
  }
  const knownSets = new Set(before.ipsets);
  const addedSets = (await ipsetNames()).filter((name) => !knownSets.has(name));
  // A set still referenced by another (list:set) cannot go first: flush all,
  // then destroy; in one `ipset restore` when it takes them all at once.
  const sets = `${[...addedSets.map((name) => `flush ${name}`), ...addedSets.map((name) => `destroy ${name}`)].join("\n")}\n`;
  if (addedSets.length > 0 && (await execa("ipset", ["restore"], { input: sets, reject: false })).exitCode !== 0) {
    for (const name of addedSets) await execa("ipset", ["flush", name], { reject: false });
    for (const name of addedSets) await execa("ipset", ["destroy", name], { reject: false });
  }
  if (addedSets.length > 0) done.push(`ipset: destroyed ${addedSets.length} sets`);
  for (const [key, value] of Object.entries(before.sysctls)) {
    if (readSysctl(key) !== value) {
      try {
        writeSysctl(key, value);
        done.push(`sysctl ${key.replaceAll("/", ".")} = ${value}`);
      } catch {
        // A read-only key on this kernel was never changed by the node either.
      }
    }
  }
  return done;
}

/** iptables -S prints rules in a form its own argv accepts; quotes hold comments with spaces. */
function splitRule(rule: string): string[] {
  const parts: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m; m = re.exec(rule)) parts.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? ""));
  return parts;
}

/** Unmounts everything mounted below `root` (secrets, projected tokens, emptyDirs), deepest first. */
export async function unmountBelow(root: string): Promise<number> {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((point): point is string => !!point && (point === root || point.startsWith(`${root}/`)))
    .sort((a, b) => b.length - a.length);
  // One umount for all (it goes on past one that fails), deepest first.
  if (mounts.length > 0) await execa("umount", ["-l", ...mounts], { reject: false });
  return mounts.length;
}

/** Removes the pods' cgroups (kubelet's `kubepods` tree) from every hierarchy, leaves first. */
export function removeCgroups(name = "kubepods"): number {
  let removed = 0;
  const base = "/sys/fs/cgroup";
  const roots: string[] = [];
  if (!existsSync(base)) return 0;
  for (const entry of readdirSync(base)) {
    const dir = join(base, entry, name);
    if (existsSync(dir)) roots.push(dir);
  }
  if (existsSync(join(base, name))) roots.push(join(base, name));
  const removeTree = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) removeTree(join(dir, entry.name));
    }
    try {
      // A cgroup directory goes with a plain rmdir(2) once it has no children and no tasks.
      rmdirSync(dir);
      removed++;
    } catch {
      // still has a process: left for the next `down`
    }
  };
  for (const root of roots) removeTree(root);
  return removed;
}
