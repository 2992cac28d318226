#!/usr/bin/env bash
# The Echo Service on three nodes (issue 12): a nats-server, the relay on node a, the workers
# on node b, and the CLI on node c in this terminal. Logs of a and b go to $LOGS/a.log and
# $LOGS/b.log. Everything started here is stopped when the CLI ends.
#
#   ./run.sh                       # builds starling (release) if needed
#   STARLING=path/to/starling ./run.sh
#   PORT=4333 ./run.sh             # another NATS port
set -euo pipefail
cd "$(dirname "$0")"
PORT="${PORT:-4222}"
URL="nats://127.0.0.1:$PORT"
LOGS="${LOGS:-$(mktemp -d)}"
if [ -z "${STARLING:-}" ]; then
    cargo build --release --quiet --manifest-path ../../Cargo.toml
    STARLING=../../target/release/starling
fi
NATS_SERVER="$(command -v nats-server || echo /usr/sbin/nats-server)"
[ -x "$NATS_SERVER" ] || { echo "nats-server not found: apt-get install nats-server" >&2; exit 1; }

pids=()
# Nodes first, the server last, so the nodes can say goodbye.
cleanup() { for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done; }
trap cleanup EXIT

"$NATS_SERVER" -a 127.0.0.1 -p "$PORT" -js -sd "$LOGS/nats" >"$LOGS/nats.log" 2>&1 &
pids+=($!)
sleep 0.3
"$STARLING" run --node a --cluster "$URL" >"$LOGS/a.log" 2>&1 &
pids+=($!)
"$STARLING" run --node b --cluster "$URL" >"$LOGS/b.log" 2>&1 &
pids+=($!)
sleep 0.5
echo "nodes a and b running (logs in $LOGS); node c:" >&2
"$STARLING" run --node c --cluster "$URL" -x app:terminal/app:cli
