#!/usr/bin/env bash
# Containment benchmark, with the release binary and wrk, in one run:
#
# 1. Isolation: /hello's latency at one connection alone (the baseline),
#    then while 4 connections hammer an endless-loop function; and the
#    success rate of a well-behaved function needing about 1.5 M fuel (more
#    than the inline slice, so it needs a worker) at one connection during
#    the same attack.
# 2. Amplification: fenn's peak RSS (VmHWM) after each attack that used to
#    blow up the host's memory, against its RSS before them.
#
#   triggers/http/benches/isolation.sh [seconds per run, default 8]
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-8}

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin fenn
# The build compiles the guests in functions/ (runtime/fenn/build.rs).
misbehave=$PWD/functions/target/wasm32-unknown-unknown/release/misbehave.wasm

dir=$(mktemp -d)
cat >"$dir/fenn.toml" <<EOF
[server]
workers = 2

[[function]]
name = "hello"
module = "example:hello"
  [[function.http]]
  route = "/hello"

[[function]]
name = "runaway"
module = "$misbehave"
fuel = 1_000_000_000_000
timeout = "1s"
  [[function.http]]
  route = "/runaway/{what}"

[[function]]
name = "good"
module = "$misbehave"
  [[function.http]]
  route = "/good/{what}"

[[function]]
name = "amplify"
module = "$misbehave"
memory = "64MiB"
fuel = 10_000_000_000
timeout = "30s"
  [[function.http]]
  route = "/a/{what}"
  [[function.http]]
  route = "/e/{what}"
  response = "envelope"
EOF

out=$(mktemp)
target/release/fenn serve --config "$dir/fenn.toml" --listen 127.0.0.1:0 >"$out" 2>/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 500); do
    URL=$(grep -o 'http://[0-9.:]*' "$out" | head -1 || true)
    [ -n "$URL" ] && break
    sleep 0.01
done
[ "$(curl -s "$URL/good/work")" = worked ] || { echo "the good function does not answer" >&2; exit 1; }

latency() { # p50 p99 in microseconds at one connection
    wrk -t1 -c1 -d"${secs}s" --latency "$1" | awk '
        function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return (v+0)*1000; return (v+0)*1000000 }
        $1=="50%" {p50=us($2)} $1=="99%" {p99=us($2)} END {print p50, p99}'
}
success() { # "ok total" requests at one connection
    wrk -t1 -c1 -d"${secs}s" "$1" | awk '
        /requests in/ {total=$1} /Non-2xx/ {bad=$NF} END {print total-bad, total}'
}

read -r base50 base99 <<<"$(latency "$URL/hello")"
read -r good_ok good_all <<<"$(success "$URL/good/work")"
wrk -t2 -c4 -d"$((secs * 3))s" "$URL/runaway/loop" >/dev/null &
ATTACK=$!
sleep 1
read -r att50 att99 <<<"$(latency "$URL/hello")"
read -r under_ok under_all <<<"$(success "$URL/good/work")"
wait $ATTACK || true
awk -v a="$base50" -v b="$base99" -v c="$att50" -v d="$att99" 'BEGIN {
    printf "/hello at 1 connection: alone p50 %.0f us p99 %.0f us; with 4 connections on an endless loop p50 %.0f us p99 %.0f us (p99 %.2fx)\n", a, b, c, d, d/b
}'
awk -v o="$good_ok" -v t="$good_all" -v uo="$under_ok" -v ut="$under_all" 'BEGIN {
    printf "1.5M-fuel function at 1 connection: alone %d/%d ok; during the attack %d/%d ok (%.2f%%)\n", o, t, uo, ut, 100*uo/ut
}'

rss() { awk -v k="$1" '$1==k":" {print $2}' "/proc/$PID/status"; }
echo "RSS before the amplification attacks: $(($(rss VmRSS) / 1024)) MiB (peak so far $(($(rss VmHWM) / 1024)) MiB)"
attack() { # attack NAME PATH: the status and fenn's peak RSS after it
    local status
    status=$(curl -s -o /dev/null -w '%{http_code}' "$URL$2")
    echo "  $1: HTTP $status, peak RSS $(($(rss VmHWM) / 1024)) MiB"
}
attack "16 MiB JSON array body" "/a/jsonarray?kb=16384"
attack "25 000 headers" "/a/headers?n=25000"
attack "16 MiB of control bytes in an envelope" "/e/control?kb=16384"
attack "900 KiB of control bytes in an envelope" "/e/control?kb=900"
kill -0 $PID && echo "fenn still serving: $(curl -s "$URL/hello?name=after")"
