#!/usr/bin/env bash
# Fan-out against Postfix's own client: Postfix's smtp-sink listens on a loopback port,
# smtp-source pushes N messages of SIZE bytes into it over CONNECTIONS reused connections
# (the sink's ceiling on this machine), then `tidings-bench` fans one posting out to N
# subscribers into the same sink with as many relay connections. Prints both rates and
# their ratio.
#
# Usage: scripts/postfix-compare.sh [N]   (from the source tree, after
#   cargo build --release -p tidings-testkit)
# Environment: CONNECTIONS (default 8), SIZE (20000), PORT (loopback port, 25025),
#   DATABASE_URL (a postgres:// URL; SQLite in a temporary file when unset),
#   TIDINGS_BENCH (the benchmark, target/release/tidings-bench), DKIM (the bench's --dkim modes, "none";
#   "none,rsa" adds an RSA-signed fan-out into the same sink).
# Needs the Debian package postfix for smtp-sink and smtp-source; to install it without
# configuring or starting a mail server:
#   echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
#   DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix
set -euo pipefail

N=${1:-10000}
CONNECTIONS=${CONNECTIONS:-8}
SIZE=${SIZE:-20000}
PORT=${PORT:-25025}
TIDINGS_BENCH=${TIDINGS_BENCH:-${CARGO_TARGET_DIR:-target}/release/tidings-bench}
DKIM=${DKIM:-none}

for tool in /usr/sbin/smtp-sink /usr/sbin/smtp-source; do
    [ -x "$tool" ] || { echo "$tool is missing: install the postfix package (see the top of $0)" >&2; exit 1; }
done
[ -x "$TIDINGS_BENCH" ] || { echo "$TIDINGS_BENCH is missing: cargo build --release -p tidings-testkit" >&2; exit 1; }

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# smtp-sink drops root privileges itself when told to; the backlog covers every connection.
user=$(id -u)
if [ "$user" = 0 ]; then as="-u nobody"; else as=""; fi
# shellcheck disable=SC2086
/usr/sbin/smtp-sink $as 127.0.0.1:"$PORT" 1024 &
sink=$!
out=$(mktemp)
trap 'kill "$sink" 2>/dev/null; rm -f "$out"' EXIT INT TERM
for _ in $(seq 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done

start=$(now)
/usr/sbin/smtp-source -d -s "$CONNECTIONS" -m "$N" -l "$SIZE" \
    -f poster@bench.example -t member@bench.example 127.0.0.1:"$PORT"
end=$(now)
source_rate=$(rate "$N" "$start" "$end")

TIDINGS_LOG=${TIDINGS_LOG:-warn} "$TIDINGS_BENCH" --subscribers "$N" --connections "$CONNECTIONS" --size "$SIZE" \
    --dkim "$DKIM" --relay-port "$PORT" ${DATABASE_URL:+--database-url "$DATABASE_URL"} | tee "$out"
tidings_rate=$(awk '/fan-out unsigned/ { print $5 }' "$out")

echo "smtp-source into smtp-sink: $N messages of $SIZE bytes, $CONNECTIONS connections: $source_rate messages/s"
echo "tidings fan-out into smtp-sink:                                     $tidings_rate deliveries/s"
awk -v t="$tidings_rate" -v s="$source_rate" 'BEGIN { printf "ratio tidings / smtp-source: %.0f %%\n", 100 * t / s }'
