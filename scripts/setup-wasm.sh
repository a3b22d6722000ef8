#!/usr/bin/env bash
# Installs what builds the WebAssembly example nodes (docs/webassembly.md): Debian's clang and lld with the WASI
# sysroot (wasi-libc), libc++ for wasm32 and the wasm32 compiler runtime, then builds the examples in
# examples/wasm. AssemblyScript comes from npm (a devDependency). Idempotent: installs only what is missing and
# rebuilds a module only when its source is newer.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages=(clang lld wasi-libc libc++-dev-wasm32 libclang-rt-dev-wasm32)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-wasm: missing ${missing[*]} and apt-get is not available; install clang, lld and a WASI sysroot with your package manager" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-wasm: missing ${missing[*]}; installing them needs root: run \`sudo bash scripts/setup-wasm.sh\`" >&2
    exit 1
  fi
  printf '\033[1msetup:\033[0m %s\n' "installing the WebAssembly toolchain (apt-get install ${missing[*]})" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash "$root/examples/wasm/build.sh"
