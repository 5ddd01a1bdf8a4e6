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

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # start BINARY: serves the bundled examples, sets URL and PID
    local out; out=$(mktemp)
    "$1" serve --listen 127.0.0.1:0 >"$out" 2>/dev/null &
    PID=$!; pids+=("$PID")
    for _ in $(seq 1 500); do
        URL=$(grep -o 'http://[0-9.:]*' "$out" | head -1 || true)
        [ -n "$URL" ] && return 0
        sleep 0.01
    done
    echo "$1 did not start" >&2; exit 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

start "$GNU"; GNU_URL=$URL/hello?name=Jason; GNU_PID=$PID
start "$MUSL"; MUSL_URL=$URL/hello?name=Jason; MUSL_PID=$PID
[ "$(curl -s "$GNU_URL")" = "$(curl -s "$MUSL_URL")" ] || { echo "answers differ" >&2; exit 1; }

throughput() { wrk -t2 -c64 -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
p50() { # microseconds at one connection
    wrk -t1 -c1 -d"${secs}s" --latency "$1" | awk '
        function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return (v+0)*1000; return (v+0)*1000000 }
        $1=="50%" {print us($2)}'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

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
