#!/usr/bin/env bash
# Builds the visual debugger (host/debugger, Vite) into host/debugger/dist, which `conductor serve` serves at /.
# Idempotent and fast when nothing changed: it rebuilds only when a hash of the debugger's sources, the host's and
# the sdk's (its page mode bundles the engine's core, the API client and generated API code), and the npm lock file
# differs from the one stamped in dist/ by the last build.
# Needs the npm dependencies (scripts/setup.sh installs them first).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

if [ ! -x node_modules/.bin/vite ]; then
  echo "setup-debugger: vite is not installed; run \`bash scripts/setup.sh\` (or \`npm ci\`) first" >&2
  exit 1
fi

stamp="host/debugger/dist/.build-hash"
hash="$(
  find host/debugger/src host/debugger/index.html host/debugger/vite.config.ts host/debugger/tsconfig.json \
    host/debugger/package.json host/src host/package.json sdk-ts/src sdk-ts/package.json package-lock.json \
    -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
)"
if [ -f host/debugger/dist/index.html ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$hash" ]; then
  exit 0
fi

printf '\033[1msetup:\033[0m %s\n' "building the visual debugger (host/debugger, vite build)" >&2
tsc -p host/debugger/tsconfig.json
(cd host/debugger && vite build --logLevel warn)
echo "$hash" > "$stamp"
