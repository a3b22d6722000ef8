#!/usr/bin/env bash
# Installs the Prometheus server the telemetry test starts against `conductor serve`: Debian's package, at
# /usr/bin/prometheus. The test runs its own instance on 127.0.0.1 with a temporary config and data directory; the
# package's service is not used. Idempotent: does nothing when it is there.
set -euo pipefail

if [ -x /usr/bin/prometheus ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-prometheus: /usr/bin/prometheus is missing and apt-get is not available; install Prometheus with your package manager" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-prometheus: /usr/bin/prometheus is missing; installing it needs root: run \`sudo bash scripts/setup-prometheus.sh\` (it runs apt-get install prometheus)" >&2
  exit 1
fi

printf '\033[1msetup:\033[0m %s\n' "installing Prometheus for the telemetry test (apt-get install prometheus)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if [ ! -x /usr/bin/prometheus ]; then
  echo "setup-prometheus: apt-get installed prometheus but /usr/bin/prometheus is still missing" >&2
  exit 1
fi
