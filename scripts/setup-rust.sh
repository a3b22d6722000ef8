#!/usr/bin/env bash
# Builds the Rust runtime (runtimes/rust) in release mode: the library crate and the two runtime binaries,
# conductor-example-runtime and conductor-conformance-runtime, under runtimes/rust/target/release/.
#
# Idempotent: cargo rebuilds only what changed, so a second run takes about a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
workspace="$root/runtimes/rust"

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup-rust: cargo is not installed or not on PATH; install the Rust toolchain (https://rustup.rs, Rust 1.88 or newer) and run this script again" >&2
  exit 1
fi

cd "$workspace"
# --locked: the committed Cargo.lock is the dependency set CI tests.
cargo build --release --locked --workspace --bins
echo "setup-rust: built $workspace/target/release/conductor-example-runtime and conductor-conformance-runtime"
