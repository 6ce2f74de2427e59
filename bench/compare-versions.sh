#!/usr/bin/env bash
# compare-versions.sh - one kubeproof build next to another on the same services, alternating, so a change to
# the generators (issue 13's load kernel) can be shown to cost nothing: DNS QPS, HTTP req/s, etcd put rate and
# TCP_STREAM throughput, each at maximum (closed loop, the generator's own ceiling), with client CPU per op.
#
#   OLD=/path/to/old/kubeproof NEW=build/kubeproof bench/compare-versions.sh
#
# The lab's services (etcd, unbound, nginx; `NEW lab up` in a private state dir) are pinned to SERVER_CPU (via
# the starter's affinity) and both clients to CLIENT_CPU. TCP_STREAM runs `agent net-server`/`net-client` over
# loopback. Each round runs OLD then NEW (or NEW then OLD on even rounds, so neither always goes first). The
# last lines print new/old ratios of the means (1.0 = no change; rates: higher is better; CPU/op: lower).
# Environment: ROUNDS=3 DURATION=8 SERVER_CPU=0 CLIENT_CPU=1 RESULTS=bench/RESULTS.md (RESULTS=- : do not append)
# Every run is bounded by DURATION (etcd also by a count); traffic stays on 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
RESULTS=${RESULTS:-$repo/bench/RESULTS.md}
OLD=${OLD:?set OLD to the kubeproof binary to compare against}
NEW=${NEW:-$repo/build/kubeproof}
work=$(mktemp -d /tmp/kp-bench-versions.XXXXXX)
export KUBEPROOF_LAB_DIR="$work/lab"
server_pid=""

# --quiet (no progress lines) is newer than some builds compared: pass it only to a binary that has it.
quiet_flag() { "$1" agent etcd --help 2>/dev/null | grep -q -- '--quiet' && echo --quiet || true; }
log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  "$NEW" lab down >/dev/null 2>&1 || true
  rm -rf -- "$work"
}
trap cleanup EXIT INT TERM

[[ -x $OLD ]] || die "OLD is not executable: $OLD"
[[ -x $NEW ]] || die "NEW is not executable: $NEW"
command -v jq >/dev/null || die "jq not found"

log "starting the lab (etcd, unbound, nginx) on cpu $SERVER_CPU"
taskset -c "$SERVER_CPU" "$NEW" lab up --service etcd --service unbound-zone --service unbound --service nginx >"$work/lab.log" 2>&1 || die "lab up failed: $(tail -3 "$work/lab.log")"
endpoint_of() { jq -r ".endpoints.\"$2\"" "$KUBEPROOF_LAB_DIR/$1/service.json"; }
etcd=$(endpoint_of etcd client)
dns=$(endpoint_of unbound dns)
url=$(endpoint_of nginx url)
log "etcd $etcd, dns $dns, http $url"

# User + system CPU seconds of a command, its stdout in $1.
timed() {
  local out=$1; shift
  local rc=0
  /usr/bin/time -f '%U %S' -o "$out.time" taskset -c "$CLIENT_CPU" "$@" >"$out" 2>"$out.err" || rc=$?
  [[ $rc == 0 || $rc == 4 ]] || die "command failed (exit $rc): $* ($(tail -2 "$out.err"))"
  tail -1 "$out.time" | awk '{ printf "%.3f", $1 + $2 }'
}

compact() {
  local rev
  rev=$(etcdctl --endpoints="$etcd" endpoint status -w json | jq '.[0].Status.header.revision')
  etcdctl --endpoints="$etcd" compact "$rev" --physical >/dev/null
}

taskset -c "$SERVER_CPU" "$NEW" agent net-server --listen 127.0.0.1:7499 >"$work/net-server.log" 2>&1 &
server_pid=$!

# Prints "rate ops cpu" for one generator and one binary.
run_one() { # $1 = generator, $2 = binary
  local out="$work/out.json" cpu rate ops
  case $1 in
    dns)
      cpu=$(timed "$out" "$2" agent dns --server "$dns" --clients 10 --outstanding 100 --threads 1 --rate max \
        --duration "${DURATION}s")
      rate=$(jq -r .responses_per_second "$out"); ops=$(jq -r .responses "$out") ;;
    http)
      cpu=$(timed "$out" "$2" http -t1 -c10 -d"${DURATION}s" "$url")
      rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$out"); ops=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$out") ;;
    etcd)
      cpu=$(timed "$out" "$2" agent etcd $(quiet_flag "$2") --endpoints "$etcd" --metrics-url none --workload put --rate max \
        --total 40000 --duration "${DURATION}s" --conns 10 --clients 100 --key-size 8 --val-size 256 \
        --sequential-keys --key-prefix k --key-space 1000000)
      rate=$(jq -r '.stages[0].put.rate' "$out"); ops=$(jq -r '.stages[0].put.ok' "$out")
      compact ;;
    tcp_stream)
      cpu=$(timed "$out" "$2" agent net-client --server 127.0.0.1:7499 --scenario TCP_STREAM --duration "${DURATION}s" \
        --warmup 1s --message-size 128KiB)
      rate=$(jq -r '.throughput.bits_per_second' "$out"); ops=$(jq -r '.throughput.bytes // 1' "$out") ;;
  esac
  echo "$rate $ops $cpu"
}

declare -A sum_rate sum_cpu
printf '%-11s %-4s %-5s %16s %12s %8s %14s\n' generator bin round rate ops cpu_s cpu_us/op
for round in $(seq 1 "$ROUNDS"); do
  order=(old new); (( round % 2 == 0 )) && order=(new old)
  for gen in dns http etcd tcp_stream; do
    for which in "${order[@]}"; do
      bin=$OLD; [[ $which == new ]] && bin=$NEW
      read -r rate ops cpu < <(run_one "$gen" "$bin")
      per=$(awk -v c="$cpu" -v n="$ops" 'BEGIN { if (n > 0) printf "%.3f", c / n * 1e6; else print 0 }')
      printf '%-11s %-4s %-5s %16.1f %12s %8s %14s\n' "$gen" "$which" "$round" "$rate" "$ops" "$cpu" "$per"
      sum_rate[$gen.$which]=$(awk -v a="${sum_rate[$gen.$which]:-0}" -v b="$rate" 'BEGIN { print a + b }')
      sum_cpu[$gen.$which]=$(awk -v a="${sum_cpu[$gen.$which]:-0}" -v b="$per" 'BEGIN { print a + b }')
    done
  done
done

summary="new/old over $ROUNDS rounds of ${DURATION}s:"
for gen in dns http etcd tcp_stream; do
  r=$(awk -v n="${sum_rate[$gen.new]}" -v o="${sum_rate[$gen.old]}" 'BEGIN { printf "%.3f", (o > 0 ? n / o : 0) }')
  c=$(awk -v n="${sum_cpu[$gen.new]}" -v o="${sum_cpu[$gen.old]}" 'BEGIN { printf "%.3f", (o > 0 ? n / o : 0) }')
  summary+=" $gen rate x$r cpu/op x$c;"
done
echo "$summary"
if [[ $RESULTS != - ]]; then
  {
    echo
    echo "## compare-versions $(date -u +%Y-%m-%dT%H:%MZ) on $(hostname) (load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "OLD=$OLD NEW=$NEW: $summary"
  } >>"$RESULTS"
fi
