#!/bin/bash
# Runs a command from an image's root file system roughly the way a pod with
# the chart's security context would, so the images can be checked before a
# real node runs them (test/integration/ground-images.test.ts):
#   read-only root, writable mounts only where the chart puts volumes, a
#   non-root uid/gid with no capabilities, its own PID namespace (the command
#   is PID 1), its own network namespace (only loopback, plus 192.0.2.10 as a
#   "pod IP" that is not loopback), /dev/shm as a small tmpfs.
# Not a container runtime: no cgroups, no seccomp, the host's /dev.
#
# Run by the test as root inside `unshare --mount --net --pid --fork`:
#   run-like-pod.sh ROOTFS UID:GID WORKDIR MOUNTS ENVFILE -- COMMAND...
# ROOTFS is a writable copy (a buildah container's mount): mount points are
# created in it. MOUNTS is a ;-separated list of kind|source|target with kind
# tmpfs (source: mode), bind or robind (source: a host path). ENVFILE holds
# the environment, one NAME=value a line.
set -euo pipefail
rootfs=$1 user=$2 workdir=$3 mounts=$4 envfile=$5
shift 5
[[ ${1:-} == -- ]] && shift

# Targets resolve inside the image, as a runtime resolves them: /var/run is a
# symlink to /run there, and must not lead to the host's /run.
inside() {
  if [[ -x $rootfs/usr/bin/readlink ]]; then chroot "$rootfs" /usr/bin/readlink -m "$1"; else printf '%s\n' "$1"; fi
}
IFS=';' read -r -a wanted <<<"$mounts"
resolved=()
for spec in "${wanted[@]}"; do
  [[ -n $spec ]] || continue
  IFS='|' read -r kind source target <<<"$spec"
  target=$(inside "$target")
  if [[ $kind != tmpfs && -f $source ]]; then
    mkdir -p "$rootfs$(dirname "$target")"
    [[ -e $rootfs$target ]] || : >"$rootfs$target"
  else
    mkdir -p "$rootfs$target"
  fi
  resolved+=("$kind|$source|$target")
done
mkdir -p "$rootfs/proc" "$rootfs/dev"

# The root is the copy itself, bound onto itself read-only: in this private
# mount namespace only, so nothing is left behind when it ends.
view=$rootfs
mount --make-rprivate /
mount --bind "$rootfs" "$view"
mount -o remount,bind,ro "$view"
mount -t proc proc "$view/proc"
mount --rbind /dev "$view/dev"
mount -t tmpfs -o mode=1777,size=64m shm "$view/dev/shm"
for spec in "${resolved[@]}"; do
  IFS='|' read -r kind source target <<<"$spec"
  case $kind in
  tmpfs) mount -t tmpfs -o "mode=${source:-1777}" tmpfs "$view$target" ;;
  bind) mount --bind "$source" "$view$target" ;;
  robind)
    mount --bind "$source" "$view$target"
    mount -o remount,bind,ro "$view$target"
    ;;
  *) echo "run-like-pod: unknown mount kind $kind" >&2 && exit 2 ;;
  esac
done

ip link set lo up
ip addr add 192.0.2.10/32 dev lo

mapfile -t environment <"$envfile"
if [[ -n $workdir && $workdir != / ]]; then
  set -- /usr/bin/env -C "$workdir" "$@"
fi
# chroot switches to the numeric uid/gid after entering the root: a non-root
# process keeps no capabilities.
exec env -i "${environment[@]}" /usr/sbin/chroot --userspec="$user" --groups="${user#*:}" "$view" "$@"
