#!/usr/bin/env bash
# The static musl build against the glibc one: the same fenn serving the SDK
# hello on /hello, both measured with wrk in the same run (alternating, 3
# rounds each, medians): throughput at 64 connections, p50 at 1 connection,
# RSS after load, binary size. Needs cargo-zigbuild (pip install ziglang
# cargo-zigbuild) for the musl build.
#
#   triggers/http/benches/musl.sh [seconds per run, default 8]
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-8}

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin fenn
cargo zigbuild --release --quiet --bin fenn --target x86_64-unknown-linux-musl
GNU=target/release/fenn
MUSL=target/x86_64-unknown-linux-musl/release/fenn

. triggers/http/benches/common.sh

start glibc "$GNU" serve --listen 127.0.0.1:0; GNU_URL=$URL/hello?name=Jason; GNU_PID=$PID
start musl "$MUSL" serve --listen 127.0.0.1:0; MUSL_URL=$URL/hello?name=Jason; MUSL_PID=$PID
[ "$(curl -s "$GNU_URL")" = "$(curl -s "$MUSL_URL")" ] || { echo "answers differ" >&2; exit 1; }

p50() { local p50 _; read -r p50 _ <<<"$(latency "$1")"; echo "$p50"; }

declare -a gt mt gl ml
for round in 1 2 3; do
    gt+=("$(throughput "$GNU_URL")"); mt+=("$(throughput "$MUSL_URL")")
    gl+=("$(p50 "$GNU_URL")"); ml+=("$(p50 "$MUSL_URL")")
done
G=$(printf '%s\n' "${gt[@]}" | median); M=$(printf '%s\n' "${mt[@]}" | median)
GL=$(printf '%s\n' "${gl[@]}" | median); ML=$(printf '%s\n' "${ml[@]}" | median)
awk -v g="$G" -v m="$M" -v a="$GL" -v b="$ML" 'BEGIN {
    printf "/hello at 64 connections: glibc %s req/s, musl %s req/s: %.2fx\n", g, m, m/g
    printf "1 connection p50: glibc %.0f us, musl %.0f us\n", a, b
}'
echo "RSS after load: glibc $(rss_kb "$GNU_PID") kB, musl $(rss_kb "$MUSL_PID") kB"
echo "binary: glibc $(stat -c %s "$GNU") bytes, musl $(stat -c %s "$MUSL") bytes (static)"
