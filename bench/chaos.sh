#!/usr/bin/env bash
# Chaos run: the whole pipeline under a real supervisord (a config generated in a temp dir:
# fakefarm (in as many processes as the open-file limit needs), discover, 2 collectors, store
# on SQLite, push, control, and chaos_receiver as the push receiver), 10,000 fake miners of
# which 20 % are faulty (slow, silent, reset, garbage, broken, huge, flapping). While it runs:
# kill -9 discover, one collector, store, push and control in turn; SIGSTOP one collector for a
# while; stop the receiver for a while; then a quiet tail. Prints a table (records expected / published / stored / pushed, losses and
# where, restarts, poll->stored latency, peak RSS) and checks the targets:
#   push loses 0          every record the store committed reached the receiver (unique by
#                         producer_id + seq)
#   store loses 0         no hole in any producer's seq, around the store's kill included
#                         (producers resend what it had not acknowledged), none stored twice
#   no crash loop         every program restarted exactly as often as it was killed
#   latest state right    2 intervals after the faults stop, every miner's row in `miners`
#                         is from a poll after the faults and shows what the farm serves
# Exits 1 when a target is missed. Contacts only 127.81.0.0/18 (the farm) and 127.82.0.0/16
# (receiver, control).
#
#   bench/chaos.sh            full run: 10,000 miners, 10 s interval (~6 minutes)
#   bench/chaos.sh --short    CI form: 1,000 miners, 5 s interval, short pauses (< 3 minutes)
# ASICMON_BIN (default build/bin) says where the executables are. The work directory (logs,
# database, receiver file) is kept, and its path printed, when the run fails or CHAOS_KEEP=1.
# A program that exited unexpectedly (not by our kill -9) has the last lines of its log
# before that exit printed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${ASICMON_BIN:-$PWD/build/bin}"
mode=full
case "${1:-}" in
  "") ;;
  --short) mode=short ;;
  *) echo "usage: $0 [--short]" >&2; exit 2 ;;
esac
if [ "$mode" = full ]; then
  MINERS=10000 INTERVAL=10 SPACING=20 STOP_S=20 RECEIVER_DOWN_S=60 WARMUP=35 FLAP_S=7
else
  MINERS=1000 INTERVAL=5 SPACING=8 STOP_S=5 RECEIVER_DOWN_S=10 WARMUP=15 FLAP_S=4
fi
# Sweeps every 6 intervals; a flapping miner's up/down cycle (2 x FLAP_S) does not divide
# that, so a miner down at one sweep is up at a later one and discover finds it.
POLL_TIMEOUT=5
PER_FAULT=$(( MINERS * 20 / 100 / 7 ))
# A fake farm process needs 3 open files per miner plus 512 (testing/fakefarm/farm_plan.cpp
# counts them and refuses to start on less): where the hard limit is lower than 10,000 miners
# need (20,000 is common), the farm is split into processes of adjacent addresses that each fit.
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ]; then FARMS=1; else
  per_farm=$(( (nofile - 512) / 3 ))
  [ "$per_farm" -ge 1 ] || { echo "open-file hard limit $nofile: too low for a fake farm" >&2; exit 2; }
  FARMS=$(( (MINERS + per_farm - 1) / per_farm ))
fi
RECEIVER_PORT=18080
for exe in asicmon-fakefarm asicmon-discover asicmon-collect asicmon-store asicmon-push \
           asicmon-control chaos_receiver; do
  [ -x "$BIN/$exe" ] || { echo "$BIN/$exe is missing: build first (or set ASICMON_BIN)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/asicmon-chaos.XXXXXX)
run="$work/run"
mkdir -p "$run"
conf="$work/supervisord.conf"
ctl() { supervisorctl -c "$conf" "$@"; }
sampler_pid=""
finish() {
  local rc=$?
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null
  if [ -S "$run/supervisor.sock" ]; then ctl shutdown >/dev/null 2>&1 || true; fi
  if [ -f "$run/supervisord.pid" ]; then
    local sv
    sv=$(cat "$run/supervisord.pid")
    for _ in $(seq 1 100); do kill -0 "$sv" 2>/dev/null || break; sleep 0.2; done
  fi
  if [ "${CHAOS_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap finish EXIT

# Every program inherits these (supervisord passes its environment on).
export ASICMON_BIN="$BIN" ASICMON_RUN_DIR="$run" ASICMON_DB="$work/asicmon.db"
export SUBNET=127.81.0.0/18 SCAN_INTERVAL=$INTERVAL SWEEP_INTERVAL=$(( INTERVAL * 6 ))
export POLL_TIMEOUT STATS_INTERVAL=5 LOG_LEVEL=info
export API_URL="http://127.82.0.1:$RECEIVER_PORT/ingest" PUSH_SPOOL_DIR="$work/spool"
export PUSH_RETRY_MAX=8 CONTROL_BIND=127.82.0.2:18000

# program NAME LOG COMMAND [extra lines]: one [program:] section. startretries: a program that
# dies within startsecs three times in a row is a crash loop, and supervisord gives up (FATAL).
program() {
  local name=$1 log=$2 command=$3; shift 3
  printf '[program:%s]\ncommand=%s\nautorestart=true\nstartsecs=1\nstartretries=3\n' "$name" "$command"
  printf 'stopsignal=TERM\nstopwaitsecs=15\nredirect_stderr=true\nstdout_logfile=%s/%s.log\n' "$run" "$log"
  for line in "$@"; do echo "$line"; done
  echo
}
{
  cat <<EOF
[supervisord]
nodaemon=false
logfile=$run/supervisord.log
pidfile=$run/supervisord.pid
childlogdir=$run
loglevel=info
[unix_http_server]
file=$run/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$run/supervisor.sock

EOF
  first=$(( (127 << 24) + (81 << 16) + 1 ))  # 127.81.0.1
  for (( k = 0; k < FARMS; k++ )); do
    # Farm k: its share of the miners and of each fault, from address first + its offset, its
    # machines numbered on from the farm before (each its own MAC, worker and serial).
    offset=$(( MINERS * k / FARMS )); count=$(( MINERS * (k + 1) / FARMS - offset ))
    machines=$(seq -s, "$offset" $(( offset + count - 1 )))
    per_fault=$(( PER_FAULT * (k + 1) / FARMS - PER_FAULT * k / FARMS ))
    a=$(( first + offset ))
    base="$(( a >> 24 )).$(( (a >> 16) & 255 )).$(( (a >> 8) & 255 )).$(( a & 255 ))"
    faults=""
    for kind in slow silent reset garbage broken huge flapping; do faults+=" --fault $kind=$per_fault"; done
    program "fakefarm-$k" "fakefarm-$k" "$BIN/asicmon-fakefarm --base $base --count $count --machines $machines --seed 7 $faults --slow-ms 2500 --huge-bytes 8388608 --flap-period-s $FLAP_S --manifest $work/manifest-$k.jsonl" priority=1
  done
  program receiver receiver "$BIN/chaos_receiver --ip 127.82.0.1 --port $RECEIVER_PORT --out $work/received.txt" priority=1
  program store store "$BIN/asicmon-store" priority=10
  program collect '%(program_name)s-%(process_num)d' "$BIN/asicmon-collect" \
    'process_name=%(program_name)s-%(process_num)d' numprocs=2 priority=20
  # Started once the farm listens: a first sweep over a farm still binding would find part of it.
  program discover discover "$BIN/asicmon-discover" priority=30 autostart=false
  program push push "$BIN/asicmon-push" priority=40
  program control control "$BIN/asicmon-control" priority=40
} >"$conf"

now() { date +%s.%N; }
query() {  # query SQL: rows of the store's database, space separated (Python's sqlite3, no CLI needed)
  python3 -c 'import sys, sqlite3
for row in sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute(sys.argv[2]):
    print(*row)' "$ASICMON_DB" "$1"
}
say() { printf '%6.1f s  %s\n' "$(echo "$(now) - $t0" | bc)" "$*"; }
t0=$(now)
supervisord -c "$conf"
for (( k = 0; k < FARMS; k++ )); do
  for _ in $(seq 1 600); do grep -q READY "$run/fakefarm-$k.log" 2>/dev/null && break; sleep 0.1; done
  grep -q READY "$run/fakefarm-$k.log" || { echo "the fake farm did not start" >&2; cat "$run/fakefarm-$k.log" >&2; exit 1; }
done
ctl start discover >/dev/null
say "$mode run: $MINERS miners ($PER_FAULT each slow/silent/reset/garbage/broken/huge/flapping) in $FARMS fake farm process(es), polled every $INTERVAL s"

# Peak RSS: every second, each program's VmHWM (the peak of that process so far).
sv_pid=$(cat "$run/supervisord.pid")
(
  while kill -0 "$sv_pid" 2>/dev/null; do
    for p in $(pgrep -P "$sv_pid"); do
      exe=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -1) || continue
      hwm=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
      [ -n "$exe" ] && [ -n "$hwm" ] && echo "$(basename "$exe") $hwm"
    done
    sleep 1
  done >>"$work/rss.txt" 2>/dev/null  # a process may end between pgrep and /proc
) &
sampler_pid=$!

events="$work/events.txt"  # "<unix time> <what>" of every fault injected
mark() { echo "$(date +%s.%N) $*" >>"$events"; say "$*"; }
pid_of() { ctl pid "$1"; }

sleep "$WARMUP"
for target in discover collect:collect-0 store push control; do
  pid=$(pid_of "$target")
  kill -9 "$pid"
  mark "kill -9 $target (pid $pid)"
  sleep "$SPACING"
done
pid=$(pid_of collect:collect-1)
kill -STOP "$pid"
mark "SIGSTOP collect:collect-1 (pid $pid) for $STOP_S s"
sleep "$STOP_S"
kill -CONT "$pid"
mark "SIGCONT collect:collect-1"
sleep "$INTERVAL"
ctl stop receiver >/dev/null
mark "receiver stopped for $RECEIVER_DOWN_S s"
sleep "$RECEIVER_DOWN_S"
ctl start receiver >/dev/null
mark "receiver back: faults over"
faults_end=$(now)

# Two intervals after the faults: every miner's latest state.
sleep $(( 2 * INTERVAL ))
query "SELECT ip, status, ts FROM miners" >"$work/latest.txt"
check_at=$(now)
say "latest state of every miner taken"

# The quiet tail: stop polling, let the collectors' last polls land, let push deliver.
sleep "$INTERVAL"
ctl stop discover >/dev/null
sleep $(( POLL_TIMEOUT + 2 ))
stored_now() { query "SELECT count(*) FROM records"; }
received_now() { cut -d' ' -f1,2 "$work/received.txt" | sort -u | wc -l; }
for _ in $(seq 1 60); do
  [ "$(received_now)" -ge "$(stored_now)" ] && break
  sleep 1
done
say "polling stopped; $(stored_now) records stored, $(received_now) received"
ctl status >"$work/status.txt" || true
ctl shutdown >/dev/null
for _ in $(seq 1 150); do kill -0 "$sv_pid" 2>/dev/null || break; sleep 0.2; done
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""

python3 - "$work" "$MINERS" "$INTERVAL" "$POLL_TIMEOUT" "$faults_end" "$check_at" "$FARMS" <<'EOF'
import collections, datetime, json, os, re, sqlite3, sys

work, miners, interval, poll_timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
faults_end, check_at, farms = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
run = os.path.join(work, "run")
db = sqlite3.connect(f"file:{work}/asicmon.db?mode=ro", uri=True)
failures = []

def check(ok, what):
    if not ok:
        failures.append(what)

events = []
for line in open(os.path.join(work, "events.txt")):
    t, what = line.split(" ", 1)
    events.append((float(t), what.strip()))
kill_times = {what.split()[2]: t for t, what in events if what.startswith("kill -9")}

# Stats lines: "stats a=1 b=2 ..." ("counters ..." in collect and discover), counters since
# that process started. A run of a program
# ends where its log shows a new start (the counter `key` goes down); the last line of each
# run is summed.
def stats_runs(log, key):
    runs, last = [], None
    path = os.path.join(run, log)
    if not os.path.exists(path):
        return runs
    for line in open(path, errors="replace"):
        m = re.search(r"\b(?:stats|counters) (.*)$", line)
        if not m:
            continue
        fields = dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)
        if key not in fields:
            continue
        if last is not None and float(fields[key]) < float(last[key]):
            runs.append(last)
        last = fields
    if last is not None:
        runs.append(last)
    return runs

def stat_sum(log, key, field):
    return sum(float(r.get(field, 0)) for r in stats_runs(log, key))

# What the store committed, per producer: its seq numbers and where they are missing.
stored = db.execute("SELECT count(*) FROM records").fetchone()[0]
by_producer = collections.defaultdict(list)
for producer, seq, ts in db.execute("SELECT producer_id, seq, ts FROM records ORDER BY producer_id, seq"):
    by_producer[producer].append((seq, ts))
published = sum(rows[-1][0] for rows in by_producer.values())
duplicates_stored = sum(len(rows) - len({s for s, _ in rows}) for rows in by_producer.values())
store_kill = kill_times.get("store")
holes_at_store_kill, holes_elsewhere, hole_detail = 0, 0, []
for producer, rows in by_producer.items():
    prev_seq, prev_ts = 0, None
    for seq, ts in rows:
        missing = seq - prev_seq - 1
        if missing > 0:
            # The records around the hole were polled on either side of the store's kill:
            # they were in the store (received, not committed) when it died.
            around_kill = store_kill is not None and (prev_ts is None or prev_ts <= store_kill + 1) \
                and ts >= store_kill - 1
            if around_kill:
                holes_at_store_kill += missing
            else:
                holes_elsewhere += missing
                hole_detail.append(f"{producer} seq {prev_seq + 1}..{seq - 1} ({missing})")
        prev_seq, prev_ts = seq, ts

# Every miner once per interval from the end of discover's first sweep (its first poll) on.
first_ts, last_ts = db.execute("SELECT min(ts), max(ts) FROM records").fetchone()
expected = int(miners * round((last_ts - first_ts) / interval))

# Polls never made (no record exists, so none was lost): a gap of g between a miner's polls
# holds round(g / interval) - 1 of them, put down to the last fault injected within an
# interval of the gap's start (one that stopped the poll due next); none there is "no fault"
# (a flapping miner down at a sweep). discover's jobs_lost cannot tell these from records
# that came back late (the store down).
fault_times = sorted((t, ("stopped " + what.split()[1]) if what.startswith("SIGSTOP")
                      else ("killed " + what.split()[2]))
                     for t, what in events if what.startswith(("kill -9", "SIGSTOP")))
missed_polls = collections.Counter()
prev_poll = {}
for ip, port, ts in db.execute("SELECT ip, port, ts FROM records ORDER BY ip, port, ts"):
    before = prev_poll.get((ip, port))
    prev_poll[(ip, port)] = ts
    if before is None:
        continue
    missing = round((ts - before) / interval) - 1
    if missing <= 0:
        continue
    cause = next((what for t, what in reversed(fault_times)
                  if before - interval <= t <= before + interval), "no fault")
    missed_polls[cause] += missing

# The receiver: unique by (producer_id, seq), and resends.
received_keys = collections.Counter()
for line in open(os.path.join(work, "received.txt")):
    parts = line.split()
    if len(parts) >= 2:
        received_keys[(parts[0], int(parts[1]))] += 1
stored_keys = {(p, s) for p, rows in by_producer.items() for s, _ in rows}
pushed = len(received_keys)
resent = sum(received_keys.values()) - pushed
push_missing = len(stored_keys - set(received_keys))
push_extra = len(set(received_keys) - stored_keys)

# Restarts: supervisord's "spawned" lines per program, the first start aside.
spawned = collections.Counter()
unexpected = collections.Counter()
unexpected_exits = []  # (program, when, supervisord's words)
for line in open(os.path.join(run, "supervisord.log")):
    m = re.search(r"spawned: '([^']+)'", line)
    if m:
        spawned[m.group(1)] += 1
    m = re.search(r"exited: (\S+) \((.*)\)", line)
    if m and "not expected" in m.group(2) and "SIGKILL" not in m.group(2):
        unexpected[m.group(1)] += 1
        t = re.match(r"(\d+-\d+-\d+ \d+:\d+:\d+),(\d+) ", line)
        when = datetime.datetime.strptime(t.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + \
            int(t.group(2)) / 1000 if t else None
        unexpected_exits.append((m.group(1), when, m.group(2)))

def log_before(program, when, count=25):
    """The last `count` lines of `program`'s log written before `when` (its whole tail when the
    time is unknown); a restarted program appends to the same log."""
    path = os.path.join(run, f"{program}.log")
    if not os.path.exists(path):
        return [f"(no log {path})"]
    lines = []
    for line in open(path, errors="replace"):
        t = re.match(r"(\d+-\d+-\d+T\d+:\d+:\d+\.\d+) ", line)
        if when is not None and t and \
                datetime.datetime.strptime(t.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp() > when + 0.5:
            break
        lines.append(line.rstrip("\n"))
    return lines[-count:]
kills = collections.Counter(what.split()[2].split(":")[-1] for _, what in events if what.startswith("kill -9"))
programs = [f"fakefarm-{k}" for k in range(farms)] + ["discover", "collect-0", "collect-1", "store", "push", "control", "receiver"]
planned_starts = {"receiver": 1}  # the outage: stopped and started once

# Peak RSS per executable (all its processes, all restarts).
rss = collections.defaultdict(int)
for line in open(os.path.join(work, "rss.txt")):
    name, kb = line.split()
    rss[name] = max(rss[name], int(kb))

# Latency: the store's poll_to_stored_ms_max over the run, and over the quiet tail.
store_log = os.path.join(run, "store.log")
lat_all = lat_tail = 0.0
for line in open(store_log, errors="replace"):
    m = re.search(r"poll_to_stored_ms_max=([0-9.]+)", line)
    if not m:
        continue
    lat_all = max(lat_all, float(m.group(1)))
    t = re.match(r"(\d+-\d+-\d+T\d+:\d+:\d+\.\d+) ", line)
    if t:
        when = datetime.datetime.strptime(t.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
        if when >= faults_end + interval:
            lat_tail = max(lat_tail, float(m.group(1)))

# Gaps counted by the consumers (sums of each run's last stats line).
store_gaps = stat_sum("store.log", "records_in", "seq_gaps")
push_bus_gaps = stat_sum("push.log", "received", "bus_gaps")
push_backfilled = stat_sum("push.log", "received", "backfilled")
push_backfill_missing = stat_sum("push.log", "received", "backfill_missing")
push_dropped = stat_sum("push.log", "received", "dropped") + stat_sum("push.log", "received", "dead_lettered")
discover_jobs_lost = stat_sum("discover.log", "jobs_sent", "jobs_lost")
collect_sent = stat_sum("collect-0.log", "jobs", "sent") + stat_sum("collect-1.log", "jobs", "sent")
collect_dropped = stat_sum("collect-0.log", "jobs", "dropped") + stat_sum("collect-1.log", "jobs", "dropped")
collect_resent = stat_sum("collect-0.log", "jobs", "resent") + stat_sum("collect-1.log", "jobs", "resent")
collect_unacked_dropped = stat_sum("collect-0.log", "jobs", "unacked_dropped") + \
    stat_sum("collect-1.log", "jobs", "unacked_dropped")
store_duplicates = stat_sum("store.log", "records_in", "duplicates_dropped")
store_late = stat_sum("store.log", "records_in", "late_stored")

# Latest state against the farm's plan.
expect = {"none": {"ok"}, "slow": {"ok"}, "silent": {"timeout"}, "reset": {"reset"},
          "garbage": {"parse_error"}, "broken": {"parse_error"}, "huge": {"too_large"},
          "flapping": {"ok", "refused"}}
plan = {}
for k in range(farms):
    for line in open(os.path.join(work, f"manifest-{k}.jsonl")):
        if line.startswith("{"):
            m = json.loads(line)
            plan[m["ip"]] = m["fault"]
latest = {}
for line in open(os.path.join(work, "latest.txt")):
    ip, status, ts = line.split()
    latest[ip] = (status, float(ts))
wrong, stale, absent = [], [], []
for ip, fault in plan.items():
    if ip not in latest:
        absent.append(ip)
        continue
    status, ts = latest[ip]
    if ts < faults_end:
        stale.append(f"{ip} ({fault}) last polled {check_at - ts:.0f} s before the check")
    elif status not in expect[fault]:
        wrong.append(f"{ip} ({fault}) shows {status}")

def row(label, value, note=""):
    print(f"  {label:<44} {value:>12}  {note}")

print()
print("== records")
row("expected (miners x intervals polled)", f"{expected:,}", f"{miners} miners, {(last_ts - first_ts):.0f} s of polls")
row("published by collectors (sum of max seq)", f"{published:,}", f"collect stats: sent {collect_sent:,.0f}, dropped {collect_dropped:,.0f} + {collect_unacked_dropped:,.0f} unacked")
row("resent by collectors", f"{collect_resent:,.0f}", f"store: {store_duplicates:,.0f} duplicates dropped, {store_late:,.0f} late records stored")
row("stored (records rows)", f"{stored:,}", f"{duplicates_stored} stored twice")
row("pushed (receiver, unique producer+seq)", f"{pushed:,}", f"{resent} resent (duplicates dropped by key)")
print("== lost, and where")
row("before the store: at the store's kill -9", f"{holes_at_store_kill:,}", "seq holes around the kill time")
row("before the store: elsewhere", f"{holes_elsewhere:,}", "; ".join(hole_detail[:3]))
row("store counted (seq_gaps)", f"{store_gaps:,.0f}", "")
row("push: stored, never delivered", f"{push_missing:,}", f"{push_extra} delivered but not stored")
row("push counted: bus gaps / backfilled / missing", f"{push_bus_gaps:,.0f} / {push_backfilled:,.0f} / {push_backfill_missing:,.0f}", f"dropped or dead-lettered {push_dropped:,.0f}")
print("== polls never made (no record to lose)")
row("by the fault at the gap's start", f"{sum(missed_polls.values()):,}",
    ", ".join(f"{cause} {n:,}" for cause, n in missed_polls.most_common()) or "none")
row("discover counted: jobs_lost", f"{discover_jobs_lost:,.0f}", "no record by the miner's next job: never polled, or late")
print("== restarts (supervisord)")
for p in programs:
    row(p, str(max(0, spawned[p] - 1)), f"killed {kills[p]}" + (f", {unexpected[p]} unexpected exits" if unexpected[p] else ""))
print("== latency and memory")
row("max poll -> stored, whole run", f"{lat_all / 1000:,.1f} s", "includes the store's restart")
row("max poll -> stored, quiet tail", f"{lat_tail / 1000:,.1f} s", "")
for name in sorted(rss):
    row(f"peak RSS {name}", f"{rss[name] / 1024:,.1f} MB")
print("== latest state, 2 intervals after the faults")
row("miners right / planned", f"{len(plan) - len(wrong) - len(stale) - len(absent):,} / {len(plan):,}",
    f"{len(wrong)} wrong, {len(stale)} stale, {len(absent)} absent")
for what in (wrong + stale + absent)[:5]:
    print(f"    {what}")
for program, when, why in unexpected_exits:
    stamp = datetime.datetime.fromtimestamp(when).strftime("%H:%M:%S.%f")[:-3] if when else "?"
    print(f"== {program} exited unexpectedly at {stamp} ({why}); its log before that:")
    for line in log_before(program, when):
        print(f"    {line}")

check(push_missing == 0 and push_extra == 0, f"push lost {push_missing} stored records ({push_extra} extra)")
check(holes_at_store_kill == 0, f"{holes_at_store_kill} records lost at the store's kill")
check(holes_elsewhere == 0, f"{holes_elsewhere} records lost before the store, not at its kill")
check(duplicates_stored == 0, f"{duplicates_stored} records stored twice")
for p in programs:
    restarts = max(0, spawned[p] - 1)
    allowed = kills[p] + planned_starts.get(p, 0)
    check(restarts == allowed and unexpected[p] == 0,
          f"{p} restarted {restarts} times, killed {kills[p]} ({unexpected[p]} unexpected exits)")
check(not wrong and not stale and not absent, f"latest state: {len(wrong)} wrong, {len(stale)} stale, {len(absent)} absent")
print()
for f in failures:
    print(f"FAIL {f}")
print("PASS" if not failures else "FAIL")
sys.exit(1 if failures else 0)
EOF
