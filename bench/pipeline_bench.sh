#!/usr/bin/env bash
# Pipeline benchmark: real processes over asicmon-fakefarm on loopback. Prints figures;
# asserts nothing. Takes about 5 minutes. Only 127.50.0.0/16 and 127.60.0.0/18 are contacted.
#
#   bench/pipeline_bench.sh            (after a Release build in build/)
#   MINERS=10000 INTERVAL=30 WINDOW=90 SATURATION_S=20 bench/pipeline_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${ASICMON_BIN:-$PWD/build/bin}"
MINERS="${MINERS:-10000}"
INTERVAL="${INTERVAL:-30}"
WINDOW="${WINDOW:-90}"
SATURATION_S="${SATURATION_S:-20}"
TCK=$(getconf CLK_TCK)

work=$(mktemp -d)
export ASICMON_RUN_DIR="$work/run" ASICMON_DB="$work/asicmon.db" LOG_LEVEL=warn
. bench/processes.sh

echo "== 1. sweep of a /16 on loopback with 1,000 live fake miners"
start farm16 "$BIN/asicmon-fakefarm" --base 127.50.0.1 --count 1000
wait_ready farm16
t0=$(date +%s.%N)
"$BIN/asicmon-discover" --subnet 127.50.0.0/16 --once --json >"$work/found.jsonl" 2>"$work/sweep.err"
t1=$(date +%s.%N)
echo "swept 65534 addresses, found $(wc -l <"$work/found.jsonl") miners in $(echo "$t1 - $t0" | bc -l | xargs printf '%.2f') s"
kill "$PID_farm16"

echo "== 2. steady state: $MINERS fake miners polled every $INTERVAL s (one collect worker), ${WINDOW} s window"
mkdir -p "$ASICMON_RUN_DIR"
start farm "$BIN/asicmon-fakefarm" --base 127.60.0.1 --count "$MINERS"
wait_ready farm
start store "$BIN/asicmon-store"
start collect "$BIN/asicmon-collect"
SUBNET=127.60.0.0/18 SCAN_INTERVAL="$INTERVAL" SWEEP_INTERVAL=3600 start discover "$BIN/asicmon-discover"
sleep $((INTERVAL + 10))   # first sweep and a full interval of polls
declare -A before
for s in farm store collect discover; do p="PID_$s"; before[$s]=$(ticks "${!p}"); done
"$BIN/bus_latency" --seconds "$WINDOW"
for s in discover collect store farm; do
  p="PID_$s"
  used=$(( $(ticks "${!p}") - ${before[$s]} ))
  printf '%-9s %5.1f %% of one core   peak RSS %s MB\n' "$s" "$(echo "100 * $used / $TCK / $WINDOW" | bc -l)" "$(peak_rss_mb "${!p}")"
done

echo "== 3. one collect worker at saturation (every miner due every second)"
kill "$PID_discover"; wait "$PID_discover" 2>/dev/null || true
SUBNET=127.60.0.0/18 SCAN_INTERVAL=1 SWEEP_INTERVAL=3600 start discover "$BIN/asicmon-discover"
sleep 8
c0=$(ticks "$PID_collect")
out=$("$BIN/bus_latency" --seconds "$SATURATION_S")
c1=$(ticks "$PID_collect")
echo "$out"
records=$(echo "$out" | sed -n 's/^records \([0-9]*\) .*/\1/p')
echo "collect: $(echo "$records / $SATURATION_S" | bc) polls/s, $(echo "($c1 - $c0) / $TCK * 1000000 / $records" | bc -l | xargs printf '%.0f') us CPU per poll, peak RSS $(peak_rss_mb "$PID_collect") MB"

echo "== 4. asicmon-store alone: records/s into SQLite (ingest -> commit -> publish)"
kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=()
"$BIN/ingest_bench" --records "${INGEST_RECORDS:-300000}" --dir "$work/ingest"
