#!/usr/bin/env bash
# compare-net.sh - kubeproof's network agent next to the anchors, between the same two network namespaces
# (a veth pair, as the lab's pods), with the same CPU pinning for every tool (server on SERVER_CPU, client on
# CLIENT_CPU: on this VM a wake-up across vCPUs costs ~18 us, so unpinned comparisons mean nothing), and
# alternating tool by tool, ROUNDS rounds:
#   TCP_STREAM  kubeproof TCP_STREAM, 1 stream, 128 KiB writes, 1 s warm-up   vs  iperf3 -c -l 128K -O 1
#   TCP_RR      kubeproof TCP_RR 64 B/64 B closed loop                         vs  sockperf ping-pong --tcp -m 64
#   UDP_RR      kubeproof UDP_RR 64 B/64 B closed loop                         vs  sockperf ping-pong -m 64
# Figures: receiver goodput; P50 round trip (sockperf prints half the round trip: doubled here); client CPU
# (user+sys of the whole client process, /usr/bin/time) per transaction. Both RR tools run DURATION seconds
# in all, 0.4 s of it warm-up.
# The last line holds the ratios kubeproof/anchor. Goals: throughput >= 0.95, P50 within 5 % (0.95..1.05),
# client CPU per transaction <= 1. The figures are appended, dated, as a section of bench/RESULTS.md.
#
# Needs root (network namespaces), iproute2, iperf3, sockperf, jq, /usr/bin/time (Debian package time).
# Environment:
#   ROUNDS=2  DURATION=5  SERVER_CPU=1  CLIENT_CPU=0  RESULTS=bench/RESULTS.md (RESULTS=- : do not write)
#   KP_AGENT="kubeproof agent"   how to run the agent: "<prefix> net-server|net-client"; default: kubeproof on PATH,
#                                else build/kubeproof
# Traffic stays inside the two namespaces this script creates (10.238.0.1 <-> 10.238.0.2); both are removed at
# the end, whatever happens. Every run is bounded (DURATION, plus a timeout).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
RESULTS=${RESULTS:-$here/RESULTS.md}
ns_a="kpb$$a"
ns_b="kpb$$b"
ip_a=10.238.0.1
ip_b=10.238.0.2
work=$(mktemp -d /tmp/kp-bench-net.XXXXXX)
server_pids=()

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${server_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -rf -- "$work"
}
trap cleanup EXIT INT TERM

[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for tool in ip iperf3 sockperf jq taskset; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian packages: iproute2 iperf3 sockperf jq util-linux)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian package time)"

# --- the agent ---------------------------------------------------------------------------------------------------
if [[ -n ${KP_AGENT:-} ]]; then
  read -r -a prefix <<<"$KP_AGENT"
  agent_server=("${prefix[@]}" net-server)
  agent_client=("${prefix[@]}" net-client)
else
  source "$repo/bench/find-kubeproof.sh"
  [[ -n $kubeproof_bin ]] || die "no agent: build kubeproof (make build) or set KP_AGENT"
  agent_server=("$kubeproof_bin" agent net-server)
  agent_client=("$kubeproof_bin" agent net-client)
fi
log "agent: ${agent_client[*]}"

# --- two namespaces joined by a veth pair (the lab's layout, without the DNAT rule) ------------------------------
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "kpb$$va" netns "$ns_a" type veth peer name "kpb$$vb" netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev "kpb$$va"
ip -n "$ns_b" addr add "$ip_b/24" dev "kpb$$vb"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "kpb$$va" up
ip -n "$ns_b" link set "kpb$$vb" up

in_a() { ip netns exec "$ns_a" taskset -c "$CLIENT_CPU" "$@"; }

# Waits (bounded) until something listens on TCP port $1 in the server namespace.
wait_listening() {
  local deadline=$((SECONDS + 10))
  until ip netns exec "$ns_b" ss -Hltn "sport = :$1" | grep -q .; do
    ((SECONDS < deadline)) || die "nothing listens on port $1 after 10 s"
  done
}

# --- servers, pinned to SERVER_CPU; each is idle while another tool runs -------------------------------------------
# Started directly (not through a shell function, whose subshell would be the pid we later kill): `ip netns
# exec` and taskset exec the server, so $! is the server itself.
start_server() { # log-file command...
  local log=$1; shift
  ip netns exec "$ns_b" taskset -c "$SERVER_CPU" "$@" >"$log" 2>&1 &
  server_pids+=($!)
}
start_server "$work/agent-server.log" "${agent_server[@]}" --listen "$ip_b:7410"
start_server "$work/iperf3-server.log" iperf3 -s -B "$ip_b" -p 5201
start_server "$work/sockperf-udp.log" sockperf sr -i "$ip_b" -p 11111
start_server "$work/sockperf-tcp.log" sockperf sr --tcp -i "$ip_b" -p 11112
wait_listening 7410
wait_listening 5201
wait_listening 11112
# sockperf's UDP server has no listening TCP port: wait for its UDP socket.
deadline=$((SECONDS + 10))
until ip netns exec "$ns_b" ss -Hlun "sport = :11111" | grep -q .; do
  ((SECONDS < deadline)) || die "sockperf UDP server did not start"
done

# Runs a client command under /usr/bin/time in the client namespace; its stdout goes to $1; prints user+sys.
timed() {
  local out=$1; shift
  in_a /usr/bin/time -f '%U %S' -o "$work/time" timeout $((DURATION + 30)) "$@" >"$out" 2>"$work/stderr" || {
    cat "$work/stderr" >&2; die "failed: $*"; }
  awk '{printf "%.4f\n", $1 + $2}' "$work/time"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rr_window=$(awk -v d="$DURATION" 'BEGIN{printf "%.1f", d - 0.4}')
rows=()
add() { rows+=("$*"); printf '%-9s %-10s round %s  %s\n' "$1" "$2" "$3" "$4 $5 $6" >&2; }

for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS: TCP_STREAM"
  cpu=$(timed "$work/kp.json" "${agent_client[@]}" --server "$ip_b:7410" --scenario TCP_STREAM --duration "${DURATION}s" \
    --warmup 1s --message-size 128KiB)
  bps=$(jq -r '.throughput.bits_per_second' "$work/kp.json")
  add TCP_STREAM kubeproof "$round" "$bps" bps "cpu=$cpu"
  cpu=$(timed "$work/iperf.json" iperf3 -c "$ip_b" -p 5201 -t "$DURATION" -O 1 -l 128K -J)
  bps=$(jq -r '.end.sum_received.bits_per_second' "$work/iperf.json")
  add TCP_STREAM iperf3 "$round" "$bps" bps "cpu=$cpu"

  for proto in TCP UDP; do
    log "round $round/$ROUNDS: ${proto}_RR"
    cpu=$(timed "$work/kp.json" "${agent_client[@]}" --server "$ip_b:7410" --scenario "${proto}_RR" \
      --duration "${rr_window}s" --warmup 0.4s --request-size 64 --response-size 64)
    p50=$(jq -r '.latency.p50_s * 1e6' "$work/kp.json")
    n=$(jq -r '.transactions.total' "$work/kp.json")
    add "${proto}_RR" kubeproof "$round" "$p50" us "cpu_per_tx_us=$(awk -v c="$cpu" -v n="$n" 'BEGIN{printf "%.3f", c * 1e6 / n}') n=$n"
    if [[ $proto == TCP ]]; then
      cpu=$(timed "$work/sp.txt" sockperf pp --tcp -i "$ip_b" -p 11112 -t "$DURATION" -m 64)
    else
      cpu=$(timed "$work/sp.txt" sockperf pp -i "$ip_b" -p 11111 -t "$DURATION" -m 64)
    fi
    # sockperf prints half the round trip; its message count covers the whole run, warm-up included.
    p50=$(awk '/percentile 50.000/ {printf "%.3f", $NF * 2}' "$work/sp.txt")
    n=$(sed -n 's/.*\[Total Run\].*SentMessages=\([0-9]*\).*/\1/p' "$work/sp.txt")
    [[ -n $p50 && -n $n ]] || { cat "$work/sp.txt" >&2; die "cannot read sockperf's output"; }
    add "${proto}_RR" sockperf "$round" "$p50" us "cpu_per_tx_us=$(awk -v c="$cpu" -v n="$n" 'BEGIN{printf "%.3f", c * 1e6 / n}') n=$n"
  done
done

# --- summary: the mean of the rounds per tool, then the ratios -------------------------------------------------------
mean() { # test tool field(4=value, 6=cpu)
  printf '%s\n' "${rows[@]}" | awk -v t="$1" -v k="$2" -v f="$3" '
    $1 == t && $2 == k { v = $f; sub(/^[a-z_]*=/, "", v); s += v; n++ } END { if (n) printf "%.6g", s / n; else print "nan" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }

kp_bps=$(mean TCP_STREAM kubeproof 4); ip_bps=$(mean TCP_STREAM iperf3 4)
kp_tcp_p50=$(mean TCP_RR kubeproof 4); sp_tcp_p50=$(mean TCP_RR sockperf 4)
kp_udp_p50=$(mean UDP_RR kubeproof 4); sp_udp_p50=$(mean UDP_RR sockperf 4)
kp_tcp_cpu=$(mean TCP_RR kubeproof 6); sp_tcp_cpu=$(mean TCP_RR sockperf 6)
kp_udp_cpu=$(mean UDP_RR kubeproof 6); sp_udp_cpu=$(mean UDP_RR sockperf 6)

r_stream=$(ratio "$kp_bps" "$ip_bps")
r_tcp_p50=$(ratio "$kp_tcp_p50" "$sp_tcp_p50")
r_udp_p50=$(ratio "$kp_udp_p50" "$sp_udp_p50")
r_tcp_cpu=$(ratio "$kp_tcp_cpu" "$sp_tcp_cpu")
r_udp_cpu=$(ratio "$kp_udp_cpu" "$sp_udp_cpu")

summary=$(cat <<EOF
| test | kubeproof | anchor | ratio | goal |
|---|---|---|---|---|
| TCP_STREAM goodput | $(awk -v v="$kp_bps" 'BEGIN{printf "%.2f Gbit/s", v/1e9}') | iperf3 $(awk -v v="$ip_bps" 'BEGIN{printf "%.2f Gbit/s", v/1e9}') | $r_stream | >= 0.95 |
| TCP_RR P50 round trip | $kp_tcp_p50 us | sockperf --tcp ${sp_tcp_p50} us | $r_tcp_p50 | 0.95..1.05 |
| UDP_RR P50 round trip | $kp_udp_p50 us | sockperf ${sp_udp_p50} us | $r_udp_p50 | 0.95..1.05 |
| TCP_RR client CPU per transaction | $kp_tcp_cpu us | sockperf --tcp $sp_tcp_cpu us | $r_tcp_cpu | <= 1 |
| UDP_RR client CPU per transaction | $kp_udp_cpu us | sockperf $sp_udp_cpu us | $r_udp_cpu | <= 1 |
EOF
)
echo "$summary"

if [[ $RESULTS != - ]]; then
  [[ -f $RESULTS ]] || printf '# Benchmark results\n\nEach bench/compare-*.sh appends a dated section here.\n' >"$RESULTS"
  {
    printf '\n## Network: kubeproof agent vs iperf3 and sockperf (bench/compare-net.sh)\n\n'
    printf '%s; %s, %s CPUs (%s); load average before the run %s; veth between two network namespaces, MTU 1500; every server on CPU %s, every client on CPU %s; %s rounds of %s s, alternating; means of the rounds.\n\n' \
      "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(uname -srm)" "$(nproc)" \
      "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$load_before" "$SERVER_CPU" "$CLIENT_CPU" \
      "$ROUNDS" "$DURATION"
    echo "$summary"
    printf '\nPer round (value, then client CPU: whole process, per transaction for RR):\n\n```\n'
    printf '%s\n' "${rows[@]}"
    printf '```\n'
  } >>"$RESULTS"
  log "appended to $RESULTS"
fi

echo "ratios: tcp_stream_throughput=$r_stream tcp_rr_p50=$r_tcp_p50 udp_rr_p50=$r_udp_p50 tcp_rr_cpu_per_tx=$r_tcp_cpu udp_rr_cpu_per_tx=$r_udp_cpu"
