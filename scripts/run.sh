#!/usr/bin/env bash
# Runs the whole asicmon pipeline in the foreground under supervisord; Ctrl-C stops everything.
# From a fresh clone it installs the Debian packages and builds first (once).
#
#   scripts/run.sh                      demo: a fake farm on 127.20.0.0/24, watched by the pipeline
#   SUBNET=10.1.0.0/22 scripts/run.sh   watch a real network
#
# Everything else comes from the environment (see README: SCAN_INTERVAL, ENABLE_DB, ASICMON_DB, ...).
# Logs: run/*.log. Watch the bus: build/bin/asicmon-tap | jq
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export ASICMON_BIN="${ASICMON_BIN:-$root/build/bin}"
needed=(asicmon-store asicmon-collect asicmon-discover asicmon-control asicmon-push asicmon-alert
        asicmon-fakefarm)
missing=0
for exe in "${needed[@]}"; do [ -x "$ASICMON_BIN/$exe" ] || missing=1; done
if [ $missing -eq 1 ]; then
  echo "run: building asicmon first (one time)"
  scripts/deps.sh
  generator=()
  if [ ! -f build/CMakeCache.txt ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DASICMON_BUILD_TESTS=OFF
  cmake --build build -j"$(nproc)"
fi
command -v supervisord >/dev/null || scripts/deps.sh

export ASICMON_RUN_DIR="${ASICMON_RUN_DIR:-$root/run}"
export ASICMON_DB="${ASICMON_DB:-$root/data/asicmon.db}"
export PUSH_SPOOL_DIR="${PUSH_SPOOL_DIR:-$root/data/push-spool}"  # used once API_URL is set
mkdir -p "$ASICMON_RUN_DIR" "$(dirname "$ASICMON_DB")"

farm_pids=()
cleanup() {
  for pid in "${farm_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

if [ -z "${SUBNET:-}" ]; then
  echo "run: SUBNET is not set, so this is the DEMO: a fake farm of 50 miners on 127.20.0.1-50"
  echo "run: (a few slow, one silent, one dead board). Set SUBNET to watch a real network."
  "$ASICMON_BIN/asicmon-fakefarm" --base 127.20.0.1 --count 50 --fault slow=3 --fault silent=1 \
    --fault deadboard=1 --fault flapping=1 --http-port 8080 --action-log "$ASICMON_RUN_DIR/fakefarm-actions.jsonl" \
    2>"$ASICMON_RUN_DIR/fakefarm.log" >"$ASICMON_RUN_DIR/fakefarm.out" &
  farm_pids+=($!)
  # The families whose API is HTTP, beside it: ePIC on 4028 and, where the demo may bind port 80
  # (root), a Bitaxe's AxeOS there; their own farm, as the big one's web port is stock firmware's.
  # Machines 50 and 51: other MACs and workers than the big farm's 0-49.
  http_farm=(--count 1 --models epic-s19xp --machines 50)
  if [ "$(id -u)" -eq 0 ]; then http_farm=(--count 2 --models epic-s19xp,bitaxe-supra --machines 50,51); fi
  "$ASICMON_BIN/asicmon-fakefarm" --base 127.20.0.51 "${http_farm[@]}" \
    2>"$ASICMON_RUN_DIR/fakefarm-http.log" >"$ASICMON_RUN_DIR/fakefarm-http.out" &
  farm_pids+=($!)
  for out in fakefarm.out fakefarm-http.out; do
    for _ in $(seq 1 100); do grep -q READY "$ASICMON_RUN_DIR/$out" 2>/dev/null && break; sleep 0.1; done
  done
  export SUBNET=127.20.0.0/24
  export DISCOVER_PORTS="${DISCOVER_PORTS:-4028,4433,80}"  # 80: the Bitaxe's only API
  export SCAN_INTERVAL="${SCAN_INTERVAL:-10}"
  export SWEEP_INTERVAL="${SWEEP_INTERVAL:-60}"
  export MINER_HTTP_PORT="${MINER_HTTP_PORT:-8080}"  # the fake miners' web UI (reboot, web config)
fi

echo "run: watching $SUBNET every ${SCAN_INTERVAL:-30} s; database $ASICMON_DB; logs in $ASICMON_RUN_DIR"
echo "run: see records with: $ASICMON_BIN/asicmon-tap --topic record"
echo "run: REST API on http://${CONTROL_BIND:-127.0.0.1:8000} (/miners, /metrics, /docs)$([ -z "${CONTROL_TOKEN:-}" ] && echo '; set CONTROL_TOKEN to allow commands')"
supervisord -n -c "$root/supervisord.conf" &
sup_pid=$!
trap 'kill -TERM $sup_pid 2>/dev/null || true' INT TERM
wait $sup_pid || true
wait $sup_pid 2>/dev/null || true
