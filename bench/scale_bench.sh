#!/usr/bin/env bash
# Scale benchmark: 100,000 fake miners (several asicmon-fakefarm processes, one per
# 127.72-79.0.0/18) polled every 30 s by the real pipeline, once into SQLite and once into
# PostgreSQL (a throwaway cluster this script starts, unix socket only). For each it prints
# polls/s, rows/s stored, poll->stored latency, and every process's CPU and peak RSS.
# Prints figures; asserts nothing. Takes about 10 minutes. Only 127.72.0.0-127.79.63.255
# is contacted.
#
#   bench/scale_bench.sh                 (after a Release build in build/)
#   MINERS=100000 FARMS=8 COLLECTORS=2 INTERVAL=30 WARMUP=90 WINDOW=90 BACKENDS="sqlite postgres" bench/scale_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${ASICMON_BIN:-$PWD/build/bin}"
MINERS="${MINERS:-100000}"
FARMS="${FARMS:-8}"            # a fake farm per /18: each stays under the open-file limit
COLLECTORS="${COLLECTORS:-2}"
INTERVAL="${INTERVAL:-30}"
WINDOW="${WINDOW:-90}"
BACKENDS="${BACKENDS:-sqlite postgres}"
WARMUP="${WARMUP:-$((INTERVAL + 60))}"
TCK=$(getconf CLK_TCK)
per_farm=$(( (MINERS + FARMS - 1) / FARMS ))
if [ "$per_farm" -gt 16000 ] || [ "$FARMS" -gt 8 ]; then
  echo "at most 8 farms of 16,000 miners (127.72-79.0.0/18): raise FARMS" >&2; exit 2
fi

work=$(mktemp -d)
pg_dir="/tmp/asicmon-scale-pg-$$"  # not under $work (mode 700): the server's user must reach it
stop_cluster() { if [ -d "$pg_dir" ]; then tests/postgres_cluster.sh stop "$pg_dir" || true; fi; }
on_exit=stop_cluster
. bench/processes.sh
pg_pids() {  # the cluster's postmaster and its children (backends, writers)
  local pm
  pm=$(head -1 "$pg_dir/data/postmaster.pid")
  echo "$pm" $(pgrep -P "$pm" || true)
}
pg_ticks() {  # CPU of every process of the cluster
  local total=0 p
  for p in $(pg_pids); do total=$(( total + $(ticks "$p" 2>/dev/null || echo 0) )); done
  echo "$total"
}
pg_rss_mb() {  # resident memory of the cluster's processes now (shared buffers counted once per process)
  local p total=0
  for p in $(pg_pids); do
    total=$(( total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0) ))
  done
  awk -v kb="$total" 'BEGIN {printf "%.1f", kb/1024}'
}

subnet=""
farms=()
for f in $(seq 0 $((FARMS - 1))); do
  count=$(( f == FARMS - 1 ? MINERS - per_farm * (FARMS - 1) : per_farm ))
  start "farm$f" "$BIN/asicmon-fakefarm" --base "127.$((72 + f)).0.1" --count "$count"
  farms+=("farm$f")
  subnet+="${subnet:+,}127.$((72 + f)).0.0/18"
done
for f in "${farms[@]}"; do wait_ready "$f"; done
echo "== $MINERS fake miners in $FARMS farms ($subnet), polled every $INTERVAL s by $COLLECTORS collectors"

for backend in $BACKENDS; do
  export ASICMON_RUN_DIR="$work/run-$backend" LOG_LEVEL=warn STATS_INTERVAL=3600
  mkdir -p "$ASICMON_RUN_DIR"
  if [ "$backend" = postgres ]; then
    tests/postgres_cluster.sh start "$pg_dir" 5433 >/dev/null
    psql -q "postgresql://asicmon@/postgres?host=$pg_dir&port=5433" -c "CREATE DATABASE asicmon"
    export ASICMON_DB="postgresql://asicmon@/asicmon?host=$pg_dir&port=5433"
  else
    export ASICMON_DB="$work/asicmon.db"
  fi
  stages=(store discover)
  start store "$BIN/asicmon-store"
  for c in $(seq 1 "$COLLECTORS"); do start "collect$c" "$BIN/asicmon-collect"; stages+=("collect$c"); done
  SUBNET="$subnet" SCAN_INTERVAL="$INTERVAL" SWEEP_INTERVAL=3600 start discover "$BIN/asicmon-discover"
  # The first sweep finds and identifies every miner; then a full interval of polls.
  sleep "$WARMUP"
  declare -A before
  for s in "${stages[@]}" "${farms[@]}"; do p="PID_$s"; before[$s]=$(ticks "${!p}"); done
  if [ "$backend" = postgres ]; then pg_before=$(pg_ticks); fi
  echo "-- $backend ($ASICMON_DB), ${WINDOW} s window"
  "$BIN/bus_latency" --seconds "$WINDOW"
  for s in "${stages[@]}"; do
    p="PID_$s"
    used=$(( $(ticks "${!p}") - ${before[$s]} ))
    printf '%-10s %5.1f %% of one core   peak RSS %s MB\n' "$s" "$(echo "100 * $used / $TCK / $WINDOW" | bc -l)" "$(peak_rss_mb "${!p}")"
  done
  farm_used=0
  for f in "${farms[@]}"; do p="PID_$f"; farm_used=$(( farm_used + $(ticks "${!p}") - ${before[$f]} )); done
  printf '%-10s %5.1f %% of one core (all %s farms)\n' fakefarm "$(echo "100 * $farm_used / $TCK / $WINDOW" | bc -l)" "$FARMS"
  if [ "$backend" = postgres ]; then
    printf '%-10s %5.1f %% of one core   RSS now %s MB (all its processes)\n' postgres \
      "$(echo "100 * ($(pg_ticks) - $pg_before) / $TCK / $WINDOW" | bc -l)" "$(pg_rss_mb)"
    psql -qAt "$ASICMON_DB" -c "SELECT 'database size ' || pg_size_pretty(pg_database_size('asicmon')) || ', rows ' || (SELECT sum(n) FROM asicmon.record_counts)"
  else
    echo "database file $(du -m "$ASICMON_DB" | cut -f1) MB (+ WAL $(du -m "$ASICMON_DB-wal" 2>/dev/null | cut -f1) MB)"
  fi
  for s in "${stages[@]}"; do p="PID_$s"; kill "${!p}" 2>/dev/null || true; wait "${!p}" 2>/dev/null || true; done
  if [ "$backend" = postgres ]; then tests/postgres_cluster.sh stop "$pg_dir"; fi
done
