#!/usr/bin/env bash
# Builds the WebAssembly example nodes and the wasm runtime's test modules (docs/webassembly.md):
#   C and C++ with Debian's clang for wasm32-wasi (wasi-libc, libc++), as WASI reactors;
#   AssemblyScript with asc from npm.
# A module is rebuilt only when a source or this script is newer than it. Run by scripts/setup-wasm.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"
header=examples/wasm/include/conductor_node.h
# Debian installs libc++ for wasm32 under LLVM's own include directory, which clang does not search by default.
libcxx_include="$(ls -d /usr/lib/llvm-*/include/wasm32-wasi/c++/v1 2>/dev/null | sort -V | tail -n 1)"

stale() { # stale OUT SOURCE...: whether OUT is missing or older than a source
  local out="$1"
  shift
  [ -f "$out" ] || return 0
  for source in "$@" "${BASH_SOURCE[0]}"; do
    [ "$source" -nt "$out" ] && return 0
  done
  return 1
}

build_c() { # build_c OUT SOURCE
  if stale "$1" "$2" "$header"; then
    printf '\033[1msetup:\033[0m %s\n' "building $1 (clang, wasm32-wasi)" >&2
    clang --target=wasm32-wasi -O2 -mexec-model=reactor -o "$1" "$2"
  fi
}

build_cpp() { # build_cpp OUT SOURCE
  if stale "$1" "$2" "$header"; then
    printf '\033[1msetup:\033[0m %s\n' "building $1 (clang++, wasm32-wasi, libc++)" >&2
    clang++ --target=wasm32-wasi -O3 -std=c++17 -fno-exceptions -mexec-model=reactor -nostdinc++ \
      -isystem "$libcxx_include" -Wl,--strip-debug -o "$1" "$2"
  fi
}

build_assemblyscript() { # build_assemblyscript OUT SOURCE
  if stale "$1" "$2"; then
    printf '\033[1msetup:\033[0m %s\n' "building $1 (AssemblyScript)" >&2
    asc "$2" --runtime stub --optimize --outFile "$1"
  fi
}

build_cpp examples/wasm/nodes/checksum.wasm examples/wasm/nodes/checksum.cpp
build_c examples/wasm/nodes/increment.wasm examples/wasm/nodes/increment.c
build_assemblyscript examples/wasm/nodes/text-stats.wasm examples/wasm/nodes/text-stats.ts
build_c test/wasm/fixtures/faulty.wasm test/wasm/fixtures/faulty.c
build_c test/wasm/fixtures/no-abi.wasm test/wasm/fixtures/no-abi.c
