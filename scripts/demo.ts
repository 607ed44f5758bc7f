// `npm run demo`: bring the local test ground up (building it on first use),
// then run `k8s-sandbox demo` against it: a full preview lifecycle.
import { envAssignments, up } from "../test/ground/ground.js";
import { describeError, main } from "../src/cli/main.js";

try {
  const state = await up();
  Object.assign(process.env, envAssignments(state));
  process.exitCode = await main(["demo", ...process.argv.slice(2)]);
} catch (error) {
  process.stderr.write(`demo failed: ${describeError(error)}\n`);
  process.exitCode = 1;
}
