#!/usr/bin/env bash
# Every check CI runs, in order: lint, type-check, generated-code diff, proto lint and breaking-change check,
# the TypeScript test projects (unit, conformance, end-to-end, and install: the packed packages installed outside
# the repository, following docs/getting-started.md), the Python and Rust suites, and a quick benchmark smoke run.
# Assumes scripts/setup.sh ran (npm test runs both).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

step() { printf '\n\033[1mcheck:\033[0m %s\n' "$*" >&2; }

step "lint and format (biome)"
biome check --error-on-warnings .

step "type-check (tsc -b, and the tests)"
tsc -b
node scripts/bundle-cli.mjs
tsc -p tsconfig.tests.json
tsc -p host/debugger/tsconfig.json

step "generated code is up to date (buf generate, grpc_tools)"
bash scripts/generate.sh
if ! git diff --exit-code --stat -- sdk-ts/src/gen runtimes/python/src/conductor_runtime/gen docs/blueprint.schema.json \
  docs/project.schema.json; then
  echo "check: generated code differs from what is committed; run \`npm run generate\` and commit the result" >&2
  exit 1
fi

step "proto lint and breaking-change check against the last release (buf)"
buf lint
# Against the committed image of the released protos, not the previous commit: a break split over several commits
# (deprecate, then delete) is caught too, and CI clones need no tags. scripts/release-proto.sh updates the image.
buf breaking --against proto/released/conductor-v1.binpb

step "TypeScript tests (vitest: sdk, host, runtime-node, debugger, conformance, e2e, telemetry, fault, distributed, install)"
vitest run

step "Python runtime (ruff, pyright, pytest)"
(cd runtimes/python && .venv/bin/ruff check . && .venv/bin/ruff format --check . && pyright && .venv/bin/pytest -q)

step "Rust runtime (fmt, clippy, cargo test)"
(cd runtimes/rust && cargo fmt --check && cargo clippy --release --locked --all-targets -- -D warnings && cargo test --release --locked)

step "benchmark smoke run (asserts the benchmarks work, not how fast they are)"
node bench/dist/run-all.js --smoke

step "all checks passed"
