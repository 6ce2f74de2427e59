#!/usr/bin/env bash
# compare-http.sh - kubeproof's HTTP generator next to wrk, on the same nginx, alternating:
#   closed loop  kubeproof http -tT -cC -dD  vs  wrk -tT -cC -dD   (ROUNDS rounds each, alternating)
#   open loop    kubeproof http -R RATE      (rate accuracy: achieved / intended, goal within +-1 %)
# nginx (the lab's configuration, src/lab/nginx_service.cpp: 1 worker, access_log off) is pinned to cpu0 and the
# generators to cpu1 (taskset), as in anchor-baselines/README.md section 3. For each run: achieved req/s and client
# CPU seconds (user+sys from /usr/bin/time) per 100k requests. The last line holds the ratios kubeproof/wrk
# (req/s: goal >= 1.0; CPU per 100k: goal <= 0.5) and the open-loop accuracy.
#
# Environment:
#   KP_HTTP="kubeproof http"   the generator (default: kubeproof on PATH, else build/kubeproof)
#   KP_NGINX_LAB=...            the nginx starter (default build*/tests/integration/ingress/kp_nginx_lab)
#   ROUNDS=2 THREADS=1 CONNECTIONS=50 DURATION=10s  RATE (default: half the best wrk req/s, rounded down to 1000)
#   NGINX_CPU=0 CLIENT_CPU=1 NGINX_WORKERS=1  PATH_UNDER_TEST=/small.txt
# Traffic stays on 127.0.0.1; every run is bounded by DURATION.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-50}
DURATION=${DURATION:-10s}
NGINX_CPU=${NGINX_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX_WORKERS=${NGINX_WORKERS:-1}
PATH_UNDER_TEST=${PATH_UNDER_TEST:-/small.txt}
work=$(mktemp -d /tmp/kp-bench-http.XXXXXX)
nginx_started=0

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

find_tool() { # $1 = name under tests/integration/ingress
  local candidate
  for candidate in "$repo"/build/tests/integration/ingress/"$1" "$repo"/build*/tests/integration/ingress/"$1"; do
    if [[ -x $candidate ]]; then echo "$candidate"; return 0; fi
  done
  return 1
}

http=()
if [[ -n ${KP_HTTP:-} ]]; then
  read -r -a http <<<"$KP_HTTP"
else
  source "$repo/bench/find-kubeproof.sh"
  [[ -n $kubeproof_bin ]] && http=("$kubeproof_bin" http)
fi
[[ ${#http[@]} -gt 0 ]] || die "no generator: build kubeproof (make build) or set KP_HTTP"
nginx_lab=${KP_NGINX_LAB:-$(find_tool kp_nginx_lab || true)}
[[ -n $nginx_lab && -x $nginx_lab ]] || die "no kp_nginx_lab: build it (ninja kp_nginx_lab) or set KP_NGINX_LAB"
command -v wrk >/dev/null || die "wrk not found (Debian package wrk)"
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || die "nginx not found (Debian package nginx)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian package time)"

cleanup() {
  if [[ $nginx_started == 1 ]]; then
    "$nginx_lab" down "$work/nginx" >/dev/null 2>&1 || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT INT TERM

# nginx and everything it forks (its worker) inherit the affinity of the starter.
ports=$(taskset -c "$NGINX_CPU" "$nginx_lab" up "$work/nginx" --workers "$NGINX_WORKERS")
nginx_started=1
port=$(sed -n 's/.* http=\([0-9]*\).*/\1/p' <<<"$ports")
[[ -n $port ]] || die "could not read the nginx port from: $ports"
url="http://127.0.0.1:$port$PATH_UNDER_TEST"
log "nginx ($NGINX_WORKERS worker, cpu$NGINX_CPU) at $url; generators on cpu$CLIENT_CPU: wrk and ${http[*]}"
log "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Runs a command pinned to the client CPU under /usr/bin/time; its stdout goes to $1, "user sys" to $1.time.
# Exit code 4 from kubeproof http means "ran, but the run is invalid" (the summary says why): not a failure here.
timed() {
  local out=$1; shift
  local rc=0
  /usr/bin/time -f '%U %S' -o "$out.time" taskset -c "$CLIENT_CPU" "$@" >"$out" 2>"$out.err" || rc=$?
  if [[ $rc != 0 && $rc != 4 ]]; then
    log "command failed (exit $rc): $* ($(tail -2 "$out.err"))"
    return 1
  fi
}

# "N requests in" and "Requests/sec:" are printed alike by wrk and kubeproof http.
requests_of() { sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$1"; }
rps_of() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
cpu_of() { tail -1 "$1.time" | awk '{ printf "%.3f", $1 + $2 }'; }
per100k() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", c / n * 100000; else print "nan" }'; }

declare -a wrk_rps=() kp_rps=() wrk_cpu=() kp_cpu=()
printf '%-10s %-6s %12s %12s %10s %16s\n' tool round requests req/s cpu_s cpu_s/100k_req
for round in $(seq 1 "$ROUNDS"); do
  for tool in wrk kubeproof; do
    out="$work/$tool.$round"
    if [[ $tool == wrk ]]; then
      timed "$out" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url"
    else
      timed "$out" "${http[@]}" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url"
    fi
    n=$(requests_of "$out"); r=$(rps_of "$out"); c=$(cpu_of "$out"); p=$(per100k "$c" "$n")
    printf '%-10s %-6s %12s %12s %10s %16s\n' "$tool" "$round" "$n" "$r" "$c" "$p"
    if [[ $tool == wrk ]]; then wrk_rps+=("$r"); wrk_cpu+=("$p"); else kp_rps+=("$r"); kp_cpu+=("$p"); fi
  done
done

mean() { printf '%s\n' "$@" | awk '{ s += $1; n++ } END { if (n) printf "%.3f", s / n; else print "nan" }'; }
max_of() { printf '%s\n' "$@" | sort -g | tail -1; }
wrk_rps_mean=$(mean "${wrk_rps[@]}"); kp_rps_mean=$(mean "${kp_rps[@]}")
wrk_cpu_mean=$(mean "${wrk_cpu[@]}"); kp_cpu_mean=$(mean "${kp_cpu[@]}")

# Open loop at a fixed rate: half of what wrk reached, so the server has headroom and any shortfall is ours.
if [[ -z ${RATE:-} ]]; then
  RATE=$(awk -v r="$(max_of "${wrk_rps[@]}")" 'BEGIN { x = int(r / 2 / 1000) * 1000; if (x < 1000) x = 1000; print x }')
fi
out="$work/open"
timed "$out" "${http[@]}" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -R "$RATE" --latency "$url"
open_rps=$(rps_of "$out"); open_cpu=$(cpu_of "$out"); open_n=$(requests_of "$out")
schedule=$(sed -n 's/^ *Schedule: //p' "$out")
accuracy=$(awk -v a="$open_rps" -v r="$RATE" 'BEGIN { printf "%.4f", a / r }')
printf '%-10s %-6s %12s %12s %10s %16s   open loop at %s/s: %s\n' kubeproof open "$open_n" "$open_rps" "$open_cpu" \
  "$(per100k "$open_cpu" "$open_n")" "$RATE" "$schedule"
grep -E '^ +(50|99|99\.900)\.000%' "$out" | head -6 | sed 's/^/    /' || true
grep '^INVALID' "$out" || true

rps_ratio=$(awk -v a="$kp_rps_mean" -v b="$wrk_rps_mean" 'BEGIN { printf "%.3f", a / b }')
cpu_ratio=$(awk -v a="$kp_cpu_mean" -v b="$wrk_cpu_mean" 'BEGIN { printf "%.3f", a / b }')
log "means: wrk $wrk_rps_mean req/s at $wrk_cpu_mean cpu s/100k; kubeproof $kp_rps_mean req/s at $kp_cpu_mean cpu s/100k"
echo "RATIOS kubeproof/wrk req/s x$rps_ratio (goal >= 1.0); cpu per 100k requests x$cpu_ratio (goal <= 0.5); open loop $RATE/s achieved x$accuracy (goal 0.99..1.01)"
