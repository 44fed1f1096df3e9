#!/usr/bin/env bash
# `make run`: starts chute on the embedded engine with something real to look at: the k6 run
# recorded in fixtures/ is imported once, then chute keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/chute
DATA=${CHUTE_DEMO_DATA:-./chute-data}
# Not chute's own setting: chute refuses CHUTE_* variables that name no configuration key.
unset CHUTE_DEMO_DATA

"$BIN" --data-dir "$DATA" serve &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID' INT TERM
"$BIN" --data-dir "$DATA" status --wait 60 >/dev/null

# A real k6 run to look at (skipped if it is already there).
if "$BIN" --data-dir "$DATA" import fixtures/k6/basic-run/basic.k6.json.gz 2>/dev/null; then
  :
fi
echo
echo "A recorded k6 run is loaded. Look at it with:"
echo "  $BIN k6 runs"
echo "  $BIN k6 summary fixture-basic-001"
echo "  curl -s localhost:8086/api/v1/k6/runs/fixture-basic-001/summary?format=text"
echo "Stop with Ctrl-C (chute delivers what it holds, then exits)."
wait $PID
