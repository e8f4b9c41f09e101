#!/usr/bin/env bash
# Bulk action benchmark: 1,000 fake miners (127.63.0.0/22) found and polled by the real
# pipeline, then one POST /actions reboot over all of them with max_parallel 50, once
# without waiting (reboot.cgi taken) and once with params.wait (each miner back with a fresh
# uptime). Prints the job's wall time, miners/s, and asicmon-control's CPU and memory
# meanwhile. Prints figures; asserts nothing. Only 127.63.0.0/22 is contacted.
#
#   bench/bulk_bench.sh                     (after a Release build in build/)
#   MINERS=1000 PARALLEL=50 REBOOT_S=5 bench/bulk_bench.sh
set -euo pipefail
export no_proxy='*' NO_PROXY='*'  # curl asks control on loopback: never through a proxy
cd "$(dirname "$0")/.."
BIN="${ASICMON_BIN:-$PWD/build/bin}"
MINERS="${MINERS:-1000}"
PARALLEL="${PARALLEL:-50}"
REBOOT_S="${REBOOT_S:-5}"
TOKEN=bench-token
TCK=$(getconf CLK_TCK)
if [ "$MINERS" -gt 1000 ]; then echo "at most 1000 miners (127.63.0.0/22)" >&2; exit 2; fi

work=$(mktemp -d)
. bench/processes.sh
export ASICMON_RUN_DIR="$work/run" ASICMON_DB="$work/asicmon.db" SUBNET=127.63.0.0/22
export SCAN_INTERVAL=10 SWEEP_INTERVAL=600 CONTROL_BIND=127.0.0.1:0 CONTROL_TOKEN=$TOKEN
export REBOOT_COOLDOWN_S=0 LOG_LEVEL=warn

start farm "$BIN/asicmon-fakefarm" --base 127.63.0.1 --count "$MINERS" --http-port 8080 \
  --reboot-s "$REBOOT_S"
wait_ready farm
start store "$BIN/asicmon-store"
start collect "$BIN/asicmon-collect"
start discover "$BIN/asicmon-discover"
start control "$BIN/asicmon-control" --miner-http-port 8080 --miner-back-timeout 120 \
  --action-threads 16
wait_ready control
url="http://127.0.0.1:$(sed -n 's/^READY //p' "$work/control.out")"

for _ in $(seq 1 120); do
  known=$(curl -s "$url/farm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["up"])')
  [ "$known" -ge "$MINERS" ] && break
  sleep 1
done
echo "== $known of $MINERS fake miners up in the store; reboot all, max_parallel $PARALLEL," \
     "fake reboot takes $REBOOT_S s"

why_failed=$(cat <<'PY'
import collections, json, sys
job = json.load(sys.stdin)
why = collections.Counter("%s %s" % (m.get("http_status"), m.get("result"))
                          for m in job["miners"] if m["state"] != "ok")
for reason, n in why.most_common(3):
    print("  %d not ok: %s" % (n, reason))
PY
)
run_job() {  # run_job PARAMS_JSON LABEL
  local params=$1 label=$2 id t0 t1 c0 c1 state body rss_peak=0 rss
  c0=$(ticks "$PID_control")
  t0=$(date +%s.%N)
  body=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"action\":\"reboot\",\"select\":{\"cidr\":\"127.63.0.0/22\"},\"params\":$params,\"max_parallel\":$PARALLEL}" \
    "$url/actions")
  id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$body")
  while :; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID_control/status")
    [ "$rss" -gt "$rss_peak" ] && rss_peak=$rss
    state=$(curl -s "$url/actions/$id" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["state"], j["counts"]["ok"], j["counts"]["failed"], j["counts"]["skipped"])')
    [ "${state%% *}" != running ] && break
    sleep 0.2
  done
  t1=$(date +%s.%N)
  c1=$(ticks "$PID_control")
  curl -s "$url/actions/$id" | python3 -c "$why_failed"

  awk -v l="$label" -v s="$state" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v tck="$TCK" \
      -v rss="$rss_peak" -v n="$MINERS" 'BEGIN {
    split(s, f, " "); wall = t1 - t0;
    printf "%-22s %s: ok %d, failed %d, skipped %d in %.1f s (%.0f miners/s); control CPU %.1f s (%.0f %% of a core), RSS peak %.1f MB\n",
      l, f[1], f[2], f[3], f[4], wall, f[2] / wall, c / tck, 100 * c / tck / wall, rss / 1024 }'
}
run_job '{}' "reboot (taken)"
sleep $((REBOOT_S + 2))
run_job '{"wait":true}' "reboot (wait back)"
echo "control peak RSS over the run: $(peak_rss_mb "$PID_control") MB"
