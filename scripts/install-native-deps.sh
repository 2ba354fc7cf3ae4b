#!/usr/bin/env bash
# Installs what the native backend needs on Debian/Ubuntu (called by .ci/run; run as root or with
# sudo): a C compiler, make and python3 for node-gyp. With --openblas also OpenBLAS with its pthread
# build (libopenblas0-pthread, the one Debian's python3-torch uses), only needed for the optional
# comparison build (`npm run build:native -- --openblas`). With --cross also the ARM64 cross
# compiler and qemu-user, which run the NEON GEMM kernel's test (scripts/gemm-check.mjs --arch
# aarch64; CI uses it). Installs only what is missing; does nothing on a machine without apt-get
# (the TypeScript backend then runs).
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need=()
for arg in "$@"; do
  case "$arg" in
    --openblas) if command -v dpkg-query >/dev/null 2>&1; then
        for pkg in libopenblas-dev libopenblas0-pthread; do installed "$pkg" || need+=("$pkg"); done
      fi ;;
    # libc6-dev-arm64-cross is only recommended by the compiler, and apt-get skips it below
    --cross) command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
      command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user) ;;
    *) echo "install-native-deps: unknown option $arg (expected --openblas or --cross)" >&2; exit 2 ;;
  esac
done
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-native-deps: nothing to install"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-native-deps: no apt-get here; install ${need[*]} by hand for the native backend" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-native-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
