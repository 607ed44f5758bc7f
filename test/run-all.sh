#!/usr/bin/env bash
# `npm test`: everything a change must pass, from a clean clone. Installs what
# it needs (npm packages, Debian packages, the test ground's binaries, Node
# 24), checks types, lint and the action bundle, then runs the whole suite
# under Node 24 (the Action's runtime) and, under this machine's Node (the
# CLI's runtime for many developers), the tests whose outcome can depend on
# Node: the unit tests and the engine on the ground. The ground's own proofs,
# the chart tests (helm, kubectl, buildah, nginx) and the bundled Action
# (Node 24 only) do not change with the Node running vitest; running them
# twice would cost 2.5 min of a warm CI's 10.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n[test] %s\n' "$*" >&2; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund
fi
step "Debian packages and test-ground binaries"
bash test/ground/install-packages.sh
bash test/ground/build-binaries.sh
node24=$(bash test/node24.sh)

step "typecheck, lint, bundle freshness"
npx tsc --noEmit -p .
npx biome check .
bash scripts/check-dist.sh

step "all tests under Node $("$node24" --version) (the Action's runtime)"
"$node24" node_modules/vitest/vitest.mjs run
step "unit tests and the engine on the ground under Node $(node --version)"
node node_modules/vitest/vitest.mjs run test/unit test/integration/engine-drills.test.ts \
  test/integration/engine-redeploy.test.ts test/integration/access.test.ts

step "done in $(( $(date +%s) - start ))s"
