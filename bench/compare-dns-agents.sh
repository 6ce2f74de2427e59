#!/usr/bin/env bash
# compare-dns-agents.sh - how the total DNS rate grows with the number of agent pods, on one machine.
# Runs `kubeproof run --target cluster --only dns --agents N` against the API fixture's process kubelet and
# its cluster DNS (a real unbound in a pod of its own behind kube-system/kube-dns; every agent pod queries it
# through the resolv.conf the kubelet wrote, search path and ndots:5 included), N = 1, 2, 3, alternating,
# ROUNDS rounds, each agent in max mode (OUTSTANDING in flight per agent, CLIENTS sockets) for DURATION s.
# Figures: dns.qps (the sum of what the agents held) and the merged P99, read from report.json. The last lines
# give the ratios to one agent. Appended, dated, as a section of bench/RESULTS.md.
#
# Needs root, python3, iproute2, nftables, unbound. Environment:
#   ROUNDS=3  DURATION=4  OUTSTANDING=100  CLIENTS=4  RESULTS=bench/RESULTS.md (RESULTS=- : do not write)
# The fixture, its pods and namespaces are removed at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4}
OUTSTANDING=${OUTSTANDING:-100}
CLIENTS=${CLIENTS:-4}
RESULTS=${RESULTS:-$here/RESULTS.md}
work=$(mktemp -d /tmp/kp-bench-dns-agents.XXXXXX)
fixture_pid=""

log() { printf '[bench] %s\n' "$*" >&2; }
cleanup() {
  [[ -n $fixture_pid ]] && kill "$fixture_pid" 2>/dev/null && wait "$fixture_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/find-kubeproof.sh
source "$here/find-kubeproof.sh"
kubeproof=$kubeproof_bin
[[ -n $kubeproof ]] || { log "no kubeproof on PATH or in build/ (make first)"; exit 1; }
[[ $(id -u) == 0 ]] || { log "needs root (the fixture's kubelet)"; exit 1; }

python3 "$repo/tests/fixtures/kube-apiserver/fake_apiserver.py" --dir "$work/fx" --config "$(printf \
  '{"kubelet": {"binary": "%s", "images": ["kubeproof-agent"], "termination_linger_ms": 300, "cluster_dns": {"external": {"example.com": "192.0.2.7"}}}}' \
  "$kubeproof")" > "$work/fixture.out" 2> "$work/fixture.err" &
fixture_pid=$!
for _ in $(seq 100); do [[ -s $work/fixture.out ]] && break; sleep 0.1; done
[[ -s $work/fixture.out ]] || { log "the fixture did not start: $(cat "$work/fixture.err")"; exit 1; }

cat > "$work/plan.yaml" <<PLAN
name: dns-agents
type: load
target: cluster
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
phases:
  - phase: dns
    duration: 15m
    settings: {rate: max, outstanding: ${OUTSTANDING}, clients: ${CLIENTS}, external_names: [example.com], pods: {start_lead: 5s}}
PLAN

run() {  # agents -> "qps p99_ms"
  local n=$1 out="$work/report-$1.json"
  # A load phase is 15..60 minutes: 15m scaled to DURATION seconds (the report says so).
  "$kubeproof" run --plan "$work/plan.yaml" --kubeconfig "$work/fx/kubeconfig" --only dns --agents "$n" \
    --duration-scale "$scale" --yes --format json > "$out" 2> "$work/run-$n.err" || true
  python3 - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
dns = next(p for p in report["phases"] if p["phase"] == "dns")
values = {}
for row in dns.get("rows", []) + dns.get("informational", []):
    value = row.get("measured", row.get("value"))
    if isinstance(value, (int, float)):
        values[row["metric"]] = value
print(f'{values.get("dns.qps", 0):.0f} {values.get("dns.p99", 0) * 1000:.2f}')
PY
}

scale=$(python3 -c "print(${DURATION} / 900)")
declare -A qps p99
for round in $(seq "$ROUNDS"); do
  for n in 1 2 3; do
    read -r q p < <(run "$n")
    qps[$n]+="$q "
    p99[$n]+="$p "
    log "round $round, $n agent(s): $q answered/s, P99 $p ms"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${qps[1]}" | median)
{
  echo
  echo "## DNS agent pods: total rate from 1 to 3 agents ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "\`bench/compare-dns-agents.sh\`: fixture cluster DNS (one unbound thread in its own pod), agents in max"
  echo "mode (${OUTSTANDING} outstanding, ${CLIENTS} clients each), ${DURATION} s, ${ROUNDS} rounds alternating, medians;"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs."
  echo
  echo "| agents | dns.qps (sum) | P99 ms | rate / 1 agent | rounds (qps) |"
  echo "|---|---|---|---|---|"
  for n in 1 2 3; do
    m=$(echo "${qps[$n]}" | median)
    p=$(echo "${p99[$n]}" | median)
    echo "| $n | $m | $p | $(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}') | ${qps[$n]}|"
  done
} | tee -a "$( [[ $RESULTS == - ]] && echo /dev/null || echo "$RESULTS")"
