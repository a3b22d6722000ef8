#!/usr/bin/env bash
# Prepares the Python runtime for development and tests: creates runtimes/python/.venv and installs
# conductor-runtime into it (editable, with the data and dev extras).
#
# Idempotent and fast when nothing changed: the venv is created only when missing, and pip runs only when
# runtimes/python/pyproject.toml differs from the one of the last successful install (its SHA-256 is kept in a
# stamp file inside the venv). Set PYTHON to choose the interpreter (default: python3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="$root/runtimes/python"
venv="$package/.venv"
stamp="$venv/.conductor-pyproject.sha256"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup-python: $python not found; the Python runtime needs Python 3.11 or newer on PATH (or set PYTHON)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  found="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo unknown)"
  echo "setup-python: $python is Python $found; the Python runtime needs 3.11 or newer (set PYTHON to another one)" >&2
  exit 1
fi

# Two set-ups at once (say `npm run generate` beside `scripts/setup.sh`) would build the same venv together and
# break it: the second waits for the first, then finds everything in place.
mkdir -p "$package"
exec 9>"$package/.venv.lock"
flock 9

# A venv whose interpreter no longer runs (moved, or its base Python removed) is made again.
if [ -d "$venv" ] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
  echo "setup-python: $venv is broken; recreating it" >&2
  rm -rf "$venv"
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup-python: creating runtimes/python/.venv" >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi

want="$(sha256sum "$package/pyproject.toml" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  echo "setup-python: installing conductor-runtime[data,dev,telemetry] into runtimes/python/.venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$package[data,dev,telemetry]"
  echo "$want" >"$stamp"
fi
