#!/usr/bin/env bash
# `npm run demo` from a clean clone: install what is missing, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash test/ground/install-packages.sh
exec node --import tsx scripts/demo.ts "$@"
