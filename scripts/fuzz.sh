#!/usr/bin/env bash
# Runs every libFuzzer target of a KP_FUZZ build and prints one line per target: executions, executions per
# second, corpus growth, peak memory, and whether it crashed.
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET_REGEX [RUNS [JOBS]]]
#   (make fuzz FUZZ_SECONDS=N [FUZZ_TARGETS=regex] [FUZZ_RUNS=M] [FUZZ_JOBS=J])
# Each target stops after SECONDS or, when RUNS is not 0, after RUNS executions, whichever comes first; JOBS
# targets run at once (default 1: one after another), so a long run can use every core.
# New corpus entries go to BUILD_DIR/fuzz-corpus/<target>/ (the repo's seeds in tests/fuzz/corpus/ are only
# read); a crash's input goes to BUILD_DIR/fuzz-artifacts/<target>-crash-<sha1>, its log to
# BUILD_DIR/fuzz-logs/<target>.log. Exit 1 when any target crashed.
set -uo pipefail
build=${1:?build dir}
seconds=${2:?seconds}
filter=${3:-.}
runs=${4:-0}
jobs=${5:-1}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for number in "$seconds" "$runs" "$jobs"; do
  if ! [[ $number =~ ^[0-9]+$ ]]; then
    echo "fuzz.sh: FUZZ_SECONDS, FUZZ_RUNS and FUZZ_JOBS must be whole numbers, got '$number'" >&2
    exit 2
  fi
done
((jobs >= 1)) || jobs=1
mkdir -p "$build/fuzz-logs" "$build/fuzz-artifacts"
summary="$build/fuzz-summary.txt"
printf '%-18s %12s %10s %8s %8s  %s\n' target runs exec/s corpus rss_mb result | tee "$summary"

# One target: the fuzzer, then its summary line. Prints the line; returns 1 when it crashed.
fuzz_one() {
  local binary=$1 name=$2
  local dict=()
  [[ -f $root/tests/fuzz/dict/$name.dict ]] && dict=(-dict="$root/tests/fuzz/dict/$name.dict")
  local log="$build/fuzz-logs/$name.log"
  local budget=()
  ((runs > 0)) && budget=(-runs="$runs")
  "$binary" -create_missing_dirs=1 -max_total_time="$seconds" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$build/fuzz-artifacts/$name-" \
    "$build/fuzz-corpus/$name" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1
  local rc=$?
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  local result=ok
  ((rc != 0)) && result="CRASH (exit $rc, see $log)"
  local corpus
  corpus=$(find "$build/fuzz-corpus/$name" -type f | wc -l)
  printf '%-18s %12s %10s %8s %8s  %s\n' "$name" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "$corpus" "$(stat peak_rss_mb)" "$result"
  ((rc == 0))
}

failed=0
running=0
for binary in "$build"/tests/fuzz/fuzz_*; do
  name=$(basename "$binary")
  name=${name#fuzz_}
  [[ -x $binary && $name != seed_writer ]] || continue
  [[ $name =~ $filter ]] || continue
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz_one "$binary" "$name" | tee -a "$summary" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
exit $failed
