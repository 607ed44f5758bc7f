#!/usr/bin/env bash
# Fails when dist/ is not what `npm run bundle` makes from the current source:
# a stale bundle would ship old code to every user of the Action.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node scripts/bundle.mjs "$tmp/dist"
if ! diff -r -q dist "$tmp/dist" >/dev/null 2>&1; then
  echo "dist/ is stale: run 'npm run bundle' and commit dist/" >&2
  diff -r -q dist "$tmp/dist" >&2 || true
  exit 1
fi
echo "dist/ is up to date" >&2
