#!/usr/bin/env bash
# compare-cluster.sh - the agents as pods vs the same agents without Kubernetes, on the same machine,
# alternating, ROUNDS rounds. What it shows: what the pod path (the pod runner, the API fixture's process
# kubelet: a network namespace per pod on a bridge, a PVC bound to a directory) costs the agents' figures.
#   pods:  `kubeproof run --target cluster --only network` (placement same-node: two pods on the fixture's
#          bridge) and `--only storage` (a PVC of the fixture's default class), read from report.json
#   local: `kubeproof agent net-server|net-client` in two network namespaces joined by a veth pair (the lab's
#          layout), and `kubeproof agent storage --dir` on a directory of the same disk
#   bridge: the same two agents in two namespaces on a Linux bridge, as the fixture wires its pods (a veth
#          each to a bridge): what the pod path costs beyond the bridge hop is pods/bridge
# The same tests with the same flags: TCP_STREAM (1 stream, 128 KiB writes), TCP_RR, UDP_RR and TCP_CRR
# (64 B/64 B, closed loop), DURATION s each after a 0.4 s warm-up; fio randread 4K and seqread 1M on a
# 64 MiB file, FIO_RUNTIME s each. Figures: throughput, P50 round trip, IOPS, MB/s, each the median of the
# rounds. Nothing is pinned (pods cannot be). The last lines give the ratios pods/local and pods/bridge
# (goal: within 5 %, 0.95..1.05). The figures are appended, dated, as a section of bench/RESULTS.md.
#
# Needs root, python3, iproute2, nftables, fio, jq. Environment:
#   ROUNDS=5  DURATION=3  FIO_RUNTIME=3  RESULTS=bench/RESULTS.md (RESULTS=- : do not write)
#   DEVICE=ram   both the fixture's volumes and the local directory on one RAM-backed loop device (a file in
#                /dev/shm, ext4, mounted for the run), as bench/compare-storage.sh does: a virtual disk's
#                round-to-round spread (30k-70k IOPS seen) hides a 5 % difference; RAM keeps the pod path's cost
# Everything it creates (the fixture and its pods, the namespaces, the work directory) is removed at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
FIO_RUNTIME=${FIO_RUNTIME:-3}
RESULTS=${RESULTS:-$here/RESULTS.md}
ns_a="kpc$$a"
ns_b="kpc$$b"
ns_c="kpc$$c"
ns_d="kpc$$d"
bridge="kpc$$br"
ip_a=10.236.0.1
ip_b=10.236.0.2
work=$(mktemp -d /tmp/kp-bench-cluster.XXXXXX)
pids=()

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

disk=$work  # where the fixture's volumes and the local directory are (DEVICE=ram: a mounted RAM disk)
loop_dev=""
ram_file=""

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  ip netns del "$ns_c" 2>/dev/null || true
  ip netns del "$ns_d" 2>/dev/null || true
  ip link del "$bridge" 2>/dev/null || true
  if [[ $disk != "$work" ]]; then umount "$disk" 2>/dev/null || true; fi
  if [[ -n $loop_dev ]]; then losetup -d "$loop_dev" 2>/dev/null || true; fi
  if [[ -n $ram_file ]]; then rm -f -- "$ram_file"; fi
  rm -rf -- "$work"
}
trap cleanup EXIT INT TERM

[[ $(id -u) == 0 ]] || die "needs root (network namespaces, the fixture's kubelet)"
for tool in ip nft jq fio python3; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian packages: iproute2 nftables jq fio python3)"
done
source "$repo/bench/find-kubeproof.sh"
[[ -n $kubeproof_bin ]] || die "no kubeproof: build it (make build)"
log "kubeproof: $kubeproof_bin"
if [[ ${DEVICE:-} == ram ]]; then
  command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (Debian package e2fsprogs)"
  ram_file=$(mktemp /dev/shm/kp-bench-cluster.XXXXXX)
  truncate -s 1G "$ram_file"
  loop_dev=$(losetup --find --show "$ram_file") || die "losetup failed"
  mkfs.ext4 -q -F "$loop_dev" || die "mkfs.ext4 on $loop_dev failed"
  disk=$work/ram
  mkdir -p "$disk"
  mount "$loop_dev" "$disk" || { disk=$work; die "mount $loop_dev failed"; }
  log "volumes on a RAM-backed loop device ($loop_dev, ext4)"
elif [[ -n ${DEVICE:-} ]]; then
  die "DEVICE=$DEVICE: only DEVICE=ram is known"
fi

# --- the fixture with its process kubelet --------------------------------------------------------------------
config=$(jq -cn --arg bin "$kubeproof_bin" '{kubelet: {binary: $bin, images: ["kubeproof-agent", "kubeproof-agent-storage"]}}')
python3 "$repo/tests/fixtures/kube-apiserver/fake_apiserver.py" --dir "$disk/fixture" --config "$config" \
  >"$work/fixture.out" 2>"$work/fixture.err" &
pids+=($!)
for _ in $(seq 600); do
  [[ -s $work/fixture.out ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || die "the fixture did not start: $(tail -3 "$work/fixture.err")"
  sleep 0.1  # the fixture prints its ready line once: poll the file for it, bounded (60 s)
done
kubeconfig=$(head -1 "$work/fixture.out" | jq -r .kubeconfig)
[[ -f $kubeconfig ]] || die "the fixture gave no kubeconfig"

cat >"$work/plan.yaml" <<PLAN
name: compare-cluster
type: smoke
target: cluster
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
capacity: {pod_network: 1Gbps}
phases:
  - phase: network
    duration: 1m
    load: 10%
    settings: {duration: ${DURATION}s, warmup: 400ms, placements: [same-node]}
  - phase: storage
    duration: 1m
    load: 10%
    settings: {workloads: [randread, seqread], size: 64MiB, runtime: ${FIO_RUNTIME}s, ramp_time: 1s}
PLAN

# --- the local side: two namespaces joined by a veth pair ------------------------------------------------------
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "kpc$$va" netns "$ns_a" type veth peer name "kpc$$vb" netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev "kpc$$va"
ip -n "$ns_b" addr add "$ip_b/24" dev "kpc$$vb"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "kpc$$va" up
ip -n "$ns_b" link set "kpc$$vb" up
ip netns exec "$ns_a" "$kubeproof_bin" agent net-server --listen "0.0.0.0:7410" >"$work/server.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/server.out ]] && break; sleep 0.1; done  # its listening line, bounded
# --- the bridge side: two namespaces, a veth each to a bridge in the host namespace -----------------------------
ip link add "$bridge" type bridge
ip link set "$bridge" up
i=1
for ns in "$ns_c" "$ns_d"; do
  ip netns add "$ns"
  ip link add "${ns}h" type veth peer name "${ns}p" netns "$ns"
  ip link set "${ns}h" master "$bridge" up
  ip -n "$ns" addr add "10.236.1.$i/24" dev "${ns}p"
  ip -n "$ns" link set "${ns}p" up
  ip -n "$ns" link set lo up
  i=$((i + 1))
done
ip netns exec "$ns_c" "$kubeproof_bin" agent net-server --listen "0.0.0.0:7410" >"$work/server-br.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/server-br.out ]] && break; sleep 0.1; done  # its listening line, bounded
mkdir -p "$disk/volume"

out="$work/figures.txt"
: >"$out"
local_net() {  # scenario round [side client-namespace server-ip]
  local side=${3:-local} client_ns=${4:-$ns_b} server_ip=${5:-$ip_a}
  ip netns exec "$client_ns" timeout 60 "$kubeproof_bin" agent net-client --server "$server_ip:7410" --scenario "$1" \
    --streams 1 --duration "${DURATION}s" --warmup 400ms --message-size 131072 --request-size 64 \
    --response-size 64 --rate max 2>/dev/null | tail -1 >"$work/local.json"
  if [[ $1 == TCP_STREAM ]]; then
    echo "$1 $side $2 $(jq -r '.throughput.bits_per_second' "$work/local.json")" >>"$out"
  else
    echo "$1 $side $2 $(jq -r '.latency.p50_s * 1e6' "$work/local.json")" >>"$out"
  fi
}
local_storage() {  # round
  timeout 120 "$kubeproof_bin" agent storage --dir "$disk/volume" --workloads randread,seqread --size 64MiB \
    --runtime "${FIO_RUNTIME}s" --ramp-time 1s 2>/dev/null | tail -1 >"$work/storage.json"
  echo "randread local $1 $(jq -r '.measurements[] | select(.metric=="storage.randread_4k.iops") | .value' "$work/storage.json")" >>"$out"
  echo "seqread local $1 $(jq -r '.measurements[] | select(.metric=="storage.seqread.bandwidth") | .value' "$work/storage.json")" >>"$out"
}
pods() {  # round
  "$kubeproof_bin" run --plan "$work/plan.yaml" --kubeconfig "$kubeconfig" --only network,storage \
    --agent-image kubeproof-agent:bench --image-pull-policy Never --format json >"$work/report.json" \
    2>"$work/run.err" || true
  local info='[.phases[] | (.informational + .rows)[]]'
  p50() { jq -r "$info | map(select(.metric==\"$1\"))[0].note // \"\"" "$work/report.json" |
            sed -n 's/.*round trip P50 \([0-9.]*\) us.*/\1/p'; }
  value() { jq -r "$info | map(select(.metric==\"$1\"))[0] | (.value // .measured) // \"nan\"" "$work/report.json"; }
  echo "TCP_STREAM pods $1 $(value net.same_node.throughput)" >>"$out"
  echo "TCP_RR pods $1 $(p50 net.same_node.latency.p99)" >>"$out"
  echo "UDP_RR pods $1 $(p50 net.same_node.udp_rr.p99)" >>"$out"
  echo "TCP_CRR pods $1 $(p50 net.same_node.tcp_crr.p99)" >>"$out"
  echo "randread pods $1 $(value storage.randread_4k.iops)" >>"$out"
  echo "seqread pods $1 $(value storage.seqread.bandwidth)" >>"$out"
  log "round $1: pods done (report: $(jq -r '.overall.verdict_text // "?"' "$work/report.json"))"
}

for round in $(seq "$ROUNDS"); do
  # Alternate which side goes first, so a drift in the machine's load does not favour one.
  if ((round % 2)); then
    pods "$round"
    for s in TCP_STREAM TCP_RR UDP_RR TCP_CRR; do local_net "$s" "$round"; done
    for s in TCP_STREAM TCP_RR UDP_RR TCP_CRR; do local_net "$s" "$round" bridge "$ns_d" 10.236.1.1; done
    local_storage "$round"
  else
    for s in TCP_STREAM TCP_RR UDP_RR TCP_CRR; do local_net "$s" "$round" bridge "$ns_d" 10.236.1.1; done
    for s in TCP_STREAM TCP_RR UDP_RR TCP_CRR; do local_net "$s" "$round"; done
    local_storage "$round"
    pods "$round"
  fi
done

# The median of the rounds, not the mean: one round disturbed by the machine's other work (a busy core for a
# second) moves a mean of 3-5 rounds by tens of percent and a median not at all.
median() {
  awk -v t="$1" -v s="$2" '$1==t && $2==s && $4!="" && $4!="nan" {print $4}' "$out" | sort -g |
    awk '{v[NR]=$1} END {if (!NR) print "nan"; else if (NR % 2) printf "%.6g", v[(NR+1)/2]; else printf "%.6g", (v[NR/2]+v[NR/2+1])/2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a=="nan" || b=="nan" || b==0) print "nan"; else printf "%.3f", a/b}'; }
table="| figure | pods | local (veth pair) | bridge | pods/local | pods/bridge |
|---|---|---|---|---|---|"
line=""
for t in TCP_STREAM TCP_RR UDP_RR TCP_CRR randread seqread; do
  p=$(median "$t" pods); l=$(median "$t" local); b=$(median "$t" bridge); r=$(ratio "$p" "$l"); rb=$(ratio "$p" "$b")
  case $t in
    TCP_STREAM) unit="bit/s goodput";; TCP_RR|UDP_RR|TCP_CRR) unit="us P50 round trip";;
    randread) unit="IOPS";; seqread) unit="bit/s";;
  esac
  table+=$'\n'"| $t ($unit) | $p | $l | $b | $r | $rb |"
  line+="$t=$r (bridge $rb) "
done
printf '%s\n' "$table"
echo "ratios pods/local (pods/bridge): $line"
if [[ $RESULTS != - ]]; then
  {
    printf '\n## Agents as pods on the fixture vs the same agents locally (bench/compare-cluster.sh, %s)\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'Machine: `nproc` %s, load average %s at the end. %s rounds, alternating, medians; network tests %ss each, fio jobs %ss; volumes on %s.\n\n' \
      "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$ROUNDS" "$DURATION" "$FIO_RUNTIME" \
      "$([[ -n $loop_dev ]] && echo 'a RAM-backed loop device (DEVICE=ram)' || echo "the disk under $work")"
    printf '%s\n\nratios pods/local (pods/bridge): %s\n\nRaw figures (test side round value):\n```\n%s\n```\n' "$table" "$line" "$(cat "$out")"
  } >>"$RESULTS"
  log "appended to $RESULTS"
fi
