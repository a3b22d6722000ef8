#!/usr/bin/env bash
# Sets up everything Conductor needs on a fresh machine, idempotently, and fast when it is all there:
#   1. npm dependencies (Node 24 comes with them, as the `node` package) when package-lock.json changed
#   2. the TypeScript build (incremental), and the bundle of the CLI
#   3. the Python runtime's virtual environment (scripts/setup-python.sh)
#   4. the Rust runtime's release build (scripts/setup-rust.sh)
#   5. clang for wasm32-wasi and the WebAssembly example nodes (scripts/setup-wasm.sh)
#   (and, only when missing, Chromium for the debugger's browser test and redis-server for the distributed tests)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

step() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  echo "setup: npm is not installed; install Node.js (any version >= 18 brings npm; Node 24 itself is installed by npm)" >&2
  exit 1
fi

lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.conductor-lock 2>/dev/null || true)" != "$lock_hash" ] || [ ! -x node_modules/.bin/node ]; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.conductor-lock
fi

node_version="$(node --version)"
case "$node_version" in
  v24.*) ;;
  *) echo "setup: expected Node 24 from node_modules/.bin, found $node_version" >&2; exit 1 ;;
esac

step "building TypeScript (tsc -b), and bundling the conductor command and the browser engine"
tsc -b
node scripts/bundle-cli.mjs
node scripts/browser-build.mjs

step "building the visual debugger"
bash scripts/setup-debugger.sh

step "Debian's Chromium for the browser test (only when missing)"
bash scripts/setup-browser.sh

step "Debian's Prometheus for the telemetry test (only when missing)"
bash scripts/setup-prometheus.sh
step "Debian's redis-server for the distributed-execution tests (only when missing)"
bash scripts/setup-redis.sh

step "the WebAssembly toolchain (clang for wasm32-wasi, only when missing) and the wasm example nodes"
bash scripts/setup-wasm.sh

step "preparing the Python runtime"
bash scripts/setup-python.sh

step "building the Rust runtime (cargo build --release; the first build takes a few minutes)"
bash scripts/setup-rust.sh

step "ready"
