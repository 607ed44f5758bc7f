#!/usr/bin/env bash
# Fails when the committed dist/ is not what `npm run bundle` makes from the
# current source: a stale bundle would ship old code to every user of the Action.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/bundle.mjs dist
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "dist/ is stale: run 'npm run bundle' and commit dist/" >&2
  git status --short -- dist >&2
  exit 1
fi
echo "dist/ is up to date" >&2
