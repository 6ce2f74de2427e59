#!/usr/bin/env bash
# Builds the kubeproof agent images with no registry and no daemon, from Debian packages (air-gapped clusters):
#
#   scripts/build-agent-image.sh [--variant small|storage|all] [--binary PATH] [--out DIR]
#
#   small    net, dns, http and etcd agents: the runtime libraries and the stripped binary (no fio)
#   storage  the same plus fio (Debian's fio pulls in ceph, gluster and rdma libraries: ~100 MiB more)
#   all      both (the default)
#
# Output: $OUT/kubeproof-agent-<version>.oci.tar and $OUT/kubeproof-agent-storage-<version>.oci.tar (OUT defaults
# to build/), OCI image archives tagged <version>-<git short hash> (version from CMakeLists.txt). They load with
# `ctr -n k8s.io images import`, `k3s ctr images import`, `kind load image-archive`, or push with skopeo
# (docs/agent-image.md).
#
# How: mmdebstrap --variant=extract unpacks only the runtime packages and their dependencies (no shell, no apt,
# no dpkg: nothing in the pod but what the agents run), the binary is copied in stripped, and umoci writes the
# OCI layout with USER 65534:65534 and ENTRYPOINT ["kubeproof", "agent"]. Packages come from this machine's apt
# sources (KP_APT_SOURCES, default /etc/apt/sources.list.d/debian.sources, else a deb.debian.org mirror).
# Idempotent: every run starts from an empty work folder and overwrites the archives.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

VARIANT=all
BINARY=build/kubeproof
OUT=build
while [ $# -gt 0 ]; do
  case "$1" in
    --variant) VARIANT=${2:-}; shift 2 ;;
    --binary) BINARY=${2:-}; shift 2 ;;
    --out) OUT=${2:-}; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-agent-image: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
  esac
done
case "$VARIANT" in
  small|storage|all) ;;
  *) echo "build-agent-image: --variant: must be small, storage or all, got \"$VARIANT\"" >&2; exit 2 ;;
esac

die() { echo "build-agent-image: $*" >&2; exit 4; }
need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "build-agent-image: $1 is missing: apt-get install $2" >&2
    exit 2
  }
}
need mmdebstrap mmdebstrap
need umoci umoci
need strip binutils
need ldconfig libc-bin
need python3 python3
need git git
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap unpacks packages owned by root; try sudo)"
[ -x "$BINARY" ] || die "--binary: no executable at \"$BINARY\" (run \`make build\` first)"

# The image holds this host's Debian packages and the binary built here: the host's architecture, by the OCI
# (GOARCH) name that runtimes match and that kubeproof's agent pods select as kubernetes.io/arch.
case "$(dpkg --print-architecture)" in
  amd64) ARCH=amd64 ;;
  arm64) ARCH=arm64 ;;
  armhf|armel) ARCH=arm ;;
  ppc64el) ARCH=ppc64le ;;
  s390x) ARCH=s390x ;;
  riscv64) ARCH=riscv64 ;;
  i386) ARCH=386 ;;
  *) die "no OCI architecture name for Debian architecture $(dpkg --print-architecture)" ;;
esac

VERSION=$(sed -n 's/^project(kubeproof VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$VERSION" ] || die "CMakeLists.txt: no \`project(kubeproof VERSION x.y.z\` line"
HASH=$(git rev-parse --short=7 HEAD 2>/dev/null) || die "not a git checkout: the tag needs the commit hash"
TAG="$VERSION-$HASH"
if ! git diff --quiet HEAD 2>/dev/null; then
  echo "build-agent-image: warning: the work tree has uncommitted changes; the tag $TAG names the commit only" >&2
fi
if ! "$BINARY" version 2>/dev/null | grep -q "kubeproof $VERSION"; then
  die "--binary: \"$BINARY\" does not say \`kubeproof $VERSION\` (\`$BINARY version\`): rebuild it"
fi

SOURCES=${KP_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}
if [ ! -r "$SOURCES" ]; then
  SOURCES=""
fi

# Runtime libraries of the binary (objdump -p build/kubeproof | grep NEEDED, mapped with dpkg -S); apt adds
# their dependencies.
SMALL_PACKAGES=libc6,libstdc++6,libgcc-s1,libcurl4,libssl3,liburing2,libfmt9,libyaml-cpp0.7,libgrpc++1.51,libprotobuf32
STORAGE_PACKAGES=$SMALL_PACKAGES,fio

WORK=$OUT/agent-image
mkdir -p "$WORK"
STRIPPED=$WORK/kubeproof
# The image's binary has no debug info (145 MB -> ~5 MB); build/kubeproof keeps it.
strip --strip-unneeded -o "$STRIPPED" "$BINARY"

build_variant() {
  local name=$1 packages=$2 image=$3
  local dir=$WORK/$name
  local rootfs=$dir/rootfs layout=$dir/oci bundle=$dir/bundle
  local archive=$OUT/$image-$VERSION.oci.tar
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "build-agent-image: $name: unpacking $packages" >&2
  local log=$dir/mmdebstrap.log
  local mirror_args=()
  if [ -n "$SOURCES" ]; then
    mirror_args=(- )
  else
    mirror_args=(http://deb.debian.org/debian)
  fi
  if ! mmdebstrap --variant=extract --include="$packages" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/lintian/*' \
      bookworm "$rootfs" "${mirror_args[@]}" < "${SOURCES:-/dev/null}" > "$log" 2>&1; then
    die "$name: mmdebstrap failed (its log: $log): $(grep -m1 '^E:' "$log" || tail -n1 "$log")"
  fi
  # Trim what a pod never reads: docs, man pages, locales, apt's lists and caches, dpkg's package lists.
  rm -rf "$rootfs"/usr/share/{doc,man,info,locale,lintian,bug} "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/* "$rootfs"/var/log/* "$rootfs"/etc/apt "$rootfs"/dev/*
  # fio's package depends on python3 and (through ceph and init-system-helpers) perl for its helper scripts; the
  # fio binary links neither (the fio --version check below would fail if it did): ~100 MB less.
  rm -rf "$rootfs"/usr/lib/python3* "$rootfs"/usr/bin/python3* "$rootfs"/usr/share/python3 \
    "$rootfs"/usr/share/perl "$rootfs"/usr/share/perl5 "$rootfs"/usr/lib/x86_64-linux-gnu/perl \
    "$rootfs"/usr/lib/x86_64-linux-gnu/perl5 "$rootfs"/usr/lib/x86_64-linux-gnu/perl-base "$rootfs"/usr/bin/perl*
  install -D -m 0755 "$STRIPPED" "$rootfs/usr/local/bin/kubeproof"
  # The non-root user the pods run as (nobody, 65534), named so `id` and error messages have a name for it.
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
    > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  mkdir -p "$rootfs/tmp" && chmod 1777 "$rootfs/tmp"
  # No maintainer scripts ran (extract variant): make the loader's cache here, for the multiarch library folders.
  ldconfig -r "$rootfs"
  if ! chroot --userspec=65534:65534 "$rootfs" /usr/local/bin/kubeproof version > /dev/null 2> "$dir/check.log"; then
    die "$name: the binary does not run in the image's root filesystem: $(head -n1 "$dir/check.log")"
  fi
  if [ "$name" = storage ] && ! chroot --userspec=65534:65534 "$rootfs" fio --version > /dev/null 2>&1; then
    die "$name: fio does not run in the image's root filesystem"
  fi

  umoci init --layout "$layout"
  umoci new --image "$layout:$TAG"
  umoci unpack --image "$layout:$TAG" "$bundle" > /dev/null
  rm -rf "$bundle/rootfs"
  mv "$rootfs" "$bundle/rootfs"
  unpacked_mb=$(du -sm "$bundle/rootfs" | cut -f1)
  umoci repack --image "$layout:$TAG" "$bundle"
  umoci config --image "$layout:$TAG" --os linux --architecture "$ARCH" \
    --author "kubeproof scripts/build-agent-image.sh" \
    --config.user 65534:65534 --config.workingdir /tmp \
    --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env TMPDIR=/tmp \
    --config.entrypoint kubeproof --config.entrypoint agent --clear config.cmd \
    --config.label org.opencontainers.image.title="$image" \
    --config.label org.opencontainers.image.version="$TAG" \
    --config.label org.opencontainers.image.revision="$(git rev-parse HEAD)" \
    --config.label org.opencontainers.image.source=kubeproof \
    --config.label io.kubeproof.variant="$name"
  umoci gc --layout "$layout"
  # containerd names an imported OCI image by io.containerd.image.name; the kubelet asks for the normalized
  # reference of the pod's image (kubeproof-agent:TAG -> docker.io/library/kubeproof-agent:TAG).
  python3 - "$layout/index.json" "$image" "$TAG" <<'EOF'
import json, sys
path, image, tag = sys.argv[1:4]
with open(path) as f:
    index = json.load(f)
for manifest in index["manifests"]:
    notes = manifest.setdefault("annotations", {})
    if notes.get("org.opencontainers.image.ref.name") == tag:
        notes["io.containerd.image.name"] = f"docker.io/library/{image}:{tag}"
with open(path, "w") as f:
    json.dump(index, f, separators=(",", ":"))
EOF
  rm -rf "$bundle"
  rm -f "$archive"
  tar --sort=name --owner=0 --group=0 --numeric-owner -C "$layout" -cf "$archive" .
  rm -rf "$dir"  # the layout is in the archive; the root file system was moved into it
  local size
  size=$(du -m "$archive" | cut -f1)
  echo "build-agent-image: $name: $archive (${size} MB compressed, ${unpacked_mb} MB unpacked), image $image:$TAG"
}

case "$VARIANT" in
  small) build_variant small "$SMALL_PACKAGES" kubeproof-agent ;;
  storage) build_variant storage "$STORAGE_PACKAGES" kubeproof-agent-storage ;;
  all)
    build_variant small "$SMALL_PACKAGES" kubeproof-agent
    build_variant storage "$STORAGE_PACKAGES" kubeproof-agent-storage
    ;;
esac
