#!/usr/bin/env bash
# Runs every libFuzzer target of a KP_FUZZ build for SECONDS each, one after another, and prints one line per
# target: executions, executions per second, corpus growth, peak memory, and whether it crashed.
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET_REGEX]       (make fuzz FUZZ_SECONDS=N [FUZZ_TARGETS=regex])
# New corpus entries go to BUILD_DIR/fuzz-corpus/<target>/ (the repo's seeds in tests/fuzz/corpus/ are only
# read); a crash's input goes to BUILD_DIR/fuzz-artifacts/<target>-crash-<sha1>, its log to
# BUILD_DIR/fuzz-logs/<target>.log. Exit 1 when any target crashed.
set -uo pipefail
build=${1:?build dir}
seconds=${2:?seconds}
filter=${3:-.}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$build/fuzz-logs" "$build/fuzz-artifacts"
summary="$build/fuzz-summary.txt"
printf '%-18s %12s %10s %8s %8s  %s\n' target runs exec/s corpus rss_mb result | tee "$summary"
failed=0
for binary in "$build"/tests/fuzz/fuzz_*; do
  name=$(basename "$binary")
  name=${name#fuzz_}
  [[ -x $binary && $name != seed_writer ]] || continue
  [[ $name =~ $filter ]] || continue
  dict=()
  [[ -f $root/tests/fuzz/dict/$name.dict ]] && dict=(-dict="$root/tests/fuzz/dict/$name.dict")
  log="$build/fuzz-logs/$name.log"
  "$binary" -create_missing_dirs=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$build/fuzz-artifacts/$name-" \
    "$build/fuzz-corpus/$name" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  result=ok
  if ((rc != 0)); then
    result="CRASH (exit $rc, see $log)"
    failed=1
  fi
  corpus=$(find "$build/fuzz-corpus/$name" -type f | wc -l)
  printf '%-18s %12s %10s %8s %8s  %s\n' "$name" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "$corpus" "$(stat peak_rss_mb)" "$result" | tee -a "$summary"
done
exit $failed
