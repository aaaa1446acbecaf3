#!/usr/bin/env bash
# Measures what an inbound flood costs tidings: runs `tidings serve` on the shipped
# configuration (SQLite in a temporary directory, the relay at a closed loopback port so that
# nothing leaves), floods its SMTP listener with scripts/inbound-flood.py, and prints the
# daemon's peak resident memory and how much the database grew.
#
# Usage: scripts/inbound-flood.sh [CONNECTIONS [RCPTS [SIZE]]]   (defaults 200 100 10000000)
# Environment: TIDINGS (the binary, target/release/tidings), RECIPIENT (default
#   region-europe-owner@lists.example.org), SMTP_PORT (25250), HTTP_PORT (28080).
set -euo pipefail
cd "$(dirname "$0")/.."

TIDINGS=${TIDINGS:-${CARGO_TARGET_DIR:-target}/release/tidings}
RECIPIENT=${RECIPIENT:-region-europe-owner@lists.example.org}
SMTP_PORT=${SMTP_PORT:-25250}
HTTP_PORT=${HTTP_PORT:-28080}
[ -x "$TIDINGS" ] || { echo "$TIDINGS is missing: cargo build --release" >&2; exit 1; }

dir=$(mktemp -d)
export TIDINGS_DATABASE_URL="sqlite://$dir/tidings.db"
export TIDINGS_SERVER_SMTP_LISTEN="127.0.0.1:$SMTP_PORT"
export TIDINGS_SERVER_LMTP_LISTEN=""
export TIDINGS_SERVER_HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
# Port 9 (discard) is closed here: owner copies wait in the queue instead of leaving.
export TIDINGS_RELAY_PORT=9
export TIDINGS_LOG=${TIDINGS_LOG:-error}

"$TIDINGS" serve &
daemon=$!
trap 'kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
for _ in $(seq 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$SMTP_PORT") 2>/dev/null; then break; fi
    sleep 0.1
done
db_size() { du -sb "$dir" | cut -f1; }
rss() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$daemon/status"; }

before=$(db_size)
start_rss=$(rss VmRSS)
python3 scripts/inbound-flood.py 127.0.0.1 "$SMTP_PORT" "$RECIPIENT" "$@"
sleep 2
after=$(db_size)
echo "peak RSS: $(rss VmHWM) kB (at start: $start_rss kB)"
echo "database directory: $before bytes before, $after bytes after"
