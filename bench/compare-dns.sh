#!/usr/bin/env bash
# compare-dns.sh - kubeproof's DNS generator next to dnsperf, on the same caching unbound, alternating.
#   Each round runs dnsperf -c C -q Q -T 1 -l D, then `kubeproof agent dns --clients C --outstanding Q
#   --threads 1 --duration D` (maximum throughput with the same window), with the same query file (every name
#   of the lab's cluster zone), unbound pinned to SERVER_CPU and both clients to CLIENT_CPU.
#   Per run: achieved QPS (responses per second), client CPU seconds per 100k queries (user + sys from
#   /usr/bin/time, and each part alone: the kernel's UDP path is sys, the tool's own work is user), and our
#   P99 (dnsperf 2.10 prints none). The last line holds the ratios kubeproof/dnsperf over the means of the
#   rounds (QPS: goal >= 1.0; CPU per 100k queries: goal <= 0.5; then user and sys separately).
#   The figures are appended, with the date and the machine, as a section of bench/RESULTS.md.
#
# Environment:
#   ROUNDS=2 DURATION=10 CLIENTS=10 OUTSTANDING=100 SERVER_CPU=0 CLIENT_CPU=1
#   KP_AGENT="kubeproof agent dns"   the agent (default: kubeproof on PATH, else build/kubeproof)
#   KP_DNS_LAB=.../kp_dns_lab         starts the lab's two unbound processes (default: build*/.../kp_dns_lab)
#   DNS_SERVER=127.0.0.1:5353 QUERIES=file   use a running server and a query file instead of the lab
#   RESULTS=bench/RESULTS.md (RESULTS=- or NO_RESULTS=1: do not append)
# Traffic stays on 127.0.0.1. Every run is bounded by DURATION.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-10}
OUTSTANDING=${OUTSTANDING:-100}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
RESULTS=${RESULTS:-$repo/bench/RESULTS.md}
work=$(mktemp -d /tmp/kp-bench-dns.XXXXXX)
lab_dir="$work/lab"
lab_tool=""

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  if [[ -n $lab_tool && -d $lab_dir ]]; then
    "$lab_tool" down "$lab_dir" || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT INT TERM

find_built() { # $1 = file name under build*/tests/integration/dns/
  local candidate
  for candidate in "$repo"/build*/tests/integration/dns/"$1"; do
    if [[ -x $candidate ]]; then echo "$candidate"; return 0; fi
  done
  return 1
}

# --- tools ------------------------------------------------------------------------------------------------------
agent=()
if [[ -n ${KP_AGENT:-} ]]; then
  read -r -a agent <<<"$KP_AGENT"
else
  source "$repo/bench/find-kubeproof.sh"
  [[ -n $kubeproof_bin ]] && agent=("$kubeproof_bin" agent dns)
fi
[[ ${#agent[@]} -gt 0 ]] || die "no agent: build kubeproof (make build) or set KP_AGENT"
command -v dnsperf >/dev/null || die "dnsperf not found (Debian package dnsperf)"
command -v jq >/dev/null || die "jq is required"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian package time)"
command -v taskset >/dev/null || die "taskset is required (util-linux)"
cpus=$(nproc)
(( SERVER_CPU < cpus && CLIENT_CPU < cpus )) || die "SERVER_CPU/CLIENT_CPU must be below $cpus"

# --- the server under test ---------------------------------------------------------------------------------------
if [[ -n ${DNS_SERVER:-} ]]; then
  server=$DNS_SERVER
  [[ -n ${QUERIES:-} ]] || die "DNS_SERVER needs QUERIES (a dnsperf query file)"
  queries=$QUERIES
  log "using the running server $server (not pinned by this script)"
else
  lab_tool=${KP_DNS_LAB:-$(find_built kp_dns_lab || true)}
  [[ -n $lab_tool ]] || die "no kp_dns_lab: build it (ninja kp_dns_lab) or set DNS_SERVER and QUERIES"
  "$lab_tool" up "$lab_dir" >"$work/lab.json"
  server=$(jq -r .dns "$work/lab.json")
  # Every thread of both unbound processes on the server CPU; the clients get the other one.
  for pid in $(jq -r '.cache_pid, .zone_pid' "$work/lab.json"); do
    taskset -a -p -c "$SERVER_CPU" "$pid" >/dev/null
  done
  queries="$work/queries.txt"
  awk '$4 != "SOA" {print $1, $4}' "$lab_dir/unbound-zone/cluster.zone" >"$queries"
  log "lab: caching unbound at $server (pid $(jq -r .cache_pid "$work/lab.json")) forwarding to $(jq -r .zone_dns "$work/lab.json"), pinned to CPU $SERVER_CPU"
fi
host=${server%:*}
port=${server##*:}
log "$(wc -l <"$queries") queries in $queries; $ROUNDS rounds of ${DURATION}s each, -c $CLIENTS -q $OUTSTANDING, clients on CPU $CLIENT_CPU"

# Warm the cache once, so the first tool does not pay for the misses alone (answers expire after their 30 s
# TTL, so later rounds see misses again).
taskset -c "$CLIENT_CPU" dnsperf -s "$host" -p "$port" -d "$queries" -c "$CLIENTS" -q "$OUTSTANDING" -T 1 -l 2 >/dev/null

# --- rounds -----------------------------------------------------------------------------------------------------
declare -a rows

run_dnsperf() { # $1 = round; prints "qps completed user sys"
  local out="$work/dnsperf.$1.txt" times="$work/dnsperf.$1.time"
  taskset -c "$CLIENT_CPU" /usr/bin/time -f '%U %S' -o "$times" \
    dnsperf -s "$host" -p "$port" -d "$queries" -c "$CLIENTS" -q "$OUTSTANDING" -T 1 -l "$DURATION" >"$out" 2>&1
  local qps completed
  qps=$(awk '/Queries per second:/ {print $4}' "$out")
  completed=$(awk '/Queries completed:/ {print $3}' "$out")
  echo "$qps $completed $(tail -n 1 "$times")"
}

run_kubeproof() { # $1 = round; prints "qps completed user sys p99"
  local out="$work/kp.$1.json" times="$work/kp.$1.time"
  taskset -c "$CLIENT_CPU" /usr/bin/time -f '%U %S' -o "$times" \
    "${agent[@]}" --server "$server" --queries "$queries" --clients "$CLIENTS" --outstanding "$OUTSTANDING" \
    --threads 1 --rate max --duration "${DURATION}s" >"$out" 2>"$work/kp.$1.err" || true
  jq -e .responses_per_second "$out" >/dev/null || die "the agent printed no result: $(head -c 300 "$out") $(tail -c 300 "$work/kp.$1.err")"
  jq -r --arg times "$(tail -n 1 "$times")" '"\(.responses_per_second) \(.responses) \($times) \(.p99_s)"' "$out"
}

per100k() { awk -v c="$1" -v n="$2" 'BEGIN {printf "%.3f", (n > 0 ? c / n * 1e5 : 0)}'; }

printf '%-10s %-5s %12s %12s %8s %8s %14s %14s %14s %10s\n' tool round qps completed user_s sys_s cpu_s/100k \
  user_s/100k sys_s/100k p99
for round in $(seq 1 "$ROUNDS"); do
  read -r d_qps d_done d_user d_sys < <(run_dnsperf "$round")
  d_per=$(per100k "$(awk -v u="$d_user" -v s="$d_sys" 'BEGIN {print u + s}')" "$d_done")
  d_uper=$(per100k "$d_user" "$d_done")
  d_sper=$(per100k "$d_sys" "$d_done")
  printf '%-10s %-5s %12.0f %12s %8.2f %8.2f %14s %14s %14s %10s\n' dnsperf "$round" "$d_qps" "$d_done" "$d_user" \
    "$d_sys" "$d_per" "$d_uper" "$d_sper" "-"
  rows+=("| dnsperf | $round | $(printf '%.0f' "$d_qps") | $d_done | $d_user | $d_sys | $d_per | $d_uper | $d_sper | – |")
  echo "$d_qps" >>"$work/d_qps"
  echo "$d_per" >>"$work/d_per"
  echo "$d_uper" >>"$work/d_uper"
  echo "$d_sper" >>"$work/d_sper"

  read -r k_qps k_done k_user k_sys k_p99 < <(run_kubeproof "$round")
  k_per=$(per100k "$(awk -v u="$k_user" -v s="$k_sys" 'BEGIN {print u + s}')" "$k_done")
  k_uper=$(per100k "$k_user" "$k_done")
  k_sper=$(per100k "$k_sys" "$k_done")
  k_p99_ms=$(awk -v p="$k_p99" 'BEGIN {printf "%.3f", p * 1000}')
  printf '%-10s %-5s %12.0f %12s %8.2f %8.2f %14s %14s %14s %8sms\n' kubeproof "$round" "$k_qps" "$k_done" \
    "$k_user" "$k_sys" "$k_per" "$k_uper" "$k_sper" "$k_p99_ms"
  rows+=("| kubeproof | $round | $(printf '%.0f' "$k_qps") | $k_done | $k_user | $k_sys | $k_per | $k_uper | $k_sper | $k_p99_ms ms |")
  echo "$k_qps" >>"$work/k_qps"
  echo "$k_per" >>"$work/k_per"
  echo "$k_uper" >>"$work/k_uper"
  echo "$k_sper" >>"$work/k_sper"
  echo "$k_p99_ms" >>"$work/k_p99"
done

mean() { awk '{s += $1; n++} END {printf "%.6f", (n ? s / n : 0)}' "$1"; }
ratio() { awk -v k="$(mean "$work/k_$1")" -v d="$(mean "$work/d_$1")" 'BEGIN {printf "%.2f", (d > 0 ? k / d : 0)}'; }
p99_mean=$(mean "$work/k_p99")
# User and sys apart: the kernel's UDP path (sys) costs both tools about the same per packet, so a CPU ratio
# far below 1 can only come from user time; the split shows how much of the goal is within the tool's reach.
ratios=$(printf 'ratios kubeproof/dnsperf: qps x%s (goal >= 1.0), cpu per 100k queries x%s (goal <= 0.5; user x%s, sys x%s); kubeproof P99 %.3f ms' \
  "$(ratio qps)" "$(ratio per)" "$(ratio uper)" "$(ratio sper)" "$p99_mean")

if [[ ${NO_RESULTS:-0} != 1 && $RESULTS != - ]]; then
  {
    echo
    echo "## DNS: kubeproof agent dns vs dnsperf ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "Machine: $(uname -sr), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo "Server: caching unbound $(unbound -V 2>/dev/null | awk '/^Version/ {print $2}') (2 threads, forwarding to an authoritative unbound with the lab's cluster zone, TTL 30 s) pinned to CPU $SERVER_CPU; clients pinned to CPU $CLIENT_CPU."
    echo "Load: $(wc -l <"$queries") distinct queries, -c $CLIENTS -q $OUTSTANDING -T 1, ${DURATION}s per run, rounds alternating dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}' || true) and \`${agent[*]##*/} --rate max\`."
    echo "CPU = user + sys of the client process (/usr/bin/time) per 100k completed queries; user and sys also apart."
    echo
    echo "| tool | round | QPS | completed | user s | sys s | CPU s / 100k | user s / 100k | sys s / 100k | P99 |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "$ratios"
  } >>"$RESULTS"
  log "appended to $RESULTS"
fi
echo "$ratios"
