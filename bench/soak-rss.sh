#!/bin/sh
# An accelerated soak's memory: `kubeproof soak --only etcd` at 100 % of the plan's etcd capacity in 10 s
# rounds with a checkpoint every 10 s, RSS sampled every 10 s from /proc until the soak ends.
# Usage: bench/soak-rss.sh [DURATION] (default 3m). Needs etcd (Debian etcd-server); uses a lab of its own.
set -eu
duration=${1:-3m}
bin=${KUBEPROOF:-$(dirname "$0")/../build/kubeproof}
work=$(mktemp -d)
trap '"$bin" lab --lab-dir "$work/lab" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cat > "$work/plan.yaml" <<PLAN
name: soak-rss
type: soak
target: local
soak_duration: $duration
checkpoint: 10s
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
capacity:
  etcd_ops: 5.5k
phases:
  - phase: etcd
    duration: 10s
    load: 100%
PLAN
"$bin" lab --lab-dir "$work/lab" up --service etcd >/dev/null
"$bin" soak --plan "$work/plan.yaml" --lab-dir "$work/lab" --results "$work/results" --no-live-view \
  --format json >"$work/report.json" 2>"$work/err.txt" &
pid=$!
start=$(date +%s)
echo "seconds rss_kib"
while kill -0 "$pid" 2>/dev/null; do
  echo "$(( $(date +%s) - start )) $(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)"
  sleep 10
done
wait "$pid" || true
