#!/usr/bin/env bash
# Proves the agent image archives load where clusters load them, and run as the non-root user:
#
#   scripts/check-agent-image.sh [ARCHIVE...]     (default: $KP_AGENT_IMAGE_DIR/kubeproof-agent*-<version>.oci.tar,
#                                                  KP_AGENT_IMAGE_DIR defaulting to build)
#
# For each archive: its config says USER 65534:65534 and ENTRYPOINT ["kubeproof", "agent"]; a private
# containerd (its own root, state and socket under a temporary folder: the machine's containerd, if any, is not
# touched) imports it with `ctr -n k8s.io images import` under the name the kubelet asks for; runc runs
# `kubeproof version` in it; `kubeproof agent storage` on a root-owned 0755 bind mount is refused with the
# uid 65534 in its one JSON line (so the process really is not root); the storage image also runs `fio --version`
# and a short real measurement with the storage agent on a bind-mounted folder owned by 65534.
# Installs containerd and runc from Debian when they are missing (as root). Exit 77 when there is no archive
# (the ctest skips), 1 when a check fails, 0 when all pass. Leaves nothing behind.
set -euo pipefail

cd "$(dirname "$0")/.."

say() { echo "check-agent-image: $*"; }
die() { echo "check-agent-image: $*" >&2; exit 1; }

VERSION=$(sed -n 's/^project(kubeproof VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
if [ $# -gt 0 ]; then
  ARCHIVES=("$@")
else
  ARCHIVES=()
  DIR=${KP_AGENT_IMAGE_DIR:-build}
  for candidate in "$DIR/kubeproof-agent-$VERSION.oci.tar" "$DIR/kubeproof-agent-storage-$VERSION.oci.tar"; do
    [ -f "$candidate" ] && ARCHIVES+=("$candidate")
  done
fi
if [ ${#ARCHIVES[@]} -eq 0 ]; then
  echo "check-agent-image: SKIPPED: no image archive in ${DIR:-build}/ (run \`make agent-image\` first)"
  exit 77
fi
[ "$(id -u)" = 0 ] || die "must run as root (containerd and runc need it)"
if ! command -v ctr > /dev/null || ! command -v containerd > /dev/null || ! command -v runc > /dev/null; then
  say "installing containerd and runc (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd runc > /dev/null \
    || die "containerd or runc is missing and apt-get install failed"
fi

WORK=$(mktemp -d /tmp/kp-image-check-XXXXXX)
CONTAINERD_PID=""
cleanup() {
  local status=$?
  if [ -n "$CONTAINERD_PID" ]; then
    kill "$CONTAINERD_PID" 2> /dev/null || true
    for _ in $(seq 50); do kill -0 "$CONTAINERD_PID" 2> /dev/null || break; sleep 0.1; done
  fi
  # Snapshots and shims may leave mounts under the private root.
  { grep -o " $WORK/[^ ]*" /proc/mounts || true; } | sort -r | while read -r mount; do umount -l "$mount" || true; done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT INT TERM

cat > "$WORK/config.toml" << EOF
version = 2
root = "$WORK/root"
state = "$WORK/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$WORK/containerd.sock"
[ttrpc]
  address = "$WORK/containerd.sock.ttrpc"
EOF
containerd -c "$WORK/config.toml" > "$WORK/containerd.log" 2>&1 &
CONTAINERD_PID=$!
CTR=(ctr --address "$WORK/containerd.sock" -n k8s.io)
for _ in $(seq 100); do
  "${CTR[@]}" version > /dev/null 2>&1 && break
  kill -0 "$CONTAINERD_PID" 2> /dev/null || die "containerd did not start: $(tail -n1 "$WORK/containerd.log")"
  sleep 0.1
done
"${CTR[@]}" version > /dev/null 2>&1 || die "containerd did not answer within 10s"

# The image's config from the OCI layout in the archive: user and entrypoint.
image_config() {
  python3 - "$1" << 'EOF'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as tar:
    def blob(digest):
        algorithm, value = digest.split(":")
        return json.load(tar.extractfile(f"./blobs/{algorithm}/{value}"))
    index = json.load(tar.extractfile("./index.json"))
    descriptor = index["manifests"][0]
    manifest = blob(descriptor["digest"])
    config = blob(manifest["config"]["digest"])["config"]
    print(descriptor["annotations"]["io.containerd.image.name"])
    print(config.get("User", ""))
    print(json.dumps(config.get("Entrypoint")))
EOF
}

mkdir -p "$WORK/probe"
chmod 0755 "$WORK/probe"
failures=0
check() {
  local archive=$1
  local name user entrypoint
  { read -r name; read -r user; read -r entrypoint; } < <(image_config "$archive")
  say "$archive: $name ($(du -m "$archive" | cut -f1) MB)"
  [ "$user" = "65534:65534" ] || { say "FAIL: USER is \"$user\", not 65534:65534"; return 1; }
  [ "$entrypoint" = '["kubeproof", "agent"]' ] || { say "FAIL: ENTRYPOINT is $entrypoint"; return 1; }
  "${CTR[@]}" images import --snapshotter native "$archive" > "$WORK/import.log" 2>&1 \
    || { say "FAIL: ctr images import: $(tail -n1 "$WORK/import.log")"; return 1; }
  "${CTR[@]}" images ls -q | grep -qx "$name" || { say "FAIL: $name is not among the imported images"; return 1; }
  local id="kp-check-$$-$RANDOM"
  local out
  out=$("${CTR[@]}" run --rm --snapshotter native "$name" "$id-v" kubeproof version 2>&1) \
    || { say "FAIL: kubeproof version in the image: $out"; return 1; }
  [ "$out" = "kubeproof $VERSION" ] || { say "FAIL: kubeproof version said \"$out\""; return 1; }
  # A root-owned directory refuses the agent: its line names uid 65534, so the image's user is not root.
  out=$("${CTR[@]}" run --rm --snapshotter native \
    --mount "type=bind,src=$WORK/probe,dst=/probe,options=rbind:rw" "$name" "$id-u" \
    kubeproof agent storage --dir /probe 2> /dev/null || true)
  if [[ "$out" != *'"kind":"kubeproof.agent.storage"'* || "$out" != *'uid 65534'* ]]; then
    say "FAIL: the agent as the image's user: expected a refusal naming uid 65534, got: $out"
    return 1
  fi
  if [[ "$name" == *kubeproof-agent-storage:* ]]; then
    out=$("${CTR[@]}" run --rm --snapshotter native "$name" "$id-f" fio --version 2>&1) \
      || { say "FAIL: fio --version in the storage image: $out"; return 1; }
    say "fio in the image: $out"
    # A real measurement as nobody on a volume it owns (what a PVC with fsGroup gives): one JSON line, no error.
    mkdir -p "$WORK/volume"
    chown 65534:65534 "$WORK/volume"
    out=$("${CTR[@]}" run --rm --snapshotter native \
      --mount "type=bind,src=$WORK/volume,dst=/volume,options=rbind:rw" "$name" "$id-s" \
      kubeproof agent storage --dir /volume --workloads randread,randwrite --size 8MiB --runtime 1s \
      --ramp-time 0s 2> "$WORK/storage.err" || true)
    if [[ "$out" != *'"kind":"kubeproof.agent.storage"'* || "$out" == *'"error":'* || "$out" != *'"iops":'* ]]; then
      say "FAIL: the storage agent in the image did not measure: $out $(tail -n1 "$WORK/storage.err")"
      return 1
    fi
    say "the storage agent measured the volume as uid 65534 (fio, libaio, direct I/O)"
  fi
  say "ok: imports with ctr -n k8s.io, runs as 65534:65534"
}
for archive in "${ARCHIVES[@]}"; do
  check "$archive" || failures=$((failures + 1))
done
if [ "$failures" -gt 0 ]; then
  say "$failures of ${#ARCHIVES[@]} archives failed"
  exit 1
fi
say "${#ARCHIVES[@]} passed, 0 failed"
