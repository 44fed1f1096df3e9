#!/usr/bin/env bash
# One-time (idempotent) set-up of everything chute needs on a fresh Debian 12 machine:
# the embedded ClickHouse engine (chDB wheel) and Python packages used by tests, in a
# project-local .venv; the Debian packages the engine and the tests need.
# Nothing here is meant to be installed by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

CHDB_VERSION="26.9.0"
VENV=".venv"
# The stamp names the requirements it installed: a changed requirements file re-runs pip.
STAMP="$VENV/.chute-setup-$(cat scripts/requirements-test.txt | sha256sum | cut -c1-16)"

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
# libpython: the engine's Python stubs need a libpython3 shared library loaded first.
ls /usr/lib/*/libpython3.*.so.1.0 >/dev/null 2>&1 || need_apt+=(libpython3.11)
# prometheus: the remote write test runs Debian's binary itself (not the packaged service).
have_pkg prometheus || need_apt+=(prometheus)
# nats-server: the NATS JetStream tests and `chute bench nats` start one (never as a service).
have_pkg nats-server || need_apt+=(nats-server)
# openssl: the NATS TLS test makes its certificates with it.
have_pkg openssl || need_apt+=(openssl)
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
if [ ! -f "$VENV/lib/python3.11/site-packages/chdb/_chdb.abi3.so" ]; then
  echo "setup: creating $VENV with chdb-core==$CHDB_VERSION (the embedded ClickHouse engine, ~180 MB download)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "chdb-core==$CHDB_VERSION"
fi
echo "setup: installing the Python packages the tests drive chute with"
"$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-test.txt
rm -f "$VENV"/.chute-setup-*
touch "$STAMP"
echo "setup: done"
