#!/usr/bin/env bash
# Installs the Redis server the queue tests start on a loopback port (test/queue.test.ts): Debian's
# redis-server. The test starts its own server process; the system service is not needed.
# Idempotent: does nothing when redis-server is already on PATH.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server already installed: $(redis-server --version)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends redis-server
# The package starts a system service where there is an init system; the tests do not use it.
$SUDO service redis-server stop >/dev/null 2>&1 || true
redis-server --version
