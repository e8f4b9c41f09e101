#!/usr/bin/env bash
# Curtailment benchmark: 1,000 fake Antminers that sleep (S17 Pro, S19 Pro, S19j Pro on
# 127.66.0.0/22) found and polled by the real pipeline, then POST /curtail to 60 % of the
# farm's draw with max_parallel 50. Prints the time from the POST until control counts the
# farm at the target with nothing left to do, until the store's records show every slept
# miner asleep, and then from DELETE until every miner is given back; with asicmon-control's
# CPU and memory meanwhile. Prints figures; asserts nothing. Only 127.66.0.0/22 is contacted.
#
#   bench/curtail_bench.sh                  (after a Release build in build/)
#   MINERS=1000 PARALLEL=50 bench/curtail_bench.sh
set -euo pipefail
export no_proxy='*' NO_PROXY='*'  # curl asks control on loopback: never through a proxy
cd "$(dirname "$0")/.."
BIN="${ASICMON_BIN:-$PWD/build/bin}"
MINERS="${MINERS:-1000}"
PARALLEL="${PARALLEL:-50}"
TOKEN=bench-token
TCK=$(getconf CLK_TCK)
if [ "$MINERS" -gt 1000 ]; then echo "at most 1000 miners (127.66.0.0/22)" >&2; exit 2; fi

work=$(mktemp -d)
. bench/processes.sh
export ASICMON_RUN_DIR="$work/run" ASICMON_DB="$work/asicmon.db" SUBNET=127.66.0.0/22
export SCAN_INTERVAL=5 SWEEP_INTERVAL=600 CONTROL_BIND=127.0.0.1:0 CONTROL_TOKEN=$TOKEN
export AUTO_ACTIONS=true LOG_LEVEL=warn

start farm "$BIN/asicmon-fakefarm" --base 127.66.0.1 --count "$MINERS" --http-port 8080 \
  --models s17pro,s19pro,s19jpro --restart-s 2 --wake-idle-s 2 --wake-ramp-s 5
wait_ready farm
start store "$BIN/asicmon-store"
start collect "$BIN/asicmon-collect"
start discover "$BIN/asicmon-discover"
start control "$BIN/asicmon-control" --miner-http-port 8080 --miner-back-timeout 120 \
  --curtail-interval 2
wait_ready control
url="http://127.0.0.1:$(sed -n 's/^READY //p' "$work/control.out")"
field() { curl -s "$url/curtail" | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

for _ in $(seq 1 180); do
  known=$(field 'j.get("plan", {}).get("nominal_miners", 0)')
  [ "$known" -ge "$MINERS" ] && break
  sleep 1
done
farm_kw=$(field 'j["farm_kw"]')
target_kw=$(python3 -c "print(round(0.6 * $farm_kw, 3))")
echo "== $known of $MINERS fake miners counted, farm $farm_kw kW; curtail to $target_kw kW" \
     "(60 %), max_parallel $PARALLEL"

rss_peak=0
sample_rss() { local r; r=$(awk '/VmRSS/ {print $2}' "/proc/$PID_control/status"); [ "$r" -gt "$rss_peak" ] && rss_peak=$r || true; }
report() {  # report LABEL T0 T1 C0 C1
  awk -v l="$1" -v t0="$2" -v t1="$3" -v c="$(($5 - $4))" -v tck="$TCK" -v rss="$rss_peak" 'BEGIN {
    wall = t1 - t0;
    printf "%-34s %.1f s; control CPU %.1f s (%.0f %% of a core), RSS peak %.1f MB\n",
      l, wall, c / tck, 100 * c / tck / wall, rss / 1024 }'
}

c0=$(ticks "$PID_control")
t0=$(date +%s.%N)
curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"target_kw\":$target_kw,\"strategy\":\"least-efficient-first\",\"max_parallel\":$PARALLEL}" \
  "$url/curtail"
while [ "$(field 'j.get("at_target", False) and not j["plan"]["steps"]')" != True ]; do
  sample_rss; sleep 0.2
done
t1=$(date +%s.%N); c1=$(ticks "$PID_control")
report "POST -> control counts target" "$t0" "$t1" "$c0" "$c1"
held=$(field 'j["held"]')
echo "   $held miners held; farm $(field 'round(j["farm_kw"], 1)') kW, shed $(field 'round(j["shed_kw"], 1)') kW"
held_ips=$(field '" ".join(m["ip"] for m in j["miners"] if m["state"] == "held")')
while :; do
  asleep=$(curl -s "$url/farm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sleeping"])')
  [ "$asleep" -ge "$held" ] && break
  sample_rss; sleep 0.5
done
t2=$(date +%s.%N); c2=$(ticks "$PID_control")
report "POST -> store shows all asleep" "$t0" "$t2" "$c0" "$c2"

c3=$(ticks "$PID_control")
t3=$(date +%s.%N)
curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" "$url/curtail"
while [ "$(field 'j["state"]')" != idle ]; do sample_rss; sleep 0.2; done
t4=$(date +%s.%N); c4=$(ticks "$PID_control")
report "DELETE -> every miner given back" "$t3" "$t4" "$c3" "$c4"
echo "   restored: $(field 'sum(m["state"] == "restored" for m in j["miners"])') of $held" \
     "(held ips: $(echo $held_ips | wc -w))"
echo "control peak RSS over the run: $(peak_rss_mb "$PID_control") MB"
