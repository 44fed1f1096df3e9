#!/usr/bin/env bash
# One-time (idempotent) set-up of everything chute needs on a fresh Debian 12 machine:
# the embedded ClickHouse engine (chDB wheel) and Python packages used by tests, in a
# project-local .venv; the Debian packages the engine and the tests need.
# Nothing here is meant to be installed by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

CHDB_VERSION="26.9.0"
VENV=".venv"
STAMP="$VENV/.chute-setup-v1"

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
# libpython: the engine's Python stubs need a libpython3 shared library loaded first.
ls /usr/lib/*/libpython3.*.so.1.0 >/dev/null 2>&1 || need_apt+=(libpython3.11)
for p in "$@"; do have_pkg "$p" || need_apt+=("$p"); done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -f "$STAMP" ] && [ -f "$VENV/lib/python3.11/site-packages/chdb/_chdb.abi3.so" ]; then
  exit 0
fi
echo "setup: creating $VENV with chdb-core==$CHDB_VERSION (the embedded ClickHouse engine, ~180 MB download)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "chdb-core==$CHDB_VERSION"
"$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-test.txt
touch "$STAMP"
echo "setup: done"
