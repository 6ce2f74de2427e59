#!/usr/bin/env bash
# Installs the Debian packages kubeproof needs, and only those that are missing. Idempotent: when everything is
# present it changes nothing and does not touch the network.
#
#   scripts/install-deps.sh           install what is missing (as root, or through sudo)
#   scripts/install-deps.sh --check   only report what is missing; exit 1 if anything is
#
# Add a package by adding it to one of the lists below (later issues add the local lab's services).
set -euo pipefail

# Compilers, build tools and libraries the build links against.
BUILD_PACKAGES=(
  g++
  cmake
  ninja-build
  make
  pkg-config
  libfmt-dev
  nlohmann-json3-dev
  libyaml-cpp-dev
  libcli11-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  libcurl4-openssl-dev
  libssl-dev
  # io_uring for the HTTP generator's second I/O backend (--io uring; epoll stays the fallback).
  liburing-dev
  libgrpc++-dev
  libprotobuf-dev
  protobuf-compiler
  protobuf-compiler-grpc
  libjs-chart.js
)

# Tools the tests run (xmllint validates the JUnit report; python3 runs the Kubernetes API server fixture;
# openssl makes the lab's and the fixture's throw-away certificates; chromium opens report.html headless; tmux
# is the terminal the live view's test reads).
# libjs-chart.js (above) is read at build time only: report.html inlines it.
TEST_PACKAGES=(
  libxml2-utils
  chromium
  tmux
  python3
  openssl
  # The agent image: built without a daemon (mmdebstrap, umoci) and checked in a private containerd with runc.
  mmdebstrap
  umoci
  containerd
  runc
  # The libFuzzer targets (make fuzz, tests/fuzz/): clang 19 is the first Debian clang that compiles libstdc++
  # 12's <expected>; libclang-rt-19-dev has its libFuzzer and sanitizer runtimes.
  clang-19
  libclang-rt-19-dev
)

# Services of the local lab (`kubeproof lab up`) and the integration tests.
SERVICE_PACKAGES=(
  etcd-server
  etcd-client
  unbound
  nginx
  fio
  iproute2
  nftables
)

ALL_PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${SERVICE_PACKAGES[@]}")

check_only=false
case "${1:-}" in
  "") ;;
  --check) check_only=true ;;
  -h | --help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "install-deps: unknown argument \"$1\" (use --check or no argument)" >&2
    exit 2
    ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: dpkg-query not found: this script installs Debian packages (Debian 12 or similar)" >&2
  exit 1
fi

missing=()
for package in "${ALL_PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#ALL_PACKAGES[@]} packages are installed"
  exit 0
fi

if $check_only; then
  echo "install-deps: missing: ${missing[*]}"
  exit 1
fi

run_as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    run_as_root=(sudo)
  else
    echo "install-deps: missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${run_as_root[@]}" apt-get update -q
"${run_as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
