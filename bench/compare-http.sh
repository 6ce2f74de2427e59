#!/usr/bin/env bash
# compare-http.sh - kubeproof's HTTP generator next to wrk, on the same nginx, alternating:
#   closed loop  kubeproof http --io B -tT -cC -dD  vs  wrk -tT -cC -dD   (ROUNDS rounds; each round runs wrk
#                and then every backend B of IO_BACKENDS, so drifts in machine load hit all of them alike)
#   open loop    kubeproof http --io B -R RATE  (rate accuracy: achieved / intended, goal within +-1 %)
# nginx (the lab's configuration, src/lab/nginx_service.cpp: 1 worker, access_log off) is pinned to cpu0 and the
# generators to cpu1 (taskset), as in anchor-baselines/README.md section 3. For each run: achieved req/s and client
# CPU seconds (user, sys and their sum from /usr/bin/time) per 100k requests. The last lines hold, per backend,
# the ratios kubeproof/wrk (req/s: goal >= 1.0; CPU per 100k: goal <= 0.6) and the open-loop accuracy.
#
# Environment:
#   KP_HTTP="kubeproof http"   the generator (default: kubeproof on PATH, else build/kubeproof)
#   KP_NGINX_LAB=...            the nginx starter (default build*/tests/integration/ingress/kp_nginx_lab)
#   ROUNDS=2 THREADS=1 CONNECTIONS=50 DURATION=10s  RATE (default: half the best wrk req/s, rounded down to 1000)
#   NGINX_CPU=0 CLIENT_CPU=1 NGINX_WORKERS=1  PATH_UNDER_TEST=/small.txt
#   IO_BACKENDS="epoll uring"   the backends of kubeproof http to run (--io)
#   TLS=1                       over the lab nginx's https port instead (kubeproof with -k: its throw-away CA)
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
read -r -a IO_BACKENDS <<<"${IO_BACKENDS:-epoll uring}"
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
scheme=http
tls_flags=()
if [[ ${TLS:-0} == 1 ]]; then
  scheme=https
  tls_flags=(-k)
fi
port=$(sed -n "s/.* $scheme=\([0-9]*\).*/\1/p" <<<"$ports")
[[ -n $port ]] || die "could not read the nginx port from: $ports"
url="$scheme://127.0.0.1:$port$PATH_UNDER_TEST"
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
user_of() { tail -1 "$1.time" | awk '{ printf "%.3f", $1 }'; }
sys_of() { tail -1 "$1.time" | awk '{ printf "%.3f", $2 }'; }
cpu_of() { tail -1 "$1.time" | awk '{ printf "%.3f", $1 + $2 }'; }
per100k() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", c / n * 100000; else print "nan" }'; }

# Per tool (wrk, kp-epoll, kp-uring): one line per round of "req/s user/100k sys/100k cpu/100k".
declare -A rounds=()
tools=(wrk)
for backend in "${IO_BACKENDS[@]}"; do tools+=("kp-$backend"); done
printf '%-10s %-6s %10s %10s %8s %8s %8s %11s %11s %11s\n' tool round requests req/s user_s sys_s cpu_s \
  user/100k sys/100k cpu/100k
for round in $(seq 1 "$ROUNDS"); do
  for tool in "${tools[@]}"; do
    out="$work/$tool.$round"
    if [[ $tool == wrk ]]; then
      timed "$out" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url"
    else
      timed "$out" "${http[@]}" "${tls_flags[@]}" --io "${tool#kp-}" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url"
    fi
    n=$(requests_of "$out"); r=$(rps_of "$out"); u=$(user_of "$out"); s=$(sys_of "$out"); c=$(cpu_of "$out")
    printf '%-10s %-6s %10s %10s %8s %8s %8s %11s %11s %11s\n' "$tool" "$round" "$n" "$r" "$u" "$s" "$c" \
      "$(per100k "$u" "$n")" "$(per100k "$s" "$n")" "$(per100k "$c" "$n")"
    rounds[$tool]+="$r $(per100k "$u" "$n") $(per100k "$s" "$n") $(per100k "$c" "$n")"$'\n'
  done
done

# Column $1 of a tool's rounds, averaged.
mean_of() { printf '%s' "${rounds[$1]}" | awk -v k="$2" 'NF { s += $k; n++ } END { if (n) printf "%.3f", s / n; else print "nan" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
wrk_best=$(printf '%s' "${rounds[wrk]}" | awk 'NF { if ($1 > m) m = $1 } END { print m + 0 }')
for tool in "${tools[@]}"; do
  log "means: $tool $(mean_of "$tool" 1) req/s; per 100k requests: user $(mean_of "$tool" 2) s, sys $(mean_of "$tool" 3) s, cpu $(mean_of "$tool" 4) s"
done

# Open loop at a fixed rate: half of what wrk reached, so the server has headroom and any shortfall is ours.
if [[ -z ${RATE:-} ]]; then
  RATE=$(awk -v r="$wrk_best" 'BEGIN { x = int(r / 2 / 1000) * 1000; if (x < 1000) x = 1000; print x }')
fi
declare -A accuracy=() open_cpu=()
for backend in "${IO_BACKENDS[@]}"; do
  out="$work/open.$backend"
  timed "$out" "${http[@]}" "${tls_flags[@]}" --io "$backend" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -R "$RATE" --latency "$url"
  open_rps=$(rps_of "$out"); c=$(cpu_of "$out"); open_n=$(requests_of "$out")
  schedule=$(sed -n 's/^ *Schedule: //p' "$out")
  accuracy[$backend]=$(awk -v a="$open_rps" -v r="$RATE" 'BEGIN { printf "%.4f", a / r }')
  open_cpu[$backend]=$(per100k "$c" "$open_n")
  printf '%-10s %-6s %10s %10s %8s %8s %8s %11s %11s %11s   open loop at %s/s: %s\n' "kp-$backend" open "$open_n" \
    "$open_rps" "$(user_of "$out")" "$(sys_of "$out")" "$c" "" "" "${open_cpu[$backend]}" "$RATE" "$schedule"
  grep -E '^ +(50|99|99\.900)\.000%' "$out" | head -6 | sed 's/^/    /' || true
  grep '^INVALID' "$out" || true
done

for backend in "${IO_BACKENDS[@]}"; do
  tool="kp-$backend"
  echo "RATIOS $tool/wrk req/s x$(ratio "$(mean_of "$tool" 1)" "$(mean_of wrk 1)") (goal >= 1.0);" \
    "cpu per request x$(ratio "$(mean_of "$tool" 4)" "$(mean_of wrk 4)") (goal <= 0.6;" \
    "user x$(ratio "$(mean_of "$tool" 2)" "$(mean_of wrk 2)"), sys x$(ratio "$(mean_of "$tool" 3)" "$(mean_of wrk 3)"));" \
    "open loop $RATE/s achieved x${accuracy[$backend]} (goal 0.99..1.01)"
done
