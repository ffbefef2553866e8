#!/usr/bin/env bash
# A burst across processes: two instrumented services, `a` calling `b` once
# per request, each its own process carrying the run's token;
# `filibuster test --only-initial-execution` serves the protocol and runs
# `load-burst fire N` (N concurrent requests to `a`); `load-burst count` then
# prints the records lost out of the records expected (3 per call). Repeated
# RUNS times; exits non-zero if any run lost a record.
#
#   scripts/load-burst.sh [debug|release] [RUNS] [N]     # default: debug 10 3000
#
# Ports BASE_PORT+1..+3 (default 15000) on 127.0.0.1; KEEP=1 keeps the logs.
set -euo pipefail
profile=${1:-debug}
runs=${2:-10}
n=${3:-3000}
base=${BASE_PORT:-15000}
cd "$(dirname "$0")/.."

flag=()
[ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" --bin filibuster --examples
bin=target/$profile
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

token=load-$$
filibuster_url="http://127.0.0.1:$((base + 3))/run/$token"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

start() { # name args...
  local name=$1
  shift
  env FILIBUSTER_ENABLED=1 FILIBUSTER_URL="$filibuster_url" RUST_LOG=error \
    "$bin/examples/load-burst" "$name" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
start b $((base + 2))
start a $((base + 1)) "http://127.0.0.1:$((base + 2))"
sleep 1

failed=0
for run in $(seq 1 "$runs"); do
  report="$work/report-$run.json"
  if ! "$bin/filibuster" test \
      --listen "127.0.0.1:$((base + 3))" --token "$token" --only-initial-execution --grace 10 --report-file "$report" \
      --functional-test "$bin/examples/load-burst fire $n http://127.0.0.1:$((base + 1))" >"$work/run-$run.log" 2>&1; then
    echo "run $run: filibuster test failed:"
    tail -n 20 "$work/run-$run.log"
  fi
  printf 'run %s (%s, %s requests): ' "$run" "$profile" "$n"
  "$bin/examples/load-burst" count "$report" "$n" || failed=$((failed + 1))
done
echo "$failed of $runs runs lost records"
[ "$failed" -eq 0 ]
