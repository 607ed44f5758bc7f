import { defineConfig } from "vitest/config";

// Tests on the ground run one file at a time within a project (they share one
// cluster and its CPU). test/run-all.sh runs the projects side by side, one
// vitest process each: most of their time is spent waiting on the cluster.
// (In one process, vitest 4.1 runs all projects one worker at a time once any
// project limits its workers.) Each starts the ground through the global
// setup, which is idempotent and serialized by a lock (ground.ts).
//   unit         pure, parallel
//   integration  the engine, the chart and the ground at the API level (kwok's node)
//   services     the controller and the workspace agent as processes on loopback
//                against the ground (kwok's node)
//   ground       the test ground itself: its control plane and kwok, the real node,
//                its images, the ingress, the Odoo stand-in
//   real-chart   the chart deployed by the engine onto the real node
//   real-agent   the workspace agent's parts: the S3 store, storage Jobs, the product image
//   real-test    the test command's Job, and the controller's chart, on the real node
//   e2e          the bundled Action as GitHub runs it, against the GitHub stand-in
// Streams of ground tests, balanced by their run time: the wave ends with its
// longest stream, which integration was with ground.test.ts (50 s) in it
// (437 s, while this one ended at 309 s; CI 2026-11-26).
const GROUND = [
  "test/integration/ground.test.ts",
  "test/integration/ground-real-node.test.ts",
  "test/integration/ground-ingress.test.ts",
  "test/integration/ground-images.test.ts",
  "test/integration/odoo-standin.test.ts",
];
// The test command's Job, and the controller's chart (its own stream: in
// real-agent it made that project the wave's last by ~50 s, CI 2026-11-26).
const REAL_TEST = ["test/integration/odoo-test-job.test.ts", "test/integration/sandbox-controller-chart.test.ts"];
const REAL_CHART = [
  "test/integration/chart-real-pods.test.ts",
  "test/integration/chart-hardening.test.ts",
  "test/integration/chart-pgadmin.test.ts",
];
// The workspace agent: the S3 store, the storage Jobs, the product image, the agent, its chart and its
// Docker runtime.
const REAL_AGENT = [
  "test/integration/ground-s3.test.ts",
  "test/integration/storage-job.test.ts",
  "test/integration/sandbox-image.test.ts",
  "test/integration/agent-real-node.test.ts",
  "test/integration/workspace-agent-chart.test.ts",
  // The agent's Docker Engine API runtime on the ground's podman: its containers really run.
  "test/integration/agent-contract-docker.test.ts",
  "test/integration/agent-docker.test.ts",
];
const SERVICES = ["test/integration/controller-*.test.ts", "test/integration/agent-contract.test.ts"];
const onTheGround = { globalSetup: ["test/ground/global-setup.ts"], fileParallelism: false, testTimeout: 300_000, hookTimeout: 600_000 };

export default defineConfig({
  test: {
    projects: [
      // 60 s, not vitest's 5 s: some units run helm, and beside five ground
      // projects on 2 cores one `helm template` took over 5 s (CI, 2026-11-26).
      // isolate: false: the files share one module graph per worker instead of
      // importing src/ afresh each (no unit mocks modules or mutates
      // process.env); measured 64 -> 42 s of CPU for the project (2026-11-26).
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 60_000, isolate: false } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          exclude: [...SERVICES, ...GROUND, ...REAL_CHART, ...REAL_AGENT, ...REAL_TEST],
          ...onTheGround,
        },
      },
      { test: { name: "services", include: SERVICES, ...onTheGround } },
      { test: { name: "ground", include: GROUND, ...onTheGround } },
      { test: { name: "real-chart", include: REAL_CHART, ...onTheGround } },
      { test: { name: "real-agent", include: REAL_AGENT, ...onTheGround } },
      { test: { name: "real-test", include: REAL_TEST, ...onTheGround } },
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], ...onTheGround } },
    ],
  },
});
