// The Claude Code skill (.claude/skills/k8s-sandbox/SKILL.md) and the CLI stay
// in step: valid frontmatter, and every command and flag the skill names is
// one that `k8s-sandbox --help` lists.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { USAGE } from "../../src/cli/main.js";

const text = readFileSync(".claude/skills/k8s-sandbox/SKILL.md", "utf8");
const frontmatter = /^---\n([\s\S]*?)\n---\n/.exec(text);
const body = text.slice(frontmatter?.[0].length ?? 0);

/** The commands of the usage text: the first word of each line under "commands:", with "a | b" alternatives. */
function helpCommands(): Set<string> {
  const section = USAGE.split("commands:")[1]?.split("flags:")[0] ?? "";
  const names = new Set<string>();
  for (const line of section.split("\n")) {
    const head = /^ {2}([a-z]+(?: \| [a-z]+)*)/.exec(line);
    for (const name of head?.[1]?.split(" | ") ?? []) names.add(name);
  }
  return names;
}

describe("the k8s-sandbox skill", () => {
  it("has the frontmatter Claude Code reads: name and a description of when to use it", () => {
    expect(frontmatter, "a --- block at the top").toBeTruthy();
    const meta = parse(frontmatter?.[1] ?? "") as Record<string, unknown>;
    expect(Object.keys(meta).sort()).toEqual(["description", "name"]);
    expect(meta.name).toBe("k8s-sandbox");
    expect(meta.name).toMatch(/^[a-z0-9-]{1,64}$/);
    expect(typeof meta.description).toBe("string");
    const description = meta.description as string;
    expect(description.length).toBeGreaterThan(40);
    expect(description.length).toBeLessThanOrEqual(1024);
    expect(description).toMatch(/Use when/);
  });

  it("routes every subcommand of /k8s-sandbox to a CLI command that exists", () => {
    const commands = helpCommands();
    expect(commands).toEqual(
      new Set(["create", "up", "destroy", "list", "status", "logs", "extend", "test", "open", "sweep", "serve", "agent", "demo"]),
    );
    const routes = [...body.matchAll(/^\| `([a-z]+)[^`]*` \| `k8s-sandbox ([a-z]+)/gm)].map((m) => [m[1], m[2]]);
    expect(routes.map(([sub]) => sub)).toEqual(["up", "down", "list", "status", "logs", "extend", "test", "open"]);
    for (const [, command] of routes) expect(commands, `k8s-sandbox ${command}`).toContain(command);
  });

  it("names only commands and flags that k8s-sandbox --help lists", () => {
    const commands = helpCommands();
    // Not "/k8s-sandbox down": that is the slash command, routed by the table above.
    for (const m of body.matchAll(/(?<![/\w-])k8s-sandbox ([a-z]+)/g)) {
      if (m[1] === "cli") continue; // prose: "the k8s-sandbox CLI"
      expect(commands, `k8s-sandbox ${m[1]}`).toContain(m[1]);
    }
    const helpFlags = new Set([...USAGE.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
    // Flags of other tools the skill tells the agent to run, not the CLI's.
    const otherTools = new Set(["--short", "--minify", "--dev"]);
    const named = [...body.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]).filter((f) => !otherTools.has(f));
    expect(named.length).toBeGreaterThan(5);
    for (const flag of named) expect(helpFlags, flag).toContain(flag);
  });

  it("never lets a destructive command run on an unconfirmed context", () => {
    expect(body).toMatch(/## Never without confirmation/);
    expect(body).toMatch(/`down`[^\n]*\n?[^\n]*confirmed/);
  });
});
