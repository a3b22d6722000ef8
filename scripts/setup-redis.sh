#!/usr/bin/env bash
# Installs redis-server, which the distributed-execution tests start (their own, on 127.0.0.1, with a free port):
# Debian's package. Idempotent: does nothing when redis-server is there.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-redis: redis-server is missing and apt-get is not available; install Redis (6.2 or later) with your package manager" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-redis: redis-server is missing; installing it needs root: run \`sudo bash scripts/setup-redis.sh\` (it runs apt-get install redis-server)" >&2
  exit 1
fi

printf '\033[1msetup:\033[0m %s\n' "installing redis-server for the distributed-execution tests (apt-get install redis-server)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# Debian's package starts a system-wide server; the tests start their own, so it is not needed running.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup-redis: apt-get installed redis-server but it is still not on PATH" >&2
  exit 1
fi
