#!/usr/bin/env bash
# Installs the Debian packages ganprobe uses when they are missing: the Fashion-MNIST data
# (dataset-fashion-mnist) and headless Chromium for the report's browser test.
# Needs root and apt-get; elsewhere it only says what is missing.
set -euo pipefail
need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "note: missing ${need[*]} (install with apt-get as root, or set GANPROBE_DATA)" >&2
fi
