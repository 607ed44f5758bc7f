#!/usr/bin/env bash
# Builds the test ground's binaries from Go modules into a cache outside the
# repository, keyed by version. A component whose binary is already cached is
# not rebuilt, so a warm run takes a second.
#
#   test/ground/build-binaries.sh            # build what is missing
#   GROUND_CACHE=/some/dir test/ground/...   # choose the cache (default ~/.cache/k8s-dev-sandbox)
#
# Why wrapper modules: k8s.io/kubernetes and etcd's server point their sibling
# modules at local paths (./staging, ../api) with replace directives, which
# `go install mod@version` refuses. A tiny module of our own that requires them
# and replaces each sibling with its published version builds them unchanged.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${GROUND_CACHE:-$HOME/.cache/k8s-dev-sandbox}
bin_root="$cache/bin"
work="$cache/build"
mkdir -p "$bin_root" "$work"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

log() { printf '[ground-build] %s\n' "$*" >&2; }

# have DIR BIN... : true when every named binary exists in DIR
have() {
  local dir=$1; shift
  for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
}

# Installs a finished build atomically: a half-written cache entry after an
# interrupted build would otherwise look complete to the next run.
publish() {
  local tmp=$1 dest=$2
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION
  local dest="$bin_root/kubernetes-$v"
  if have "$dest" kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; then return; fi
  log "building kubernetes $v (apiserver, controller-manager, scheduler, kubectl, kubelet, kube-proxy); cold: 15-40 min on 2 cores"
  local mod="$work/kubernetes-$v" minor staging_minor
  rm -rf "$mod" && mkdir -p "$mod"
  minor=${v#v1.}; minor=${minor%%.*}
  staging_minor="v0.${v#v1.}"
  (
    cd "$mod"
    go mod init ground/kubernetes >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@$v"
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    # Every `k8s.io/x => ./staging/src/k8s.io/x` becomes `k8s.io/x => k8s.io/x v0.Y.Z`.
    grep -E '=> \./staging/' "$gomod" | awk '{print $1}' | while read -r m; do
      go mod edit -replace="$m=$m@$staging_minor"
    done
    cat > tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
EOF
    go mod tidy -e >/dev/null 2>&1 || true
    go get "k8s.io/kubernetes@$v" >/dev/null 2>&1 || true
    local pkg ld=""
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
      ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
    done
    mkdir -p out
    # One `go build` for all six so they share compile work. kubelet and
    # kube-proxy run the ground's real node (see docs/test-ground.md).
    go build -trimpath -ldflags "-s -w$ld" -o out/ \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl \
      k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kube-proxy
  )
  publish "$mod/out" "$dest"
  rm -rf "$mod"
}

build_etcd() {
  local v=$ETCD_VERSION
  local dest="$bin_root/etcd-$v"
  if have "$dest" etcd; then return; fi
  log "building etcd $v"
  local mod="$work/etcd-$v"
  rm -rf "$mod" && mkdir -p "$mod"
  (
    cd "$mod"
    go mod init ground/etcd >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@$v" >/dev/null
    mkdir -p out
    go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$v" -o out/etcd go.etcd.io/etcd/server/v3
  )
  publish "$mod/out" "$dest"
  rm -rf "$mod"
}

# go_mod_directives GOMOD KIND: the `replace` or `exclude` directives of a
# go.mod, one per line without the keyword, in single-line or block form.
go_mod_directives() {
  awk -v kind="$2" '
    { sub(/[ \t]*\/\/.*$/, "") }
    $0 == kind " (" { block = 1; next }
    block && $0 == ")" { block = 0; next }
    block && NF { sub(/^[ \t]+/, ""); print; next }
    $1 == kind && $2 != "(" { sub("^" kind "[ \t]+", ""); print }
  ' "$1"
}

# Traefik's go.mod replaces three modules, one with a directory of its own
# repository, and it imports module versions the Go module proxy reachable
# here refuses. The wrapper repeats its replace and exclude directives (they
# apply only in the main module) and fills each gap with a stand-in from
# test/ground/traefik/ (each file says what it is and what it gives up).
build_traefik() {
  local v=$TRAEFIK_VERSION
  local dest="$bin_root/traefik-$v"
  if have "$dest" traefik; then return; fi
  log "building traefik $v"
  local mod="$work/traefik-$v" standins="$here/traefik"
  rm -rf "$mod" && mkdir -p "$mod"
  (
    cd "$mod"
    go mod init ground/traefik >/dev/null 2>&1
    go mod edit -require="github.com/traefik/traefik/v3@$v"
    local gomod line old new
    gomod=$(go mod download -json "github.com/traefik/traefik/v3@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    while read -r line; do
      old=$(echo "${line%%=>*}" | xargs); new=$(echo "${line#*=>}" | xargs)
      case "$new" in
        ./* | ../*) ;; # inside Traefik's repository: in no module zip
        *) if go mod download "${new// /@}" >/dev/null 2>&1; then go mod edit -replace="${old// /@}=${new// /@}"; continue; fi ;;
      esac
      local standin="$standins/${old##*/}"
      [ -f "$standin/go.mod" ] || { log "traefik $v: no version of $new for $old and no stand-in"; exit 1; }
      log "traefik $v: $old from the stand-in $standin ($new is not to be had here)"
      # Copied in, so the binary's build info names ./dir, not this checkout.
      cp -r "$standin" "standin-${old##*/}"
      go mod edit -replace="${old%% *}=./standin-${old##*/}"
    done < <(go_mod_directives "$gomod" replace)
    while read -r line; do go mod edit -exclude="${line// /@}"; done < <(go_mod_directives "$gomod" exclude)
    # lego with its DNS provider list emptied (see lego-dns-providers.go): a
    # copy of the module as downloaded and verified, one file swapped.
    local lego
    lego=$(go mod download -json "$(go list -mod=mod -m -f '{{.Path}}@{{.Version}}' github.com/go-acme/lego/v5)" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    cp -r "$lego" lego && chmod -R u+w lego
    cp "$standins/lego-dns-providers.go" lego/providers/dns/zz_gen_dns_providers.go
    go mod edit -replace=github.com/go-acme/lego/v5=./lego
    # -mod=mod lets the build record what it needs in go.sum; every module it
    # downloads is checked against the Go checksum database.
    mkdir -p out
    go build -mod=mod -trimpath -o out/traefik \
      -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$v -X github.com/traefik/traefik/v3/pkg/version.BuildDate=$build_date" \
      github.com/traefik/traefik/v3/cmd/traefik
  )
  publish "$mod/out" "$dest"
  rm -rf "$mod"
}

# SeaweedFS's go.mod has one replace directive (go-bip39 with a published
# fork), which `go install mod@version` refuses; the wrapper repeats it. The
# default build (no tags) leaves out the optional filer stores (rocksdb, tikv,
# ydb, ...), which is the smallest build the module offers.
build_seaweedfs() {
  local v=$SEAWEEDFS_VERSION
  local dest="$bin_root/seaweedfs-$v"
  if have "$dest" weed; then return; fi
  log "building seaweedfs $v (weed); cold: about 10 min on 2 cores"
  local mod="$work/seaweedfs-$v"
  rm -rf "$mod" && mkdir -p "$mod"
  (
    cd "$mod"
    go mod init ground/seaweedfs >/dev/null 2>&1
    go mod edit -require="github.com/seaweedfs/seaweedfs@$v"
    local gomod line old new
    gomod=$(go mod download -json "github.com/seaweedfs/seaweedfs@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    while read -r line; do
      old=$(echo "${line%%=>*}" | xargs); new=$(echo "${line#*=>}" | xargs)
      go mod edit -replace="${old// /@}=${new// /@}"
    done < <(go_mod_directives "$gomod" replace)
    while read -r line; do go mod edit -exclude="${line// /@}"; done < <(go_mod_directives "$gomod" exclude)
    mkdir -p out
    go build -mod=mod -trimpath -ldflags "-s -w" -o out/weed github.com/seaweedfs/seaweedfs/weed
  )
  publish "$mod/out" "$dest"
  rm -rf "$mod"
}

# go_install NAME MODULE_PATH VERSION LDFLAGS: a module without replace
# directives installs directly.
go_install() {
  local name=$1 pkg=$2 v=$3 ld=$4 dest="$bin_root/$1-$3"
  if have "$dest" "$name"; then return; fi
  log "building $name $v"
  local tmp="$work/$name-$v"
  rm -rf "$tmp" && mkdir -p "$tmp"
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ld" "$pkg@$v"
  publish "$tmp" "$dest"
}

what=${1:-all}
case "$what" in
  etcd) build_etcd ;;
  kubernetes) build_kubernetes ;;
  coredns) go_install coredns github.com/coredns/coredns "$COREDNS_VERSION" "" ;;
  # Firewall-only: it enforces NetworkPolicy on the bridge CNI; routing and
  # the service proxy are kube-proxy's and the bridge's.
  kube-router) go_install kube-router github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "$KUBE_ROUTER_VERSION" "" ;;
  # The ingress controller K3s runs; test/ground/ingress.ts deploys it.
  traefik) build_traefik ;;
  # The S3 store of the workspace agent's archives; test/ground/s3.ts runs it.
  seaweedfs) build_seaweedfs ;;
  kwok) go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" ;;
  helm) go_install helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION" "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" ;;
  helm3)
    # helm 3 and 4 share the binary name; keep them apart by directory.
    go_install helm helm.sh/helm/v3/cmd/helm "$HELM3_VERSION" "-X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION"
    ;;
  all)
    # Small ones first, so a person waiting gets helm/kwok/etcd in minutes.
    "$0" helm; "$0" helm3; "$0" kwok; "$0" etcd; "$0" coredns; "$0" kube-router; "$0" traefik; "$0" seaweedfs; "$0" kubernetes
    ;;
  *) echo "usage: $0 [all|etcd|kubernetes|kwok|helm|helm3|coredns|kube-router|traefik|seaweedfs]" >&2; exit 2 ;;
esac
