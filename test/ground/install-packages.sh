#!/usr/bin/env bash
# Installs the Debian packages the test ground runs (registry, image builder,
# nginx for config checks, openssl for certificates). Idempotent and quiet
# when everything is present already.
set -euo pipefail
# The real node (docs/test-ground.md): containerd + runc (crun cannot run on
# this hybrid cgroup host), the CNI plugins, conntrack and ipset for kube-proxy
# and kube-router. debootstrap makes the root file system of the ground's images.
# chromium: the headless browser the controller's dashboard is tested in
# (driven by playwright-core; 12 s to install here). podman and netavark
# serve the Docker Engine API that the workspace agent's second runtime is
# tested against (test/ground/docker-engine.ts; 9 s to install here). The
# ground never reads /etc/containers for it. time: test/run-all.sh counts each
# test process's CPU seconds.
pkgs=(buildah docker-registry nginx-light openssl skopeo iproute2 ca-certificates postgresql perl tar
  containerd runc containernetworking-plugins conntrack ipset iptables debootstrap gcc libc6-dev python3-psycopg2
  chromium podman netavark time)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[ground] installing Debian packages: ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
# Packages like docker-registry and nginx would start their daemons on default
# ports when installed; the ground starts its own on free ports instead.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && created_policy=1
fi
trap '[ $created_policy -eq 1 ] && $SUDO rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
