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

# The static checks run while the ground starts (neither needs the other);
# their verdict is awaited before any test.
step "typecheck, lint, bundle freshness, beside the test ground's start"
checks_log=$(mktemp)
( npx tsc --noEmit -p . && npx biome check . && bash scripts/check-dist.sh ) >"$checks_log" 2>&1 &
checks=$!

# One ground for the whole run: started here when it is not up, stopped
# again at the end (also on failure), so CI leaves nothing running.
if [ "${GROUND_EXTERNAL:-}" != 1 ]; then
  if ! npm run -s ground -- status >/dev/null 2>&1; then
    step "starting the test ground"
    trap 'npm run -s ground -- down || true' EXIT
    npm run -s ground -- up
  fi
  export GROUND_KEEP=1
fi
checks_status=0
wait "$checks" || checks_status=$?
cat "$checks_log"
rm -f "$checks_log"
if [ "$checks_status" -ne 0 ]; then
  step "typecheck, lint or bundle freshness failed (above)"
  exit 1
fi

# One vitest process per project, side by side. Within a ground project the
# files run one at a time (they share the cluster); across projects they
# overlap, since most of their time is waiting on the cluster. One process
# cannot do this: vitest 4.1 runs every project one worker at a time as soon
# as one of them limits its workers (measured: three 4 s files in three
# projects took 12.8 s with fileParallelism: false or maxWorkers: 1 on any
# of them, 4.5 s with no limit).
# CPU time of the whole machine, in clock ticks: busy and total (for the
# share of the two cores a wave kept busy, printed at its end).
cpu_ticks() { awk '/^cpu /{ idle=$5+$6; total=0; for (i=2;i<=NF;i++) total+=$i; print total-idle, total }' /proc/stat; }

# One wave: every project in its own vitest process under Node 24, plus the
# tests whose outcome can depend on Node under this machine's Node (the CLI's
# runtime for many developers): the units of src/ (not the charts', the
# ground's or the GitHub stand-in's, which test helm, the ground and test
# support) and one engine file on the ground. Everything else does not change
# with the Node running vitest; running it twice would double the wave's CPU.
# The wave is CPU-bound (2 cores, ~90% busy): each process's CPU seconds are
# printed with its log, to say where the next saving is.
step "all tests under Node $("$node24" --version) (the Action's runtime), one process per project, and under Node $(node --version)"
logs=$(mktemp -d)
projects=(unit integration services ground real-chart real-agent real-test e2e)
declare -A pid_of
read -r busy0 total0 < <(cpu_ticks)
ps -eo pid,cputimes --no-headers >"$logs/ps-before"
# The real node's pods and podman's containers, whole (cgroup v1 cpuacct
# counts what ended too): their processes come and go during the wave.
cgroup_seconds() { local f="/sys/fs/cgroup/cpuacct/$1/cpuacct.usage"; [ -r "$f" ] && echo $(( $(cat "$f") / 1000000000 )) || echo 0; }
pods0=$(cgroup_seconds kubepods)
podman0=$(cgroup_seconds libpod_parent)
wave0=$(date +%s)
# Each process's CPU seconds (children included) and the second of the wave it ended in.
timed() {
  local name=$1 status=0
  shift
  /usr/bin/time -f "%U %S" -o "$logs/$name.cpu" "$@" >"$logs/$name.log" 2>&1 || status=$?
  echo $(( $(date +%s) - wave0 )) >"$logs/$name.end"
  return "$status"
}
for project in "${projects[@]}"; do
  timed "$project" "$node24" node_modules/vitest/vitest.mjs run --project "$project" &
  pid_of[$project]=$!
done
timed node-system node node_modules/vitest/vitest.mjs run --project unit --project integration \
  --exclude 'test/unit/*chart*.test.ts' --exclude 'test/unit/ground-*.test.ts' --exclude 'test/unit/github-standin*.test.ts' \
  --exclude test/unit/skill.test.ts --exclude test/unit/example-workflows.test.ts \
  test/unit test/integration/engine-redeploy.test.ts &
pid_of[node-system]=$!
failed=()
passed_logs=()
for project in "${projects[@]}" node-system; do
  status=0
  wait "${pid_of[$project]}" || status=$?
  cpu=$(awk 'END { printf "%.0f", $1 + $2 }' "$logs/$project.cpu" 2>/dev/null || echo "?")
  printf '[test] ---- %s (exit %s, done at %ss, %ss of CPU) ----\n' "$project" "$status" "$(cat "$logs/$project.end" 2>/dev/null || echo "?")" "$cpu" >"$logs/$project.head"
  cat "$logs/$project.head" >&2
  if [ "$status" -eq 0 ]; then passed_logs+=("$project"); else failed+=("$project"); fi
done
read -r busy1 total1 < <(cpu_ticks)
wave_seconds=$(( $(date +%s) - wave0 ))
# The logs of the projects that passed first, of those that failed last: a
# reader who sees only the end of the output (a CI page) sees the failures.
for project in "${passed_logs[@]}" "${failed[@]}"; do
  printf '\n' >&2
  cat "$logs/$project.head" >&2
  cat "$logs/$project.log"
done
step "the wave took ${wave_seconds}s with the CPUs $(( 100 * (busy1 - busy0) / (total1 - total0) ))% busy ($(( (busy1 - busy0) / $(getconf CLK_TCK) )) CPU-s in all)"
# Most of the wave's CPU is not the test processes' own but the ground's
# (API server, etcd, kubelet, the pods): the biggest during the wave, for the
# next saving (processes that ended during the wave are not counted).
echo "[test] CPU seconds the busiest processes used during the wave:" >&2
printf '%8d %s\n' "$(( $(cgroup_seconds kubepods) - pods0 ))" "(the real node's pods, cgroup kubepods)" "$(( $(cgroup_seconds libpod_parent) - podman0 ))" "(podman's containers)" >&2
ps -eo pid,cputimes,comm --no-headers | awk 'NR==FNR { before[$1]=$2; next } { d=$2-before[$1]; if (d>0) printf "%8d %s\n", d, $3 }' "$logs/ps-before" - | sort -rn | head -12 >&2
if [ "${#failed[@]}" -gt 0 ]; then
  # Each failing project's own summary of its failures, again, at the very end.
  for project in "${failed[@]}"; do
    step "failures of $project:"
    sed -n '/Failed Tests\|FAIL /,$p' "$logs/$project.log" | grep -v '^ *$' | head -80 >&2
  done
  rm -rf "$logs"
  step "failed: ${failed[*]} (node-system: the units and the engine under Node $(node --version))"
  exit 1
fi
rm -rf "$logs"

step "done in $(( $(date +%s) - start ))s"
