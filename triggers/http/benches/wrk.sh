#!/usr/bin/env bash
# The gateway benchmark: fenn serving the SDK hello on /hello against a plain
# axum handler answering the same bytes, both measured with wrk in the same
# run (alternating, 2 rounds each, medians), on the same machine.
#
# Prints throughput at 64 connections, latency at 1 connection, the ratios,
# fenn's RSS idle and after load, and the binary size.
#
#   triggers/http/benches/wrk.sh [seconds per run, default 8]
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-8}

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin fenn
cargo build --release --quiet -p fenn-http --example plain_hello

. triggers/http/benches/common.sh

start plain target/release/examples/plain_hello 127.0.0.1:0
PLAIN_URL=$URL/hello
start fenn target/release/fenn serve --listen 127.0.0.1:0
FENN_URL=$URL/hello?name=Jason
FENN_PID=$PID
[ "$(curl -s "$FENN_URL")" = "$(curl -s "$PLAIN_URL")" ] || { echo "answers differ" >&2; exit 1; }
idle_rss=$(rss_kb "$FENN_PID")


declare -a pt ft p50p p50f p99p p99f
for round in 1 2; do
    pt+=("$(throughput "$PLAIN_URL")"); ft+=("$(throughput "$FENN_URL")")
    read -r a b <<<"$(latency "$PLAIN_URL")"; p50p+=("$a"); p99p+=("$b")
    read -r a b <<<"$(latency "$FENN_URL")"; p50f+=("$a"); p99f+=("$b")
done
loaded_rss=$(rss_kb "$FENN_PID")

P=$(printf '%s\n' "${pt[@]}" | median); F=$(printf '%s\n' "${ft[@]}" | median)
P50P=$(printf '%s\n' "${p50p[@]}" | median); P50F=$(printf '%s\n' "${p50f[@]}" | median)
P99P=$(printf '%s\n' "${p99p[@]}" | median); P99F=$(printf '%s\n' "${p99f[@]}" | median)
awk -v p="$P" -v f="$F" -v a="$P50P" -v b="$P50F" -v c="$P99P" -v d="$P99F" 'BEGIN {
    printf "HTTP /hello, wrk, %s req/s plain axum vs %s req/s fenn at 64 connections: %.2fx\n", p, f, f/p
    printf "1 connection p50: plain %.0f us, fenn %.0f us (+%.0f us); p99: plain %.0f us, fenn %.0f us\n", a, b, b-a, c, d
}'
echo "fenn RSS: idle $((idle_rss / 1024)) MiB ($idle_rss kB), after load $((loaded_rss / 1024)) MiB ($loaded_rss kB)"
echo "fenn binary: $(stat -c %s target/release/fenn) bytes (x86_64, stripped)"
