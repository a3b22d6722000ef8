#!/usr/bin/env bash
# Records the protos of a release: builds proto/ into the image that scripts/check.sh checks every later change
# against with `buf breaking` (docs/protocol.md §6). Run it as part of cutting a release, then commit the image.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

image="proto/released/conductor-v1.binpb"
if [ -f "$image" ]; then
  # A release may add to the ABI, never break it: check against the previous release before replacing it.
  buf breaking --against "$image"
fi
buf build --exclude-source-info -o "$image"
echo "release-proto: wrote $image; commit it with the release" >&2
