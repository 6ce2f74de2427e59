#!/usr/bin/env bash
# compare-etcd.sh - kubeproof's etcd load next to the anchors, on the same etcd, alternating:
#   put    kubeproof agent etcd (closed loop)  vs  etcd `benchmark put` (if on PATH)
#   range  kubeproof agent etcd (closed loop)  vs  etcd `benchmark range` (if on PATH)
#   paced  kubeproof agent etcd at 150 writes/s, 50 clients  vs  `etcdctl check perf --load=s` (60 s)
#          (CHECK_PERF_LOAD=m: 1000 writes/s, 200 clients, vs `check perf --load=m`)
# For each: achieved rate, P99, and client CPU seconds (user+sys, /usr/bin/time) per 1000 operations.
# The last line holds the ratios kubeproof/anchor (rate: higher is better; CPU per op: lower is better).
# With KP_AGENT_OLD (another build's agent command), every kubeproof row is also run with it, old and new
# alternating (new first on even rounds), and a second line holds the ratios new/old.
#
# Environment:
#   ETCD_ENDPOINT=127.0.0.1:2379  use a running etcd instead of starting one (its data is not wiped)
#   KP_AGENT="kubeproof agent etcd"   the agent command (default: kubeproof on PATH, else build/kubeproof)
#   ROUNDS=2  TOTAL_PUT=50000  TOTAL_RANGE=50000  CHECK_PERF=1 (0 skips the 60 s paced pair)  CHECK_PERF_LOAD=s
#   KP_AGENT_OLD="/path/to/old/kubeproof agent etcd"  (optional: old vs new in the same run)
#   BENCH_PORT=23790 (client; +1 peer, +2 metrics) when this script starts etcd
# Network traffic stays on 127.0.0.1. Every run is bounded (--total, or 60 s).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-2}
TOTAL_PUT=${TOTAL_PUT:-50000}
TOTAL_RANGE=${TOTAL_RANGE:-50000}
CHECK_PERF=${CHECK_PERF:-1}
CHECK_PERF_LOAD=${CHECK_PERF_LOAD:-s}
BENCH_PORT=${BENCH_PORT:-23790}
work=$(mktemp -d /tmp/kp-bench-etcd.XXXXXX)
etcd_pid=""

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  if [[ -n $etcd_pid ]] && kill -0 "$etcd_pid" 2>/dev/null; then
    kill "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT INT TERM

# --- the agent ------------------------------------------------------------------------------------------------
agent=()
if [[ -n ${KP_AGENT:-} ]]; then
  read -r -a agent <<<"$KP_AGENT"
else
  source "$repo/bench/find-kubeproof.sh"
  [[ -n $kubeproof_bin ]] && agent=("$kubeproof_bin" agent etcd)
fi
[[ ${#agent[@]} -gt 0 ]] || die "no agent: build kubeproof (make build) or set KP_AGENT"
old_agent=()
[[ -n ${KP_AGENT_OLD:-} ]] && read -r -a old_agent <<<"$KP_AGENT_OLD"
case $CHECK_PERF_LOAD in
  s) paced_rate=150 paced_clients=50 ;;
  m) paced_rate=1000 paced_clients=200 ;;
  *) die "CHECK_PERF_LOAD: s or m, got \"$CHECK_PERF_LOAD\"" ;;
esac
command -v jq >/dev/null || die "jq is required"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian package time)"

# --- the etcd under test ----------------------------------------------------------------------------------------
if [[ -n ${ETCD_ENDPOINT:-} ]]; then
  endpoint=$ETCD_ENDPOINT
else
  command -v etcd >/dev/null || die "etcd not found (Debian package etcd-server)"
  c=$BENCH_PORT p=$((BENCH_PORT + 1)) m=$((BENCH_PORT + 2))
  for port in $c $p $m; do
    if ss -Hltn "sport = :$port" | grep -q .; then die "port $port is taken; set BENCH_PORT"; fi
  done
  # The lab's flags (src/lab/services.cpp, anchor-baselines/lab.sh): same server for every tool.
  etcd --name bench0 --data-dir "$work/data" \
    --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
    --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
    --initial-cluster "bench0=http://127.0.0.1:$p" --initial-cluster-state new \
    --listen-metrics-urls "http://127.0.0.1:$m" --metrics extensive --quota-backend-bytes 4294967296 \
    --logger zap --log-outputs "$work/etcd.log" >"$work/etcd.stdout" 2>&1 &
  etcd_pid=$!
  endpoint="127.0.0.1:$c"
  deadline=$((SECONDS + 30))
  until curl -fsS --max-time 1 "http://127.0.0.1:$m/health" 2>/dev/null | grep -q '"health":"true"'; do
    kill -0 "$etcd_pid" 2>/dev/null || die "etcd exited: $(tail -3 "$work/etcd.stdout")"
    ((SECONDS < deadline)) || die "etcd not healthy within 30 s"
  done
fi
log "etcd at $endpoint; agent: ${agent[*]}"

# Runs a command under /usr/bin/time; prints "<elapsed> <user+sys>" of it; its stdout goes to $2.
timed() {
  local out=$1; shift
  # 1, 3 and 4 are verdicts (kubeproof: FAIL, CONDITIONAL, INVALID; check perf: FAIL), not failed runs: a
  # busy machine can fail etcd's latency criteria and still measure the client's CPU.
  local rc=0
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >"$out" 2>"$work/stderr" || rc=$?
  if ((rc != 0 && rc != 1 && rc != 3 && rc != 4)); then
    cat "$work/stderr" >&2; die "failed (exit $rc): $*"
  fi
  ((rc == 0)) || log "exit $rc (a verdict, kept): ${*:1:2}"
  # time writes "Command exited with non-zero status N" first when it did: the figures are the last line.
  tail -1 "$work/time" | awk '{printf "%s %.3f\n", $1, $2 + $3}'
}

# benchmark's summary -> "rate p99_seconds ops"
parse_benchmark() {
  awk '/Requests\/sec:/ {rate=$2} /99% in/ {p99=$3} END {print rate, p99}' "$1"
}

rows=()
add_row() { # tool workload rate p99_s ops cpu_s
  local cpu_per_k
  cpu_per_k=$(awk -v c="$6" -v n="$5" 'BEGIN{ if (n > 0) printf "%.3f", c * 1000 / n; else print "nan" }')
  rows+=("$1|$2|$3|$4|$cpu_per_k")
  printf '%-10s %-6s rate %10.0f/s  p99 %8.2f ms  cpu %7.3f s/1000 ops  (%s ops, %s s cpu)\n' \
    "$1" "$2" "$3" "$(awk -v p="$4" 'BEGIN{print p*1000}')" "$cpu_per_k" "$5" "$6"
}

run_agent() { # which (new|old) workload extra-args...
  local which=$1 workload=$2; shift 2
  local -a command=("${agent[@]}")
  [[ $which == old ]] && command=("${old_agent[@]}")
  # No build has --quiet on `agent etcd` (its progress goes to stderr), older scripts passed it: only if listed.
  local -a quiet=()
  "${command[@]}" --help 2>/dev/null | grep -q -- '--quiet' && quiet=(--quiet)
  read -r _ cpu < <(timed "$work/agent.json" "${command[@]}" "${quiet[@]}" --endpoints "$endpoint" --metrics-url none "$@")
  local stage=".stages[0].${workload}"
  local rate p99 ops
  rate=$(jq -r "$stage.rate" "$work/agent.json")
  p99=$(jq -r "$stage.p99_s" "$work/agent.json")
  ops=$(jq -r "$stage.ok" "$work/agent.json")
  echo "$rate $p99 $ops $cpu"
}

# etcd 3.4 serves Range ~8x slower after many deletes (our agent deletes its keys; reproduced with `etcdctl del
# --prefix`) until the history is compacted, so every write run is followed by a compaction, as
# `etcdctl check perf --auto-compact` does: each run starts from the same server state.
compact() {
  local rev
  rev=$(etcdctl --endpoints="$endpoint" endpoint status -w json | jq '.[0].Status.header.revision')
  etcdctl --endpoints="$endpoint" compact "$rev" --physical >/dev/null
}

have_benchmark=0
command -v benchmark >/dev/null && have_benchmark=1
[[ $have_benchmark == 1 ]] || log "etcd 'benchmark' not on PATH (it is not packaged in Debian): put/range anchors skipped"

put_args=(--workload put --rate max --total "$TOTAL_PUT" --conns 10 --clients 100 --key-size 8 --val-size 256
          --sequential-keys --key-prefix k --key-space 1000000)
range_args=(--workload range --rate max --total "$TOTAL_RANGE" --conns 10 --clients 100 --key-size 8
            --val-size 256 --key-prefix r --key-space 1 --consistency l)

# The kubeproof builds of a round: new alone, or old and new alternating which goes first.
builds_of_round() {
  if [[ ${#old_agent[@]} -eq 0 ]]; then echo new; elif (($1 % 2 == 0)); then echo new old; else echo old new; fi
}
tool_of() { [[ $1 == old ]] && echo kp-old || echo kubeproof; }

for round in $(seq 1 "$ROUNDS"); do
  read -r -a builds < <(builds_of_round "$round")
  log "round $round/$ROUNDS: put"
  for which in "${builds[@]}"; do
    read -r rate p99 ops cpu < <(run_agent "$which" put "${put_args[@]}")
    add_row "$(tool_of "$which")" put "$rate" "$p99" "$ops" "$cpu"
    compact
  done
  if [[ $have_benchmark == 1 ]]; then
    read -r _ cpu < <(timed "$work/bench.txt" benchmark --endpoints="$endpoint" --conns=10 --clients=100 \
      put --key-size=8 --sequential-keys --total="$TOTAL_PUT" --val-size=256)
    read -r rate p99 < <(parse_benchmark "$work/bench.txt")
    add_row benchmark put "$rate" "$p99" "$TOTAL_PUT" "$cpu"
    compact
  fi

  log "round $round/$ROUNDS: range (linearizable, one 256 B key)"
  for which in "${builds[@]}"; do
    read -r rate p99 ops cpu < <(run_agent "$which" range "${range_args[@]}")
    add_row "$(tool_of "$which")" range "$rate" "$p99" "$ops" "$cpu"
  done
  if [[ $have_benchmark == 1 ]]; then
    etcdctl --endpoints="$endpoint" put /bench/rangekey "$(head -c 256 /dev/zero | tr '\0' 'x')" >/dev/null
    read -r _ cpu < <(timed "$work/bench.txt" benchmark --endpoints="$endpoint" --conns=10 --clients=100 \
      range /bench/rangekey --consistency=l --total="$TOTAL_RANGE")
    read -r rate p99 < <(parse_benchmark "$work/bench.txt")
    add_row benchmark range "$rate" "$p99" "$TOTAL_RANGE" "$cpu"
  fi

  if [[ $CHECK_PERF == 1 ]]; then
    log "round $round/$ROUNDS: paced $paced_rate writes/s for 60 s (etcdctl check perf --load=$CHECK_PERF_LOAD)"
    for which in "${builds[@]}"; do
      read -r rate p99 ops cpu < <(run_agent "$which" put --workload put --rate "$paced_rate" --duration 60s \
        --conns 1 --clients "$paced_clients" --key-size 256 --val-size 1KiB --key-prefix /kp-check-perf/ \
        --key-space 10000)
      add_row "$(tool_of "$which")" paced "$rate" "$p99" "$ops" "$cpu"
      compact
    done
    read -r elapsed cpu < <(timed "$work/checkperf.txt" etcdctl --endpoints="$endpoint" check perf \
      --load="$CHECK_PERF_LOAD")
    rate=$(awk '/Throughput is/ {print $(NF-1)}' "$work/checkperf.txt")
    slowest=$(awk '/Slowest request took/ {sub("s$", "", $NF); print $NF}' "$work/checkperf.txt")
    ops=$(awk -v r="$rate" -v e="$elapsed" 'BEGIN{printf "%d", r * 60}')
    # check perf prints no P99; its slowest request stands in (an upper bound).
    add_row checkperf paced "${rate:-0}" "${slowest:-0}" "$ops" "$cpu"
    compact
  fi
done

# --- ratios: mean over rounds per tool and workload ---------------------------------------------------------------
printf '%s\n' "${rows[@]}" | awk -F'|' '
  { key = $1 "|" $2; rate[key] += $3; cpu[key] += $5; n[key]++ }
  END {
    line = ""
    split("put range paced", workloads, " ")
    for (i = 1; i <= 3; i++) {
      w = workloads[i]; ours = "kubeproof|" w
      anchor = (w == "paced") ? "checkperf|" w : "benchmark|" w
      if (!(ours in n) || !(anchor in n)) { line = line sprintf("%s: no anchor; ", w); continue }
      r = (rate[ours] / n[ours]) / (rate[anchor] / n[anchor])
      c = (cpu[ours] / n[ours]) / (cpu[anchor] / n[anchor])
      line = line sprintf("%s: rate x%.2f, cpu/op x%.2f; ", w, r, c)
    }
    sub(/; $/, "", line)
    print "RATIOS kubeproof/anchor " line
    if (("kp-old|put") in n || ("kp-old|paced") in n) {
      line = ""
      for (i = 1; i <= 3; i++) {
        w = workloads[i]; ours = "kubeproof|" w; old = "kp-old|" w
        if (!(ours in n) || !(old in n)) continue
        r = (rate[ours] / n[ours]) / (rate[old] / n[old])
        c = (cpu[ours] / n[ours]) / (cpu[old] / n[old])
        line = line sprintf("%s: rate x%.3f, cpu/op x%.3f; ", w, r, c)
      }
      sub(/; $/, "", line)
      print "RATIOS new/old kubeproof " line
    }
  }'
