import { describe, expect, it } from "vitest";
import { helpText, MAX_COMMAND_LINE, parseSlashCommand, type SlashCommand } from "../../src/domain/commands.js";
import { DAY, HOUR, MINUTE } from "../../src/domain/duration.js";

describe("parseSlashCommand: commands", () => {
  it.each<[string, SlashCommand]>([
    ["/sandbox extend 48h", { kind: "command", command: "extend", duration: 48 * HOUR, durationText: "48h" }],
    ["/sandbox extend 1h30m", { kind: "command", command: "extend", duration: 90 * MINUTE, durationText: "1h30m" }],
    ["/sandbox extend", { kind: "command", command: "extend" }],
    ["/sandbox destroy", { kind: "command", command: "destroy" }],
    ["/sandbox redeploy", { kind: "command", command: "redeploy" }],
    ["/sandbox status", { kind: "command", command: "status" }],
    ["/sandbox help", { kind: "command", command: "help" }],
    ["/sandbox", { kind: "command", command: "help" }],
    ["/sandbox   ", { kind: "command", command: "help" }],
    ["  \r\n\n  /sandbox extend 3d", { kind: "command", command: "extend", duration: 3 * DAY, durationText: "3d" }],
    ["/sandbox extend 2d\r\nthanks!", { kind: "command", command: "extend", duration: 2 * DAY, durationText: "2d" }],
    ["/sandbox destroy\n/sandbox extend 1w", { kind: "command", command: "destroy" }],
    ["/Sandbox EXTEND 1W", { kind: "command", command: "extend", duration: 7 * DAY, durationText: "1W" }],
    ["/sandbox\tstatus", { kind: "command", command: "status" }],
    ["/sandbox  extend   12h  ", { kind: "command", command: "extend", duration: 12 * HOUR, durationText: "12h" }],
  ])("%j", (body, expected) => {
    expect(parseSlashCommand(body)).toEqual(expected);
  });
});

describe("parseSlashCommand: not a command", () => {
  it.each([
    [""],
    ["   \n  "],
    ["LGTM"],
    ["please /sandbox extend 48h"],
    ["> /sandbox extend 48h"],
    ["`/sandbox extend 48h`"],
    ["thanks\n/sandbox destroy"],
    ["/sandboxes are great"],
    ["/sandbox-extend 48h"],
    ["/sandbo"],
    ["/deploy"],
    [`/sandbox${"x".repeat(10_000)}`],
    [" ".repeat(1_000_000)],
  ])("%j", (body) => {
    expect(parseSlashCommand(body)).toEqual({ kind: "none" });
  });

  it.each([[undefined], [null], [42], [{}]])("non-string %j", (body) => {
    expect(parseSlashCommand(body as unknown as string)).toEqual({ kind: "none" });
  });
});

describe("parseSlashCommand: invalid", () => {
  it.each([
    ["/sandbox deploy", "Unknown command `/sandbox deploy`"],
    ["/sandbox extend 0h", "`0h` is not a valid duration (it is zero)"],
    ["/sandbox extend forever", "`forever` is not a valid duration"],
    ["/sandbox extend 48", "a number needs a unit"],
    ["/sandbox extend 11y", 'unknown unit "y"'],
    ["/sandbox extend 48h please", "takes one duration, got 2 arguments"],
    ["/sandbox destroy now", "`/sandbox destroy` takes no arguments"],
    ["/sandbox status --json", "takes no arguments"],
    [`/sandbox extend ${"9".repeat(300)}h`, "too long"],
    [`/sandbox ${"a ".repeat(200)}`, "too long"],
  ])("%j", (body, fragment) => {
    const result = parseSlashCommand(body);
    expect(result.kind).toBe("invalid");
    const message = result.kind === "invalid" ? result.message : "";
    expect(message).toContain(fragment);
    // Every invalid reply lists the commands.
    for (const c of ["extend [duration]", "destroy", "redeploy", "status", "help"]) expect(message).toContain(`/sandbox ${c}`);
  });

  it.each([
    ["/sandbox @everyone", "@everyone"],
    ["/sandbox extend @octocat", "@octocat"],
    ["/sandbox `x`[link](http://evil)", "[link]"],
  ])("keeps user text inert in %j", (body, text) => {
    const result = parseSlashCommand(body);
    expect(result.kind).toBe("invalid");
    const message = result.kind === "invalid" ? result.message : "";
    // User text only ever appears inside a code span, which GitHub renders literally.
    const outside = message
      .split("`")
      .filter((_, i) => i % 2 === 0)
      .join("");
    expect(outside).not.toContain(text);
  });

  it("stays bounded on a huge command line", () => {
    const result = parseSlashCommand(`/sandbox extend ${"x".repeat(5_000_000)}`);
    expect(result.kind).toBe("invalid");
    expect(result.kind === "invalid" && result.message.length).toBeLessThan(600);
    expect(MAX_COMMAND_LINE).toBe(200);
  });
});

describe("helpText", () => {
  it("lists every command and is not itself a command", () => {
    const text = helpText();
    for (const c of ["extend [duration]", "destroy", "redeploy", "status", "help"]) expect(text).toContain(`/sandbox ${c}`);
    expect(parseSlashCommand(text)).toEqual({ kind: "none" });
  });

  it.each([
    [{ defaultExtend: "7d" }, "(default 7d)"],
    [{ maxTtl: "30d" }, "capped at 30d"],
  ])("mentions %j", (options, fragment) => {
    expect(helpText(options)).toContain(fragment);
  });
});
