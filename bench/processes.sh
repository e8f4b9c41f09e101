# Sourced by the shell benches: background processes in $work, their CPU and memory.
# The sourcing script sets `work` (a directory) and may set `on_exit` (a command run at exit,
# before $work is removed).
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ${on_exit:-true}
  rm -rf "$work"
}
trap cleanup EXIT

start() {  # start NAME CMD...: runs in background, remembers the pid in PID_<NAME>
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  printf -v "PID_$name" '%s' $!
}
# Waits (up to a minute) for NAME to print READY.
wait_ready() { for _ in $(seq 1 600); do grep -q READY "$work/$1.out" 2>/dev/null && return; sleep 0.1; done; echo "$1 not ready" >&2; exit 1; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
