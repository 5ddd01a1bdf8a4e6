#!/usr/bin/env bash
# Two fenn binaries side by side in the same run, serving the bundled
# examples: /hello at 64 connections (req/s) and at 1 connection (p50, p99),
# alternating A B A B for ROUNDS rounds (medians), idle RSS after start,
# and the stripped size. For the cost of a change: build the commit before
# it into another target directory and pass both binaries.
#
#   triggers/http/benches/compare.sh OLD_FENN NEW_FENN [seconds per run, default 5] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/../../.."
A=$1 B=$2 secs=${3:-5} rounds=${4:-3}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
. triggers/http/benches/common.sh

start a "$A" serve --listen 127.0.0.1:0; URL_A=$URL/hello?name=Jason; PID_A=$PID
start b "$B" serve --listen 127.0.0.1:0; URL_B=$URL/hello?name=Jason; PID_B=$PID
[ "$(curl -s "$URL_A")" = "$(curl -s "$URL_B")" ] || { echo "answers differ" >&2; exit 1; }
# Idle: after the examples' first cron fire and MQTT attempts settle.
sleep 2
rss_a=$(rss_kb "$PID_A"); rss_b=$(rss_kb "$PID_B")

declare -a ta tb la lb
for _ in $(seq 1 "$rounds"); do
    ta+=("$(throughput "$URL_A")"); tb+=("$(throughput "$URL_B")")
    read -r p50 _ <<<"$(latency "$URL_A")"; la+=("$p50")
    read -r p50 _ <<<"$(latency "$URL_B")"; lb+=("$p50")
done
TA=$(printf '%s\n' "${ta[@]}" | median); TB=$(printf '%s\n' "${tb[@]}" | median)
LA=$(printf '%s\n' "${la[@]}" | median); LB=$(printf '%s\n' "${lb[@]}" | median)
strip_size() { local t; t=$(mktemp); strip -o "$t" "$1"; stat -c %s "$t"; rm -f "$t"; }
SA=$(strip_size "$A"); SB=$(strip_size "$B")
awk -v ta="$TA" -v tb="$TB" -v la="$LA" -v lb="$LB" -v ra="$rss_a" -v rb="$rss_b" -v sa="$SA" -v sb="$SB" \
    -v all_a="${ta[*]}" -v all_b="${tb[*]}" 'BEGIN {
    printf "| | A (%s) | B (%s) | B/A |\n|---|---|---|---|\n", ENVIRON["A_NAME"] ? ENVIRON["A_NAME"] : "old", ENVIRON["B_NAME"] ? ENVIRON["B_NAME"] : "new"
    printf "| /hello req/s, 64 connections (median; rounds %s / %s) | %.0f | %.0f | %.3f |\n", all_a, all_b, ta, tb, tb/ta
    printf "| /hello p50 at 1 connection (us) | %.0f | %.0f | %+.0f us |\n", la, lb, lb-la
    printf "| idle RSS (KiB) | %d | %d | %.3f |\n", ra, rb, rb/ra
    printf "| stripped size (bytes) | %d | %d | %.3f |\n", sa, sb, sb/sa
}'
