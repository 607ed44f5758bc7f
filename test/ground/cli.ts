// npm run ground -- up | down [--purge] | status | env
import { down, envAssignments, readState, shellQuote, status, up } from "./ground.js";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up": {
      const state = await up();
      process.stderr.write(`[ground] KUBECONFIG=${state.kubeconfig} REGISTRY=${state.registry}\n`);
      process.stderr.write('[ground] use it from a shell: eval "$(npm run -s ground -- env)"\n');
      return 0;
    }
    case "down":
      await down({ purge: rest.includes("--purge") });
      return 0;
    case "status": {
      const s = await status();
      const lines = Object.entries(s.components).map(
        ([name, alive]) =>
          `  ${name.padEnd(18)} ${alive ? "running" : "stopped"} ${(name === "s3" ? s.state?.s3?.pid : name === "dockerEngine" ? (s.state?.dockerEngine?.pid ?? s.state?.dockerEngineUnavailable) : s.state?.pids[name as keyof typeof s.state.pids]) ?? ""}`,
      );
      const verdict = s.healthy ? "up" : s.state ? `down: ${s.why}` : "down";
      process.stdout.write(`ground ${verdict}${s.state ? ` (${s.state.dir})` : ""}\n${lines.join("\n")}\n`);
      if (s.state) process.stdout.write(`  kubeconfig         ${s.state.kubeconfig}\n  registry           ${s.state.registry}\n`);
      return s.healthy ? 0 : 3;
    }
    case "env": {
      const state = readState();
      if (!state) {
        process.stderr.write("[ground] not up: run `npm run ground -- up` first\n");
        return 1;
      }
      for (const [key, value] of Object.entries(envAssignments(state))) {
        process.stdout.write(`export ${key}=${shellQuote(value)}\n`);
      }
      return 0;
    }
    default:
      process.stderr.write("usage: npm run ground -- up | down [--purge] | status | env\n");
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[ground] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
