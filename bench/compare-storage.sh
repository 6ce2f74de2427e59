#!/usr/bin/env bash
# compare-storage.sh - kubeproof's storage phase next to the same fio jobs run by hand, on the same directory,
# alternating (kubeproof, fio, kubeproof, fio, ...):
#   kubeproof agent storage --workloads randread,randwrite   vs   fio on the equivalent job file
# Both: a fresh test file of SIZE_MIB, 4 KiB blocks, IODEPTH, IOENGINE, direct I/O, RAMP_S of ramp then RUNTIME_S
# measured, one job after another (stonewall). kubeproof drives fio itself, so the goal is "no overhead": the
# same IOPS within 2 %. The last line holds the IOPS ratios kubeproof/fio (mean over the rounds).
#
# Environment:
#   DIR=/var/tmp/...   directory under test (default: a fresh one under /var/tmp, removed afterwards)
#   DEVICE=ram         instead of DIR: a RAM-backed loop device (file in /dev/shm, ext4, mounted for the run and
#                      removed afterwards; needs root). A VM's virtual disk varies by tens of percent between
#                      runs of fio alone, which hides a 2 % overhead; a RAM device is CPU-bound and steady, so
#                      the ratio shows what kubeproof adds around fio and nothing of the disk.
#   ROUNDS=2  SIZE_MIB=1024  RUNTIME_S=10  RAMP_S=2  IODEPTH=32  IOENGINE=libaio
#   KP_AGENT="kubeproof agent storage"   the agent command (default: kubeproof on PATH, else build/kubeproof)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-2}
SIZE_MIB=${SIZE_MIB:-1024}
RUNTIME_S=${RUNTIME_S:-10}
RAMP_S=${RAMP_S:-2}
IODEPTH=${IODEPTH:-32}
IOENGINE=${IOENGINE:-libaio}
work=$(mktemp -d /tmp/kp-bench-storage.XXXXXX)
own_dir=""
loop_dev=""
ram_file=""
mount_dir=""

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  if [[ -n $mount_dir ]]; then umount "$mount_dir" 2>/dev/null || true; rmdir "$mount_dir" 2>/dev/null || true; fi
  if [[ -n $loop_dev ]]; then losetup -d "$loop_dev" 2>/dev/null || true; fi
  if [[ -n $ram_file ]]; then rm -f -- "$ram_file"; fi
  rm -rf -- "$work"
  if [[ -n $own_dir ]]; then rm -rf -- "$own_dir"; fi
}
trap cleanup EXIT INT TERM

# --- the tools ------------------------------------------------------------------------------------------------
agent=()
if [[ -n ${KP_AGENT:-} ]]; then
  read -r -a agent <<<"$KP_AGENT"
else
  source "$repo/bench/find-kubeproof.sh"
  [[ -n $kubeproof_bin ]] && agent=("$kubeproof_bin" agent storage)
fi
[[ ${#agent[@]} -gt 0 ]] || die "no agent: build kubeproof (make build) or set KP_AGENT"
command -v fio >/dev/null || die "fio not found (Debian package fio)"
command -v jq >/dev/null || die "jq is required"

if [[ ${DEVICE:-} == ram ]]; then
  [[ $(id -u) == 0 ]] || die "DEVICE=ram needs root (losetup, mount)"
  command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (Debian package e2fsprogs)"
  ram_file=$(mktemp /dev/shm/kp-bench-storage.XXXXXX)
  truncate -s $((SIZE_MIB * 2 + 256))M "$ram_file"
  loop_dev=$(losetup --find --show "$ram_file") || die "losetup failed"
  mkfs.ext4 -q -F "$loop_dev" || die "mkfs.ext4 on $loop_dev failed"
  mount_dir=$(mktemp -d /tmp/kp-bench-storage-mnt.XXXXXX)
  mount "$loop_dev" "$mount_dir" || die "mount $loop_dev failed"
  dir=$mount_dir
elif [[ -n ${DEVICE:-} ]]; then
  die "DEVICE=$DEVICE: only DEVICE=ram is known"
elif [[ -n ${DIR:-} ]]; then
  dir=$DIR
  [[ -d $dir ]] || die "DIR=$dir is not a directory"
else
  own_dir=$(mktemp -d /var/tmp/kp-bench-storage.XXXXXX)
  dir=$own_dir
fi
log "directory $dir ($(df -T "$dir" | awk 'NR==2 {print $2 " on " $1}')); agent: ${agent[*]}; $(fio --version)"
log "each run: randread-4k then randwrite-4k, ${SIZE_MIB} MiB file, iodepth $IODEPTH, $IOENGINE, direct, ${RAMP_S}s ramp + ${RUNTIME_S}s"

# The job file kubeproof writes for these settings (src/drivers/storage/jobs.cpp, render_job_file).
job_file=$work/jobs.fio
{
  printf '[global]\ngroup_reporting=1\n'
  for rw in randread randwrite; do
    printf '\n[%s-4k]\nstonewall\nfilename=kubeproof-fio.dat\nsize=%d\nrw=%s\nbs=4096\nioengine=%s\ndirect=1\n' \
      "$rw" $((SIZE_MIB * 1048576)) "$rw" "$IOENGINE"
    printf 'iodepth=%d\nnumjobs=1\ntime_based=1\nruntime=%dms\nramp_time=%dms\n' "$IODEPTH" $((RUNTIME_S * 1000)) \
      $((RAMP_S * 1000))
  done
} >"$job_file"

rows=()
add_row() { # tool job iops p99_s
  rows+=("$1|$2|$3")
  printf '%-10s %-13s %10.0f IOPS  p99 %7.3f ms\n' "$1" "$2" "$3" "$(awk -v p="$4" 'BEGIN{print p*1000}')"
}

run_kubeproof() {
  "${agent[@]}" --dir "$dir" --workloads randread,randwrite --size "${SIZE_MIB}MiB" --iodepth "$IODEPTH" \
    --ioengine "$IOENGINE" --runtime "${RUNTIME_S}s" --ramp-time "${RAMP_S}s" >"$work/kp.json" 2>"$work/kp.err" ||
    { cat "$work/kp.err" >&2; die "kubeproof agent failed"; }
  for job in randread-4k randwrite-4k; do
    add_row kubeproof "$job" "$(jq -r ".jobs[] | select(.name == \"$job\") | .iops" "$work/kp.json")" \
      "$(jq -r ".jobs[] | select(.name == \"$job\") | .p99_s" "$work/kp.json")"
  done
}

run_fio() {
  local scratch
  scratch=$(mktemp -d "$dir/.bench-fio.XXXXXX")
  (cd "$scratch" && fio --output-format=json --eta=never --output="$work/fio.json" "$job_file") >"$work/fio.err" 2>&1 ||
    { cat "$work/fio.err" >&2; rm -rf -- "$scratch"; die "fio failed"; }
  rm -rf -- "$scratch"
  add_row fio randread-4k "$(jq -r '.jobs[] | select(.jobname == "randread-4k") | .read.iops' "$work/fio.json")" \
    "$(jq -r '.jobs[] | select(.jobname == "randread-4k") | .read.clat_ns.percentile."99.000000" / 1e9' "$work/fio.json")"
  add_row fio randwrite-4k "$(jq -r '.jobs[] | select(.jobname == "randwrite-4k") | .write.iops' "$work/fio.json")" \
    "$(jq -r '.jobs[] | select(.jobname == "randwrite-4k") | .write.clat_ns.percentile."99.000000" / 1e9' "$work/fio.json")"
}

# Each round runs both back to back, so a load that drifts over minutes hits both alike; the order flips every
# round so neither always runs first.
for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))"
  if ((round % 2 == 1)); then
    run_kubeproof
    run_fio
  else
    run_fio
    run_kubeproof
  fi
done

# --- ratios ------------------------------------------------------------------------------------------------------
# Per round the paired ratio kubeproof/fio (the two ran within seconds of each other); the median of those is the
# result, robust to a round that a neighbour's burst of work spoiled. The mean IOPS and fio's own spread between
# rounds (the noise floor) are printed beside it.
printf '%s\n' "${rows[@]}" | awk -F'|' '
  {
    key = $1 "|" $2; iops[key] += $3; n[key]++
    if (!(key in lo) || $3 < lo[key]) lo[key] = $3
    if (!(key in hi) || $3 > hi[key]) hi[key] = $3
    value[key, n[key]] = $3
  }
  function median(a, m,    i, j, t) {
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (m % 2 == 1) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    line = ""; worst = 0; noise = 0
    split("randread-4k randwrite-4k", jobs, " ")
    for (i = 1; i <= 2; i++) {
      j = jobs[i]; k = "kubeproof|" j; f = "fio|" j
      mk = iops[k] / n[k]; mf = iops[f] / n[f]
      delete pair
      for (r = 1; r <= n[k]; r++) pair[r] = value[k, r] / value[f, r]
      med = median(pair, n[k])
      printf "%-13s kubeproof mean %8.0f IOPS (%.0f..%.0f)  fio mean %8.0f IOPS (%.0f..%.0f)  mean ratio x%.3f\n", j, mk, lo[k], hi[k], mf, lo[f], hi[f], mk / mf
      d = med > 1 ? med - 1 : 1 - med
      if (d > worst) worst = d
      s = (hi[f] - lo[f]) / mf
      if (s > noise) noise = s
      line = line sprintf("%s x%.3f, ", j, med)
    }
    sub(/, $/, "", line)
    printf "RATIO kubeproof/fio IOPS (median of %d paired rounds) %s (within 2 %%: %s; fio alone varied %.0f %% between rounds)\n", n["fio|randread-4k"], line, worst <= 0.02 ? "yes" : "no", noise * 100
  }'
