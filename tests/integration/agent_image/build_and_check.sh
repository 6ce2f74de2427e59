#!/usr/bin/env bash
# The ctest of the agent image: builds both archives from the binary under test (scripts/build-agent-image.sh,
# about a minute: Debian packages through apt) into the build folder, then proves they import into containerd
# and run as uid 65534 (scripts/check-agent-image.sh). Skips (77) with the reason when the image tools are not
# installed (scripts/install-deps.sh installs them) or the test does not run as root.
set -euo pipefail
BINARY=$1
OUT=$2
cd "$(dirname "$0")/../../.."
if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED: building and running images needs root"
  exit 77
fi
for tool in mmdebstrap umoci; do
  if ! command -v "$tool" > /dev/null; then
    echo "SKIPPED: $tool is not installed (apt-get install mmdebstrap umoci, or scripts/install-deps.sh)"
    exit 77
  fi
done
start=$(date +%s)
scripts/build-agent-image.sh --binary "$BINARY" --out "$OUT"
echo "build-agent-image took $(($(date +%s) - start)) s"
KP_AGENT_IMAGE_DIR=$OUT scripts/check-agent-image.sh
