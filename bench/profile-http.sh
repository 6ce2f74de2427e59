#!/usr/bin/env bash
# profile-http.sh - where a client's CPU goes, wrk next to kubeproof http on each I/O backend: perf samples the
# client (pinned to CLIENT_CPU, nginx on NGINX_CPU, as in compare-http.sh) and prints, per client, the share of
# its samples (inclusive, call graphs) in the paths that matter: the TCP send (which on loopback includes the
# receive processing of nginx's side, run in the sender's softirq), the receive, the wait (epoll or io_uring,
# with the sleep and wake-up), the system call entry, and user space.
#
# Environment: KP_HTTP, KP_NGINX_LAB, THREADS=1 CONNECTIONS=50 DURATION=4s NGINX_CPU=0 CLIENT_CPU=1
#   IO_BACKENDS="epoll uring" TLS=1 (https, kubeproof with -k). Needs perf (Debian package linux-perf) and root
#   or kernel.perf_event_paranoid <= 1 for kernel call graphs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-50}
DURATION=${DURATION:-4s}
NGINX_CPU=${NGINX_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
read -r -a IO_BACKENDS <<<"${IO_BACKENDS:-epoll uring}"
work=$(mktemp -d /tmp/kp-profile-http.XXXXXX)
nginx_started=0

log() { printf '[profile] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

http=()
if [[ -n ${KP_HTTP:-} ]]; then
  read -r -a http <<<"$KP_HTTP"
else
  source "$repo/bench/find-kubeproof.sh"
  [[ -n $kubeproof_bin ]] && http=("$kubeproof_bin" http)
fi
[[ ${#http[@]} -gt 0 ]] || die "no generator: build kubeproof (make build) or set KP_HTTP"
nginx_lab=${KP_NGINX_LAB:-}
if [[ -z $nginx_lab ]]; then
  for candidate in "$repo"/build/tests/integration/ingress/kp_nginx_lab "$repo"/build*/tests/integration/ingress/kp_nginx_lab; do
    if [[ -x $candidate ]]; then nginx_lab=$candidate; break; fi
  done
fi
[[ -n $nginx_lab && -x $nginx_lab ]] || die "no kp_nginx_lab: build it (ninja kp_nginx_lab) or set KP_NGINX_LAB"
command -v perf >/dev/null || die "perf not found (Debian package linux-perf)"
command -v wrk >/dev/null || die "wrk not found (Debian package wrk)"

cleanup() {
  if [[ $nginx_started == 1 ]]; then
    "$nginx_lab" down "$work/nginx" >/dev/null 2>&1 || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT INT TERM

ports=$(taskset -c "$NGINX_CPU" "$nginx_lab" up "$work/nginx" --workers 1)
nginx_started=1
scheme=http
tls_flags=()
if [[ ${TLS:-0} == 1 ]]; then
  scheme=https
  tls_flags=(-k)
fi
port=$(sed -n "s/.* $scheme=\([0-9]*\).*/\1/p" <<<"$ports")
[[ -n $port ]] || die "could not read the nginx port from: $ports"
url="$scheme://127.0.0.1:$port/small.txt"
log "nginx on cpu$NGINX_CPU at $url; clients on cpu$CLIENT_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Inclusive share of the first symbol of each group found in the report (a group lists alternative names of
# the same path across backends).
share() { # $1 = report file, $2... = symbols
  local report=$1; shift
  local symbol
  for symbol in "$@"; do
    local value
    value=$(awk -v s="$symbol" '$NF == s && $1 ~ /%$/ && !done { sub("%", "", $1); print $1; done = 1 }' "$report")
    if [[ -n $value ]]; then echo "$value"; return; fi
  done
  echo 0
}

printf '%-10s %9s %8s %8s %8s %8s %8s %8s %8s\n' client requests kernel tcp_send rx_soft tcp_recv wait sched user
for tool in wrk "${IO_BACKENDS[@]/#/kp-}"; do
  data="$work/$tool.data"
  if [[ $tool == wrk ]]; then
    perf record -q -g -o "$data" -- taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url" \
      >"$work/$tool.out" 2>/dev/null
  else
    perf record -q -g -o "$data" -- taskset -c "$CLIENT_CPU" "${http[@]}" "${tls_flags[@]}" --io "${tool#kp-}" \
      -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url" >"$work/$tool.out" 2>/dev/null
  fi
  perf report -i "$data" --children --sort sym -g none --stdio 2>/dev/null | grep -v '^#' >"$work/$tool.report"
  kernel=$(perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null |
    awk '$2 == "[kernel.kallsyms]" && !done { sub("%", "", $1); print $1; done = 1 }')
  requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/$tool.out")
  printf '%-10s %9s %8s %8s %8s %8s %8s %8s %8s\n' "$tool" "$requests" "${kernel:-0}" \
    "$(share "$work/$tool.report" tcp_sendmsg)" "$(share "$work/$tool.report" net_rx_action)" \
    "$(share "$work/$tool.report" tcp_recvmsg)" "$(share "$work/$tool.report" io_cqring_wait do_epoll_wait)" \
    "$(share "$work/$tool.report" schedule)" "$(awk -v k="${kernel:-0}" 'BEGIN { printf "%.2f", 100 - k }')"
done
echo "columns: % of the client's samples; tcp_send includes rx_soft (nginx's receive, run in the sender's softirq);"
echo "wait is epoll_wait or io_uring's completion wait (io_uring's includes the receives it runs as task work); user = 100 - kernel"
