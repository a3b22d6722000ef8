#!/usr/bin/env bash
# Installs the browser the visual debugger's end-to-end test drives: Debian's Chromium at /usr/bin/chromium
# (playwright-core drives it; no browser is ever downloaded by a tool). Idempotent: does nothing when it is there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: /usr/bin/chromium is missing and apt-get is not available; install Chromium with your package manager" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-browser: /usr/bin/chromium is missing; installing it needs root: run \`sudo bash scripts/setup-browser.sh\` (it runs apt-get install chromium)" >&2
  exit 1
fi

printf '\033[1msetup:\033[0m %s\n' "installing Chromium for the debugger's browser test (apt-get install chromium)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "setup-browser: apt-get installed chromium but /usr/bin/chromium is still missing" >&2
  exit 1
fi
