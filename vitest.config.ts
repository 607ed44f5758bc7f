import { defineConfig } from "vitest/config";

// Tests on the ground run one file at a time within a project (they share one
// cluster and its CPU), but the four ground projects run beside each other:
// most of their time is spent waiting on the cluster, and the warm CI run
// must stay under 10 minutes on 2 cores. Each starts the ground through the
// global setup, which is idempotent and serialized by a lock (ground.ts).
//   unit         pure, parallel
//   integration  the engine, the chart and the ground at the API level (kwok's node)
//   real-pods    whatever must really run: the real node, its images, the ingress,
//                the Odoo stand-in and the test Job
//   real-chart   the chart deployed by the engine onto the real node
//   e2e          the bundled Action as GitHub runs it, against the GitHub stand-in
// Two streams of real-pod tests, balanced by their run time (about 4-5 min each).
const REAL_GROUND = [
  "test/integration/ground-real-node.test.ts",
  "test/integration/ground-ingress.test.ts",
  "test/integration/ground-images.test.ts",
  "test/integration/odoo-standin.test.ts",
  "test/integration/odoo-test-job.test.ts",
  "test/integration/agent-real-node.test.ts",
];
const REAL_CHART = ["test/integration/chart-real-pods.test.ts", "test/integration/chart-hardening.test.ts"];
const onTheGround = { globalSetup: ["test/ground/global-setup.ts"], fileParallelism: false, testTimeout: 300_000, hookTimeout: 600_000 };

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        test: { name: "integration", include: ["test/integration/**/*.test.ts"], exclude: [...REAL_GROUND, ...REAL_CHART], ...onTheGround },
      },
      { test: { name: "real-pods", include: REAL_GROUND, ...onTheGround } },
      { test: { name: "real-chart", include: REAL_CHART, ...onTheGround } },
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], ...onTheGround } },
    ],
  },
});
