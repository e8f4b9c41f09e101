#!/usr/bin/env bash
# Fuzzes every parser of hostile input with libFuzzer (README "Fuzzing").
#   scripts/fuzz.sh [seconds]    each target for that long (default 60), one per core at a time
# Builds the fuzz preset (clang, ASan+UBSan) in build-fuzz/. The corpora start
# from fuzz/corpus/, tests/data/ and generated bus messages, in a temporary
# directory: the repository is not written. Exits non-zero on any crash, leak,
# timeout or broken invariant, and says where the input that did it is.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [seconds]" >&2; exit 2 ;;
esac

scripts/deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"

bin="$PWD/build-fuzz/bin"
out="$PWD/build-fuzz/fuzz-out"  # logs, and the inputs that failed (kept between runs)
rm -rf "$out/logs"
mkdir -p "$out/logs" "$out/failures"
work="$(mktemp -d /tmp/asicmon-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT

seed() {  # seed <target> <dir>...: copy every seed file of the dirs into the target's corpus
  local target="$1"; shift
  mkdir -p "$work/$target"
  for dir in "$@"; do find "$dir" -maxdepth 1 -type f -exec cp -t "$work/$target" {} +; done
}
"$bin/fuzz_make_seeds" "$work/generated-bus-messages"
seed miner_reply fuzz/corpus/miner_reply tests/data
seed json_repair fuzz/corpus/json_repair fuzz/corpus/miner_reply tests/data
seed bus_message "$work/generated-bus-messages"
seed targets fuzz/corpus/targets
seed control_request fuzz/corpus/control_request
seed fleet_request fuzz/corpus/fleet_request
seed whatsminer_v3 fuzz/corpus/whatsminer_v3
seed http_reply fuzz/corpus/http_reply tests/data
seed web_identity fuzz/corpus/web_identity
rm -f "$work"/*/PROVENANCE.md

declare -A dict=([miner_reply]=json [json_repair]=json [control_request]=json [fleet_request]=json [targets]=targets [whatsminer_v3]=json [http_reply]=json [web_identity]=json)

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

# fuzz_one <target>: runs it, writes its report to logs/<target>.report, exits non-zero on a finding.
fuzz_one() {
  local target="$1" log="$out/logs/$1.log" report="$out/logs/$1.report" status=0
  local args=("$work/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10
              -print_final_stats=1 -artifact_prefix="$out/failures/$target-")
  if [ -n "${dict[$target]:-}" ]; then args+=(-dict="fuzz/dict/${dict[$target]}.dict"); fi
  "$bin/fuzz_$target" "${args[@]}" >"$log" 2>&1 || status=$?

  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  local coverage execs
  coverage="$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)"  # none when a seed crashed
  execs="$(stat number_of_executed_units)"
  if [ "$status" -eq 0 ]; then
    echo "fuzz: $target ok: ${execs:-?} execs ($(stat average_exec_per_sec)/s)," \
         "${coverage:-no coverage line}, $(stat new_units_added) new units" >"$report"
    return 0
  fi
  local input reason
  input="$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)"
  reason="$(grep -Em1 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|invariant broken' "$log" || true)"
  {
    echo "fuzz: $target FAILED (exit $status) after ${execs:-?} execs: ${reason:-see the log}"
    echo "fuzz:   input: ${input:-none written}; log: $log"
    echo "fuzz:   again: $bin/fuzz_$target ${input:-<input>}"
    if [ -n "$input" ] && [ -f "$input" ]; then
      # CI keeps only this output: the bytes, to recreate the input elsewhere.
      echo "fuzz:   bytes ($(wc -c <"$input")), base64: $(head -c 4096 "$input" | base64 -w0)"
    fi
  } >"$report"
  return 1
}

# Each target is one process on one core: as many run at once as there are cores, so CI
# fuzzes every target as long in half the time on its two cores.
targets=(miner_reply json_repair bus_message targets control_request fleet_request
         whatsminer_v3 http_reply web_identity)
lanes="$(nproc)"
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$lanes" ]; do wait -n || true; done
  fuzz_one "$target" &
done
wait || true
failed=0
for target in "${targets[@]}"; do
  # A target whose run left no report died outside libFuzzer (killed): a failure too.
  if [ -f "$out/logs/$target.report" ]; then cat "$out/logs/$target.report"
  else echo "fuzz: $target FAILED: no report (log: $out/logs/$target.log)"; failed=1; fi
  if grep -q FAILED "$out/logs/$target.report" 2>/dev/null; then failed=1; fi
done
exit "$failed"
