// Bundles the three front doors into dist/, which is committed: GitHub runs
// the Action from dist/index.js without installing anything.
//   node scripts/bundle.mjs [outdir]
import { rmSync } from "node:fs";
import { build } from "esbuild";

const outdir = process.argv[2] ?? "dist";
// A clean directory: a file left from an earlier build would ship too.
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: {
    index: "src/action/index.ts",
    // The Action's post step: removes the kubeconfig the main step wrote.
    post: "src/action/post.ts",
    cli: "src/cli/index.ts",
  },
  outdir,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  sourcesContent: false,
  legalComments: "linked",
  logLevel: "warning",
  // Some dependencies are CommonJS and call require(); ESM output needs it defined.
  banner: {
    js: "import { createRequire as __sandboxCreateRequire } from 'node:module'; const require = __sandboxCreateRequire(import.meta.url);",
  },
});
