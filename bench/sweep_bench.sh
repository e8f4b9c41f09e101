#!/usr/bin/env bash
# Sweep benchmark: seconds for `asicmon-discover --once --json` to sweep 127.50.0.0/16
# (65,534 addresses) with live fake miners in it. Prints figures; asserts nothing.
# Only 127.50.0.0/16 is contacted.
#
#   bench/sweep_bench.sh                 (after a Release build in build/)
#   ASICMON_BIN=build-x/bin MINERS=1000 RUNS=3 MAX_WORKERS=4096 bench/sweep_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${ASICMON_BIN:-$PWD/build/bin}"
MINERS="${MINERS:-1000}"
RUNS="${RUNS:-3}"
WORKERS="${MAX_WORKERS:-4096}"

work=$(mktemp -d)
farm_pid=""
cleanup() {
  if [[ -n "$farm_pid" ]]; then kill "$farm_pid" 2>/dev/null || true; wait "$farm_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$BIN/asicmon-fakefarm" --base 127.50.0.1 --count "$MINERS" --manifest - --log-level warn \
  >"$work/farm.out" 2>"$work/farm.err" &
farm_pid=$!
for _ in $(seq 1 300); do grep -q '^READY' "$work/farm.out" && break; sleep 0.1; done
grep -q '^READY' "$work/farm.out" || { echo "fakefarm not ready" >&2; cat "$work/farm.err" >&2; exit 1; }

echo "sweep of 127.50.0.0/16 (65534 addresses), $MINERS live fake miners, $WORKERS probes in flight"
for run in $(seq 1 "$RUNS"); do
  t0=$(date +%s.%N)
  "$BIN/asicmon-discover" --subnet 127.50.0.0/16 --once --json --max-workers "$WORKERS" \
    --log-level warn >"$work/found.jsonl" 2>"$work/sweep.err"
  t1=$(date +%s.%N)
  found=$(wc -l <"$work/found.jsonl")
  identified=$(grep -c '"identified":true' "$work/found.jsonl" || true)
  awk -v t0="$t0" -v t1="$t1" -v run="$run" -v found="$found" -v ident="$identified" \
    -v live="$MINERS" 'BEGIN {
      s = t1 - t0;
      printf "run %d: %.2f s wall, %.0f addresses/s, %d found (%d identified) of %d live\n",
             run, s, 65534 / s, found, ident, live }'
  sed -n 's/^swept/  discover: swept/p' "$work/sweep.err"
done
