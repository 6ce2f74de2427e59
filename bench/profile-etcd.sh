#!/usr/bin/env bash
# profile-etcd.sh - where the etcd generator's CPU goes. Starts a private etcd on loopback (pinned to ETCD_CPU),
# runs `kubeproof agent etcd` (pinned to CLIENT_CPU) in each mode, and prints per mode:
#   - the cost: CPU us per op, context switches per op, system calls per op, threads (perf stat, /proc);
#   - the breakdown of the client's samples (perf record): by library (kernel, gRPC core, gRPC C++, protobuf,
#     libc + libstdc++ (malloc, memcpy), abseil, kubeproof) and, inclusive, by path: the kernel's TCP send and
#     receive, epoll_wait, nanosleep, futex, the scheduler; gRPC core split into polling + completion queue and
#     HTTP/2 (chttp2, hpack) where its exported symbols say so; and the share of each thread (by name).
# With OLD=/path/to/old/kubeproof it then runs every mode ROUNDS times more, old and new alternating (new first
# on even rounds), under perf stat only, and prints new/old ratios of CPU per op.
#
# Environment: KP=/path/to/kubeproof (default: PATH, else build/kubeproof)  OLD=  ROUNDS=3  DURATION=5s
#   MODES="put:2000 range:2000 put:max range:max put:1000 put:150"  (workload:rate; max is closed loop)
#   CONNS=1 CLIENTS=50 (paced; closed loop uses CLOSED_CONNS=10 CLOSED_CLIENTS=100, as compare-etcd.sh)
#   ETCD_CPU=0 CLIENT_CPU=1 BENCH_PORT=23820 (client; +1 peer, +2 metrics)  PROFILE=0 skips perf record
#   KEEP_DATA=dir keeps each mode's perf.data there (perf report -i dir/perf-put-2000.data)
# Needs etcd-server, etcd-client, jq, perf (Debian linux-perf; root or perf_event_paranoid <= 1).
# Every run is bounded by DURATION; traffic stays on 127.0.0.1; the etcd and its data dir go at exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
read -r -a MODES <<<"${MODES:-put:2000 range:2000 put:max range:max put:1000 put:150}"
CONNS=${CONNS:-1}
CLIENTS=${CLIENTS:-50}
CLOSED_CONNS=${CLOSED_CONNS:-10}
CLOSED_CLIENTS=${CLOSED_CLIENTS:-100}
ETCD_CPU=${ETCD_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BENCH_PORT=${BENCH_PORT:-23820}
PROFILE=${PROFILE:-1}
OLD=${OLD:-}
work=$(mktemp -d /tmp/kp-profile-etcd.XXXXXX)
etcd_pid=""

log() { printf '[profile] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  if [[ -n $etcd_pid ]] && kill -0 "$etcd_pid" 2>/dev/null; then
    kill "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT INT TERM

kp=${KP:-}
if [[ -z $kp ]]; then
  # shellcheck source=bench/find-kubeproof.sh
  source "$repo/bench/find-kubeproof.sh"
  kp=${kubeproof_bin:-}
fi
[[ -n $kp && -x $kp ]] || die "no kubeproof: build it (make build) or set KP"
[[ -z $OLD || -x $OLD ]] || die "OLD is not executable: $OLD"
for tool in etcd etcdctl jq perf; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian packages etcd-server, etcd-client, jq, linux-perf)"
done

# --- a private etcd, the lab's flags (as compare-etcd.sh) ------------------------------------------------------
c=$BENCH_PORT p=$((BENCH_PORT + 1)) m=$((BENCH_PORT + 2))
for port in $c $p $m; do
  if ss -Hltn "sport = :$port" | grep -q .; then die "port $port is taken; set BENCH_PORT"; fi
done
taskset -c "$ETCD_CPU" etcd --name prof0 --data-dir "$work/data" \
  --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
  --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
  --initial-cluster "prof0=http://127.0.0.1:$p" --initial-cluster-state new \
  --listen-metrics-urls "http://127.0.0.1:$m" --metrics extensive --quota-backend-bytes 4294967296 \
  --logger zap --log-outputs "$work/etcd.log" >"$work/etcd.stdout" 2>&1 &
etcd_pid=$!
endpoint="127.0.0.1:$c"
deadline=$((SECONDS + 30))
until curl -fsS --max-time 1 "http://127.0.0.1:$m/health" 2>/dev/null | grep -q '"health":"true"'; do
  kill -0 "$etcd_pid" 2>/dev/null || die "etcd exited: $(tail -3 "$work/etcd.stdout")"
  ((SECONDS < deadline)) || die "etcd not healthy within 30 s"
  sleep 0.2
done
log "etcd on cpu$ETCD_CPU at $endpoint; client on cpu$CLIENT_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Each run starts from the same server state (see compare-etcd.sh: etcd 3.4 slows down after deletes until
# compacted).
compact() {
  local rev
  rev=$(etcdctl --endpoints="$endpoint" endpoint status -w json | jq '.[0].Status.header.revision')
  etcdctl --endpoints="$endpoint" compact "$rev" --physical >/dev/null
}

agent_args() { # $1 = mode (workload:rate)
  local workload=${1%%:*} rate=${1#*:}
  local conns=$CONNS clients=$CLIENTS
  if [[ $rate == max ]]; then conns=$CLOSED_CONNS clients=$CLOSED_CLIENTS; fi
  echo agent etcd --endpoints "$endpoint" --metrics-url none --workload "$workload" --rate "$rate" \
    --duration "$DURATION" --conns "$conns" --clients "$clients" --key-size 256 --val-size 1KiB \
    --key-prefix /kp-profile/ --key-space 100
}

# Runs one agent under perf stat; prints "ops cpu_us_per_op cs_per_op syscalls_per_op threads".
measure() { # $1 = binary, $2 = mode
  local bin=$1 mode=$2 out="$work/agent.json" stat="$work/stat.csv"
  # shellcheck disable=SC2046
  taskset -c "$CLIENT_CPU" perf stat -x, -o "$stat" -e task-clock,context-switches,raw_syscalls:sys_enter -- \
    "$bin" $(agent_args "$mode") >"$out" 2>"$work/agent.err" &
  local perf_pid=$! threads=0
  sleep 2
  local agent_pid
  agent_pid=$(pgrep -P "$perf_pid" | head -1 || true)
  [[ -n $agent_pid ]] && threads=$(ls "/proc/$agent_pid/task" 2>/dev/null | wc -l)
  # 1, 3 and 4 are verdicts (FAIL, CONDITIONAL, INVALID: e.g. etcd could not carry the rate), not failures.
  local rc=0
  wait "$perf_pid" || rc=$?
  ((rc <= 1 || rc == 3 || rc == 4)) || { cat "$work/agent.err" >&2; die "agent failed (exit $rc): $bin $mode"; }
  local ops
  ops=$(jq -r "[.stages[0].put.ok // 0, .stages[0].range.ok // 0] | add" "$out")
  compact
  awk -F, -v ops="$ops" -v threads="$threads" '
    $3 == "task-clock" { cpu_ms = $1 } $3 == "context-switches" { cs = $1 } $3 ~ /sys_enter/ { sc = $1 }
    END { if (ops > 0) printf "%d %.2f %.3f %.2f %d\n", ops, cpu_ms * 1000 / ops, cs / ops, sc / ops, threads
          else print "0 0 0 0 " threads }' "$stat"
}

# Self share of each library in a perf.data, as "name=percent ...".
by_library() { # $1 = perf.data
  local self
  self=$(basename "$kp")
  perf report -i "$1" --no-children --sort dso -g none --stdio 2>/dev/null | grep -v '^#' | awk -v self="$self" '
    NF >= 2 { sub("%", "", $1); d = $2
      if (d ~ /kernel/) k += $1; else if (d ~ /^libgrpc\.so/) g += $1; else if (d ~ /^libgrpc\+\+/) gpp += $1
      else if (d ~ /^libgpr/) gpr += $1; else if (d ~ /^libprotobuf/) pb += $1
      else if (d ~ /^libc\.so|^libstdc\+\+|^libm\.so/) libc += $1; else if (d ~ /^libabsl/) absl += $1
      else if (d == self) kp += $1; else other += $1 }
    END { printf "kernel=%.1f grpc_core=%.1f grpc++=%.1f gpr=%.1f protobuf=%.1f libc+stdc++=%.1f absl=%.1f kubeproof=%.1f other=%.1f\n",
          k, g, gpp, gpr, pb, libc, absl, kp, other }'
}

# libgrpc's self samples by what its exported symbols say (static functions show as addresses: "unnamed"; Debian's
# libgrpc has no other symbols).
grpc_split() { # $1 = perf.data
  perf report -i "$1" --no-children --sort dso,sym -g none --stdio 2>/dev/null | grep -v '^#' | awk '
    $2 ~ /^libgrpc\.so/ { sub("%", "", $1); s = $0
      if (s ~ /pollset|epoll|_cq_|cq_end_op|completion_queue|grpc_fd|lockfree_event|wakeup_fd/) poll += $1
      else if (s ~ /chttp2|hpack|HPack|Hpack/) h2 += $1
      else if (s ~ /\[\.\] 0x/) unnamed += $1
      else other += $1 }
    END { printf "poll+cq=%.1f http2=%.1f other_named=%.1f unnamed=%.1f (%% of all samples)\n", poll, h2, other, unnamed }'
}

# Inclusive share of kernel paths.
kernel_paths() { # $1 = perf.data
  perf report -i "$1" --children --sort sym -g none --stdio 2>/dev/null | grep -v '^#' >"$work/children"
  local out="" name symbol
  for pair in tcp_send:tcp_sendmsg tcp_recv:tcp_recvmsg epoll_wait:do_epoll_wait nanosleep:hrtimer_nanosleep \
    futex:do_futex schedule:schedule syscall_entry:entry_SYSCALL_64_after_hwframe; do
    name=${pair%%:*} symbol=${pair#*:}
    out+="$name=$(awk -v s="$symbol" '$NF == s && $1 ~ /%$/ && !done { sub("%", "", $1); print $1; done = 1 }' \
      "$work/children" | grep . || echo 0) "
  done
  echo "$out"
}

by_thread() { # $1 = perf.data
  perf report -i "$1" --no-children --sort comm -g none --stdio 2>/dev/null | grep -v '^#' |
    awk 'NF >= 2 { printf "%s=%s ", $2, $1 } END { print "" }'
}

# CPU and context switches of each thread over 3 s of the steady state of one more run.
per_thread() { # $1 = mode
  # shellcheck disable=SC2046
  taskset -c "$CLIENT_CPU" "$kp" $(agent_args "$1") >/dev/null 2>&1 &
  local agent_pid=$!
  sleep 1
  perf stat --per-thread -x, -e task-clock,context-switches -p "$agent_pid" -o "$work/threads.csv" -- sleep 3 \
    2>/dev/null || true
  wait "$agent_pid" || true
  compact
  # Lines: comm-tid,value,unit,event,...: one line per thread and event.
  awk -F, '$4 == "task-clock" && $2 > 0.5 { cpu[$1] = $2 } $4 == "context-switches" { cs[$1] = $2 }
    END { for (t in cpu) printf "%s %.0fms/%dcs  ", t, cpu[t], cs[t]; print "" }' "$work/threads.csv"
}

printf '%-12s %-4s %8s %10s %8s %10s %8s\n' mode bin ops cpu_us/op cs/op syscalls/op threads
for mode in "${MODES[@]}"; do
  read -r ops cpu cs sc threads < <(measure "$kp" "$mode")
  printf '%-12s %-4s %8s %10s %8s %10s %8s\n' "$mode" new "$ops" "$cpu" "$cs" "$sc" "$threads"
  if [[ $PROFILE == 1 ]]; then
    data="$work/perf.data"
    # shellcheck disable=SC2046
    taskset -c "$CLIENT_CPU" perf record -q -F 2999 --call-graph dwarf,16384 -o "$data" -- \
      "$kp" $(agent_args "$mode") >"$work/agent.json" 2>"$work/agent.err" || true
    compact
    echo "  libraries (self %): $(by_library "$data")"
    echo "  gRPC core (self):   $(grpc_split "$data")"
    echo "  kernel (incl. %):   $(kernel_paths "$data")"
    echo "  threads (self %):   $(by_thread "$data")"
    echo "  threads, 3 s:       $(per_thread "$mode")"
    perf report -i "$data" --no-children --sort dso,sym -g none --stdio 2>/dev/null | grep -v '^#' | grep . |
      head -25 >"$work/top-$mode.txt" || true
    sed 's/^/    /' "$work/top-$mode.txt"
    [[ -n ${KEEP_DATA:-} ]] && mkdir -p "$KEEP_DATA" && cp "$data" "$KEEP_DATA/perf-${mode/:/-}.data"
  fi
done

if [[ -n $OLD ]]; then
  declare -A sum all
  # The median of the values given (the machine is shared: one slow round should not move the ratio).
  median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
  printf '\n%-12s %-4s %-5s %8s %10s %8s %10s\n' mode bin round ops cpu_us/op cs/op syscalls/op
  for round in $(seq 1 "$ROUNDS"); do
    order=(old new); ((round % 2 == 0)) && order=(new old)
    for mode in "${MODES[@]}"; do
      for which in "${order[@]}"; do
        bin=$kp; [[ $which == old ]] && bin=$OLD
        read -r ops cpu cs sc _ < <(measure "$bin" "$mode")
        printf '%-12s %-4s %-5s %8s %10s %8s %10s\n' "$mode" "$which" "$round" "$ops" "$cpu" "$cs" "$sc"
        sum[$mode.$which.cpu]=$(awk -v a="${sum[$mode.$which.cpu]:-0}" -v b="$cpu" 'BEGIN { print a + b }')
        sum[$mode.$which.cs]=$(awk -v a="${sum[$mode.$which.cs]:-0}" -v b="$cs" 'BEGIN { print a + b }')
        sum[$mode.$which.ops]=$(awk -v a="${sum[$mode.$which.ops]:-0}" -v b="$ops" 'BEGIN { print a + b }')
        all[$mode.$which]+="$cpu "
      done
    done
  done
  line="new/old over $ROUNDS alternating rounds of $DURATION:"
  for mode in "${MODES[@]}"; do
    line+=$(awk -v m="$mode" -v nc="${sum[$mode.new.cpu]}" -v oc="${sum[$mode.old.cpu]}" \
      -v ns="${sum[$mode.new.cs]}" -v os="${sum[$mode.old.cs]}" -v no="${sum[$mode.new.ops]}" \
      -v oo="${sum[$mode.old.ops]}" 'BEGIN { printf " %s cpu/op x%.3f, cs/op x%.3f, ops x%.3f;", m,
        (oc > 0 ? nc / oc : 0), (os > 0 ? ns / os : 0), (oo > 0 ? no / oo : 0) }')
  done
  echo "$line"
  line="medians, new/old:"
  for mode in "${MODES[@]}"; do
    line+=$(awk -v m="$mode" -v n="$(median <<<"${all[$mode.new]}")" -v o="$(median <<<"${all[$mode.old]}")" \
      'BEGIN { printf " %s %.1f/%.1f us = x%.3f;", m, n, o, (o > 0 ? n / o : 0) }')
  done
  echo "$line"
fi
