#!/usr/bin/env bash
# `make bench`: chute's throughput and latency figures on this machine, in order:
#   0. (and again at the end) the machine's speed with work that owes nothing to chute: sorting
#      keys on one core and on all, 4 KiB fsyncs, small file creations, the hypervisor's steal;
#      so host drift between two runs shows beside the figures (`make bench-compare` prints
#      it first),
#   1. the engine's ceiling per input: its rows as Arrow batches straight into a fresh embedded
#      store (k6 samples; the rows of each wrk case's body: OTLP logs, traces, metrics, remote
#      write, NDJSON events),
#   2. `chute import` of a generated 5,000,000-sample k6 JSON file,
#   3. chute serve under the load generator (InfluxDB writes as k6 sends them), with the spool
#      on, the spool off, and a null store (the receive path alone); then each other input with
#      the spool on (the captured OTLP logs, traces and metrics bodies and remote-write bodies,
#      replayed as they are, with 16 or 32 connections; generated NDJSON events, 1,000 a
#      request): its sustained peak, and latency at 70% of it,
#   4. wrk with one captured fixture body per request (OTLP logs, traces and metrics, remote
#      write; and a generated NDJSON body of 1,000 events), 2 threads, 16 connections, 20 s after
#      a 5 s warm-up: the benchmark peers were measured with; then OTLP logs and remote write
#      again into the null store (spool on): the receive path alone, as the peer's figures were
#      measured into a blackhole (events cannot run there: their decoder asks the store for the
#      table's columns).
# Prints the table beside the machine's description and writes everything to
# bench-results/<timestamp>.json (compare two with `make bench-compare A.json B.json`).
# Sized to finish within 15 minutes on a 2-core machine. Environment knobs:
#   BENCH_ROWS (k6 ceiling rows, 2000000), BENCH_INPUT_ROWS (the other ceilings, 1000000),
#   BENCH_SAMPLES (import samples, 5000000),
#   BENCH_DURATION (open-model measurement, 20s), BENCH_PEAK_DURATION (each closed run, 10s),
#   BENCH_CONNECTIONS (peak search, "4,8"), BENCH_ROWS_PER_REQUEST (5000),
#   BENCH_REPLAY_CONNECTIONS (peak search of the replayed bodies, "16,32").
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
BIN=target/release/chute
ROWS=${BENCH_ROWS:-2000000}
INPUT_ROWS=${BENCH_INPUT_ROWS:-1000000}
SAMPLES=${BENCH_SAMPLES:-5000000}
DURATION=${BENCH_DURATION:-20s}
PEAK_DURATION=${BENCH_PEAK_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-4,8}
ROWS_PER_REQUEST=${BENCH_ROWS_PER_REQUEST:-5000}
REPLAY_CONNECTIONS=${BENCH_REPLAY_CONNECTIONS:-16,32}

started=$(date +%s)
echo "bench: building the release binary"
$CARGO build --release --bin chute

stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=bench-results/work
steps=$(mktemp -d)
trap 'rm -rf "$steps"' EXIT
mkdir -p "$work"
# Nothing from the caller's chute configuration leaks into the measurements.
unset CHUTE_CONFIG
for v in $(env | grep -o '^CHUTE_[A-Z_]*' || true); do unset "$v"; done

echo
echo "bench: the machine's speed (sorting, fsync, steal) before the steps"
"$BIN" bench machine --when start --dir "$work" --json >"$steps/0-machine-start.json"

echo
echo "bench 1/4: engine ceiling, $ROWS k6 rows, then $INPUT_ROWS rows of each other input"
"$BIN" bench ceiling --rows "$ROWS" --shape k6 --dir "$work" --json >"$steps/1-ceiling.json"
inputs="otlp-logs otlp-traces otlp-metrics remote-write events"
for input in $inputs; do
  "$BIN" bench ceiling --rows "$INPUT_ROWS" --shape "$input" --fixtures fixtures --dir "$work" --json \
    >"$steps/1-ceiling-$input.json"
done

echo
echo "bench 2/4: k6 import, $SAMPLES samples"
"$BIN" bench k6-import --samples "$SAMPLES" --dir "$work" --json >"$steps/2-k6-import.json"

echo
echo "bench 3/4: end to end, influx; spool on, spool off, null store"
"$BIN" bench e2e --protocol influx --variants spool,no-spool,null --duration "$DURATION" \
  --peak-duration "$PEAK_DURATION" --connections "$CONNECTIONS" --rows-per-request "$ROWS_PER_REQUEST" \
  --dir "$work" --json >"$steps/3-e2e.json"
echo "bench 3/4: end to end, each other input (spool on)"
for input in $inputs; do
  case $input in
    events) conns=$CONNECTIONS; rows=1000 ;;
    *) conns=$REPLAY_CONNECTIONS; rows=$ROWS_PER_REQUEST ;;
  esac
  "$BIN" bench e2e --protocol "$input" --variants spool --duration "$DURATION" \
    --peak-duration "$PEAK_DURATION" --connections "$conns" --rows-per-request "$rows" \
    --fixtures fixtures --dir "$work" --json >"$steps/3-e2e-$input.json"
done

echo
echo "bench 4/4: wrk, fixed fixture bodies (durable path into the embedded engine)"
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian package)"
  apt-get install -y wrk >/dev/null
fi
"$BIN" bench wrk --fixtures fixtures --dir "$work" --json >"$steps/4-wrk.json"
echo "bench 4/4: wrk again into the null store (the receive path alone, spool on)"
"$BIN" bench wrk --null-store --only otlp-logs,remote-write --fixtures fixtures --dir "$work" --json \
  >"$steps/4-wrk-null.json"

echo
echo "bench: the machine's speed after the steps"
"$BIN" bench machine --when end --dir "$work" --json >"$steps/5-machine-end.json"

echo
label=$(git rev-parse --short HEAD 2>/dev/null || true)
"$BIN" bench report "$steps"/0-machine-start.json "$steps"/5-machine-end.json "$steps"/1-ceiling.json $(for i in $inputs; do echo "$steps/1-ceiling-$i.json"; done) \
  "$steps"/2-k6-import.json "$steps"/3-e2e.json $(for i in $inputs; do echo "$steps/3-e2e-$i.json"; done) \
  "$steps"/4-wrk.json "$steps"/4-wrk-null.json \
  --out "bench-results/$stamp.json" ${label:+--label "$label"}
echo "bench: finished in $(( $(date +%s) - started )) s"
