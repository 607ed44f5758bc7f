#!/usr/bin/env node
// Entry point of the k8s-sandbox command.
import { describeError, main } from "./main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`k8s-sandbox: ${describeError(error)}\n`);
    process.exitCode = error instanceof Error && error.name === "InputError" ? 2 : 1;
  },
);
