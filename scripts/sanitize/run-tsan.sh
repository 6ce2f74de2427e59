#!/usr/bin/env bash
# Runs the tests of scripts/sanitize/tsan-tests.txt from a ThreadSanitizer build (make test-tsan). Every binary
# runs under `setarch -R` (no address randomisation): GCC 12's TSan runtime cannot place its shadow memory on
# kernels with vm.mmap_rnd_bits above 28 ("FATAL: ThreadSanitizer: unexpected memory mapping"); at 28 (this CI
# machine) it works either way. Children (kubeproof agents) inherit it. A TSan report fails the binary
# (halt_on_error=1); the script fails if any binary failed.
set -uo pipefail
build_dir=$(cd "${1:?usage: run-tsan.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1 history_size=4 suppressions=$here/tsan.supp}"
failed=()
while read -r binary filter; do
  [[ -z "$binary" || "$binary" == \#* ]] && continue
  if [[ ! -x "$build_dir/$binary" ]]; then
    echo "run-tsan: $build_dir/$binary is not built" >&2
    failed+=("$binary (not built)")
    continue
  fi
  echo "=== $binary --gtest_filter=$filter"
  start=$(date +%s)
  # The working directory of ctest's unit tests: the source tree (plans/, criteria/ are found from there).
  if (cd "$source_dir" && timeout 900 setarch "$(uname -m)" -R "$build_dir/$binary" --gtest_filter="$filter" \
        --gtest_brief=1 </dev/null); then
    echo "=== $binary: passed in $(( $(date +%s) - start )) s"
  else
    echo "=== $binary: FAILED in $(( $(date +%s) - start )) s"
    failed+=("$binary")
  fi
done < "$here/tsan-tests.txt"
if (( ${#failed[@]} > 0 )); then
  printf 'run-tsan: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "run-tsan: every binary passed"
