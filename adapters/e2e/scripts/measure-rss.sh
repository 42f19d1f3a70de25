#!/usr/bin/env bash
# Peak RSS of the tussi server (tokio) while 100 clients each upload 10 MiB in one PATCH, at once.
# A measurement, not a test: prints the figures. usage: adapters/e2e/scripts/measure-rss.sh [CONCURRENCY] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/../../.."
concurrency=${1:-100}
size=${2:-10485760}
cargo build -q --release -p tus-tokio --example tokio-serve
cargo build -q --release -p tussi-e2e --example load
work=$(mktemp -d)
cp target/release/examples/tokio-serve "$work/serve-tokio"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/serve-tokio" --host 127.0.0.1 --port "$port" --upload-dir "$work/uploads" --completed-dir "$work/done" \
    --max-size 1073741824 ${BATCH_SIZE:+--batch-size $BATCH_SIZE} ${BATCH_MEMORY:+--batch-memory $BATCH_MEMORY} 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q serving "$work/server.log" && break; sleep 0.1; done
echo "server pid $pid, idle RSS: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
target/release/examples/load "http://127.0.0.1:$port/files/" "$concurrency" "$size"
echo "peak RSS (VmHWM) after $concurrency concurrent uploads of $size B: $(awk '/VmHWM/{print $2, $3}' /proc/$pid/status)"
echo "finished uploads on disk: $(find "$work/done" -maxdepth 1 -type f ! -name '*.meta' | wc -l)"
